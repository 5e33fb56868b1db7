// replica, consistency levels (PROTOCOL.md, "Consistency per operation").
//
// Contract of this part:
// - quorum(c): the replicas (this one included) an operation at level c needs, counted among
//   the voting members: local 1, majority n/2+1, all n.
// - A write at majority/all waits (write_waits_) until its batch is committed here and enough
//   voting peers are known (peer_vv_) to have applied its seq; check_write_waits() then replies.
// - A read at majority/all waits (read_waits_) for quorum-1 peer responses. finish_read() joins
//   them with the local states (leaving out dead dots, as join_state does), sends the joined
//   state to every responder whose state differs (read repair), joins it here and replies.
// - A view read (a big set's size, member or page) at majority/all asks for key vectors instead
//   (read_request::vector_only). Once quorum-1 peers answered, it is answered from this
//   replica's records as soon as vv_ covers every answered key vector: this replica has then
//   applied (or collected) every update of the key those peers have, so its view reflects them.
//   Meanwhile it pulls (sync_request) from the peers that are ahead; check_view_reads() looks
//   again at each step's end. No state travels, so there is no read repair on this path.
// - expire(now) (each tick): a write past its deadline is answered with a timeout (it stays
//   applied and still replicates); a read past its deadline finishes with a timeout; a repair
//   session without progress for recon_timeout_ms is dropped.

#include "replication/replica.hpp"

#include <algorithm>

#include "crdt/codec.hpp"
#include "replication/replica_internal.hpp"
#include "replication/set_records.hpp"
#include "replication/stored_value.hpp"

