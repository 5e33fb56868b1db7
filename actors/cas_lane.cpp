#include "actors/cas_lane.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "replication/wire_codec.hpp"

namespace rumor::actors {

using replication::node_id;

namespace {

// Placeholder id for the i-th voter address while no member advertises it (never answers).
node_id placeholder(size_t i) noexcept { return (uint64_t{0xCA5} << 52) | static_cast<uint64_t>(i); }

// Status preference when several members (old and new ids) advertise one address.
int rank(replication::member_status s) noexcept {
  switch (s) {
    case replication::member_status::alive: return 3;
    case replication::member_status::suspect: return 2;
    case replication::member_status::dead: return 1;
    case replication::member_status::left: return 0;
  }
  return 0;
}

}  // namespace

cas_lane::cas_lane(const persistence::store& store, std::vector<std::string> voters, replication::cas_config cfg,
                   uint64_t rng_seed)
    : store_(store), addresses_(std::move(voters)), cfg_(std::move(cfg)), seed_(rng_seed) {
  // Peers refuse larger values and keys on the wire (wire_codec.hpp).
  cfg_.max_value_bytes = std::min(cfg_.max_value_bytes, replication::max_cas_value_bytes);
  cfg_.voters.clear();
  for (size_t i = 0; i < addresses_.size(); ++i) cfg_.voters.push_back(placeholder(i));
  node_ = std::make_unique<replication::cas_node>(store_, cfg_, seed_);
}

status cas_lane::load() { return node_->load(); }

std::optional<std::string> cas_lane::resolve(const replication::membership& members, node_id self,
                                             const std::string& self_address) {
  if (!enabled()) return std::nullopt;
  auto snapshot = members.snapshot();
  std::vector<node_id> ids;
  for (size_t i = 0; i < addresses_.size(); ++i) {
    const std::string& a = addresses_[i];
    node_id id = placeholder(i);
    if (a == self_address) {
      id = self;
    } else {
      const replication::member_update* best = nullptr;
      for (const auto& m : snapshot) {
        if (m.address != a || m.id == self) continue;
        if (!best || std::make_pair(rank(m.status), m.incarnation) > std::make_pair(rank(best->status), best->incarnation))
          best = &m;
      }
      if (best) id = best->id;
    }
    ids.push_back(id);
  }
  if (ids == node_->voters()) return std::nullopt;
  node_->set_voters(ids);
  cfg_.voters = ids;
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!out.empty()) out += ", ";
    bool known = ids[i] != placeholder(i);
    out += addresses_[i] + (known ? fmt::format(" = {:016x}", ids[i]) : std::string(" (not yet seen)"));
  }
  return out;
}

void cas_lane::submit(const client::request& req, reply_fn reply, uint64_t now_ms) {
  auto answer = [&](errc code, std::string msg) {
    client::response r;
    r.id = req.id;
    r.code = code;
    r.message = std::move(msg);
    reply(std::move(r));
  };
  if (!enabled())
    return answer(errc::unavailable,
                  "the compare-and-set lane is not enabled on this node (start every node with the same "
                  "--cas-voters list)");
  if (node_->failed()) return answer(errc::unavailable, "the compare-and-set lane is recovering from a storage failure");
  auto bad_key = [](const std::string& key) -> std::optional<error> {
    if (key.empty()) return error{errc::invalid_argument, "the key is empty"};
    if (key.size() > replication::max_cas_key_bytes)
      return error{errc::too_large, "the key has " + std::to_string(key.size()) +
                                        " bytes; compare-and-set keys have at most " +
                                        std::to_string(replication::max_cas_key_bytes)};
    return std::nullopt;
  };
  uint64_t rid = next_request_++;
  if (const auto* c = std::get_if<client::cas>(&req.body)) {
    if (auto why = bad_key(c->key)) return answer(why->code, why->message);
    calls_.emplace(rid, waiting{req.id, c->key, std::move(reply)});
    node_->cas(rid, c->key, c->expected, c->value, now_ms, req.timeout_ms);
  } else if (const auto* g = std::get_if<client::lget>(&req.body)) {
    if (auto why = bad_key(g->key)) return answer(why->code, why->message);
    calls_.emplace(rid, waiting{req.id, g->key, std::move(reply)});
    node_->read(rid, g->key, now_ms, req.timeout_ms);
  } else {
    answer(errc::invalid_argument, "not a compare-and-set lane request");
  }
}

void cas_lane::receive(node_id from, const replication::cas_message& m, uint64_t now_ms) {
  if (enabled() && !node_->failed()) node_->receive(from, m, now_ms);
}

void cas_lane::tick(uint64_t now_ms) {
  if (enabled() && !node_->failed()) node_->tick(now_ms);
}

void cas_lane::committed(uint64_t last) {
  while (last_reported_ < last) {
    ++last_reported_;
    if (last_reported_ > batch_base_) node_->committed(last_reported_ - batch_base_);
  }
}

void cas_lane::fail_pending(const error& e) {
  auto calls = std::move(calls_);
  calls_.clear();
  for (auto& [rid, w] : calls) {
    client::response r;
    r.id = w.client_id;
    r.code = e.code;
    r.message = e.message;
    w.reply(std::move(r));
  }
}

status cas_lane::commit_failed(uint64_t batch, const error& e, uint64_t now_ms) {
  (void)now_ms;
  if (batch > batch_base_) node_->commit_failed(batch - batch_base_, e);
  fail_pending(error{errc::timeout, "storage failure in the compare-and-set lane (" + e.message +
                                        "); outcome unknown: read the key before retrying"});
  // Batches handed out before are committed or failed by the storage actor; their results must
  // not reach the new state machine.
  batch_base_ = last_sent_;
  last_reported_ = last_sent_;
  ++generation_;
  node_ = std::make_unique<replication::cas_node>(store_, cfg_, ++seed_);
  return node_->load();
}

void cas_lane::stop() {
  fail_pending(error{errc::timeout, "the node stopped before the compare-and-set operation completed; outcome unknown"});
}

cas_lane::effects cas_lane::take_effects(const replication::membership& members) {
  effects out;
  auto r = node_->take_ready();
  for (auto& b : r.batches) {
    last_sent_ = b.id + batch_base_;
    out.batches.push_back(replication::pending_batch{last_sent_, std::move(b.batch)});
  }
  for (auto& m : r.messages) out.messages.push_back(cas_envelope{m.to, members.address_of(m.to), std::move(m.msg)});
  for (auto& rp : r.replies) {
    auto it = calls_.find(rp.request);
    if (it == calls_.end()) continue;
    client::response resp;
    resp.id = it->second.client_id;
    if (!rp.result) {
      resp.code = rp.result.err().code;
      resp.message = rp.result.err().message;
    }
    if (rp.value) resp.values.push_back(client::key_value{it->second.key, *rp.value, {}});
    auto fn = std::move(it->second.reply);
    calls_.erase(it);
    fn(std::move(resp));
  }
  return out;
}

}  // namespace rumor::actors