namespace rumor::replication {

using namespace detail;

size_t replica::quorum(consistency c) const {
  if (c == consistency::local) return 1;  // (counting the voters builds a list: not per update)
  size_t n = members_->voting_members().size();
  switch (c) {
    case consistency::local: return 1;
    case consistency::majority: return n / 2 + 1;
    case consistency::all: return n;
  }
  return 1;
}

void replica::check_write_waits() {
  for (auto it = write_waits_.begin(); it != write_waits_.end();) {
    write_wait& w = *it;
    for (auto& [peer, pvv] : peer_vv_)
      if (pvv.get(self_) >= w.seq) w.acked.insert(peer);
    size_t have = (w.local_committed ? 1 : 0);
    auto voters = members_->voting_members();
    for (node_id p : w.acked)
      if (p != self_ && std::find(voters.begin(), voters.end(), p) != voters.end()) ++have;
    if (w.local_committed && have >= w.needed) {
      ready_.replies.push_back(reply{w.request, {}, std::move(w.result), {}});
      it = write_waits_.erase(it);
    } else {
      ++it;
    }
  }
}

void replica::finish_read(read_wait& w, bool timed_out) {
  if (timed_out && w.view && w.responses.size() >= w.needed) {
    ready_.replies.push_back(reply{
        w.request,
        error{errc::timeout, "read of '" + w.key + "' reached " + std::to_string(w.responses.size() + 1) +
                                 " replicas (this one included), and this one had not applied every update of "
                                 "the key they have before the timeout"},
        {}, {}});
    return;
  }
  if (timed_out) {
    ready_.replies.push_back(reply{
        w.request,
        error{errc::timeout, "read of '" + w.key + "' reached " + std::to_string(w.responses.size() + 1) +
                                 " replicas (this one included) before the timeout; " +
                                 std::to_string(w.needed + 1) + " were required"},
        {}, {}});
    return;
  }
  auto local = read_all_types(w.key);
  if (!local) {
    ready_.replies.push_back(reply{w.request, local.err(), {}, {}});
    return;
  }
  // Join everything, then repair whoever was behind.
  std::map<std::string, loaded> joined;
  std::map<std::string, crdt::value> held_here;
  for (auto& s : *local)
    if (auto l = decode_record(s.value)) held_here.emplace(s.key, l->value);
  auto absorb = [&](const key_state& s, bool mine) {
    auto l = decode_record(s.value);
    if (!l) return;
    if (!mine) {
      // As in join_state: what this replica applied and no longer holds is dead.
      auto here = held_here.find(s.key);
      if (here == held_here.end() && l->kv.leq(vv_)) {
        ++stats_.stale_states;  // a copy of a key collected here (join_state)
        return;
      }
      kill(l->value, dead_dots(l->value, l->kv, vv_, here == held_here.end() ? nullptr : &here->second));
    }
    auto [it, fresh] = joined.emplace(s.key, *l);
    if (!fresh) {
      (void)it->second.value.join(l->value);
      it->second.kv.merge(l->kv);
    }
  };
  for (auto& s : *local) absorb(s, true);
  for (auto& [peer, states] : w.responses)
    for (auto& s : states) absorb(s, false);
  std::vector<key_state> full;
  for (auto& [k, l] : joined) full.push_back(key_state{k, encode_stored(l.kv, crdt::encode(l.value))});
  for (auto& [peer, states] : w.responses) {
    std::map<std::string, std::string> theirs;
    for (auto& s : states) theirs[s.key] = s.value;
    std::vector<key_state> repair;
    for (auto& s : full)
      if (theirs[s.key] != s.value) repair.push_back(s);
    if (!repair.empty()) send(peer, state_push{0, std::move(repair), {}, {}});
  }
  for (auto& s : full) join_state(s);
  std::vector<crdt::value> values;
  for (auto& [k, l] : joined) values.push_back(l.value);
  reply_now(reply{w.request, {}, {}, std::move(values)});
}

reply replica::local_read_reply(uint64_t request, std::string_view key, const set_view_request* view) const {
  if (view) {
    auto part = view_set(key, *view);
    if (!part) return reply{request, part.err(), {}, {}};
    if (*part) {
      reply r{request, {}, {}, {}};
      r.set = std::move(**part);
      return r;
    }
    auto window = view_map(key, *view);
    if (!window) return reply{request, window.err(), {}, {}};
    if (*window) return reply{request, {}, {}, {std::move(**window)}};
  }
  auto v = get(key);
  return v ? reply{request, {}, {}, std::move(*v)} : reply{request, v.err(), {}, {}};
}

result<version_vector> replica::key_vector(std::string_view user_key) const {
  auto states = read_all_types_raw(user_key);
  if (!states) return states.err();
  version_vector out;
  for (const auto& s : *states) {
    if (set_records::is_decomposed(s.value)) {
      auto h = set_records::decode_header(s.value);
      if (!h) return h.err();
      out.merge(h->kv);
    } else {
      auto d = decode_stored(s.value);
      if (!d) return d.err();
      out.merge(d->kv);
    }
  }
  return out;
}

bool replica::on_view_read_answer(read_wait& w, node_id from, const read_response& r) {
  if (w.responses.count(from)) return false;  // a duplicate
  w.responses[from] = {};
  if (r.vector_only) {
    w.need.merge(r.key_vector);
  } else {
    // A node before vector_only answered with its states: their key vectors say the same.
    for (const auto& s : r.values)
      if (auto d = decode_stored(s.value)) w.need.merge(d->kv);
  }
  if (w.responses.size() < w.needed) return false;
  if (w.need.leq(vv_)) {
    reply_now(local_read_reply(w.request, w.key, &*w.view));
    return true;
  }
  // Behind: pull what this replica lacks from the peers that answered (anti-entropy would bring
  // it too, a round later): all of them once the quorum is in, then each later one alone.
  if (w.responses.size() > w.needed) {
    send(from, sync_request{vv_});
    return false;
  }
  for (const auto& [peer, unused] : w.responses) send(peer, sync_request{vv_});
  return false;
}

void replica::check_view_reads() {
  for (auto it = read_waits_.begin(); it != read_waits_.end();) {
    if (it->view && it->responses.size() >= it->needed && it->need.leq(vv_)) {
      reply_now(local_read_reply(it->request, it->key, &*it->view));
      it = read_waits_.erase(it);
    } else {
      ++it;
    }
  }
}

void replica::expire(uint64_t now_ms) {
  for (auto it = write_waits_.begin(); it != write_waits_.end();) {
    if (now_ms < it->deadline) {
      ++it;
      continue;
    }
    size_t have = (it->local_committed ? 1 : 0) + it->acked.size();
    ready_.replies.push_back(reply{
        it->request,
        error{errc::timeout, "write " + std::to_string(it->seq) + " is durable on " + std::to_string(have) +
                                 " replica(s) (this one " + (it->local_committed ? "included" : "not yet") +
                                 "); " + std::to_string(it->needed) +
                                 " were required. It stays applied and will still replicate."},
        nullptr, is_window(it->result->value) ? std::vector<crdt::value>{} : std::vector<crdt::value>{it->result->value}});
    it = write_waits_.erase(it);
  }
  for (auto it = read_waits_.begin(); it != read_waits_.end();) {
    if (now_ms < it->deadline) {
      ++it;
      continue;
    }
    finish_read(*it, true);
    it = read_waits_.erase(it);
  }
  for (auto it = repairs_.begin(); it != repairs_.end();) {
    if (now_ms - it->second.last_progress_ms > config_.recon_timeout_ms) {
      it = repairs_.erase(it);
      continue;
    }
    // A set's request or its answer may be lost: sent again after a gossip interval without an
    // answer (a paged set would otherwise start over at every loss, and never finish under loss).
    bool failed = false;
    for (auto& [skey, sr] : it->second.sets) {
      if (now_ms - sr.sent_ms <= config_.gossip_interval_ms) continue;
      if (!send_set_recon(it->second, skey)) failed = true;
    }
    it = failed ? repairs_.erase(it) : std::next(it);
  }
}

}  // namespace rumor::replication
