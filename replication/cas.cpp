#include "replication/cas.hpp"

#include <algorithm>
#include <utility>

#include "persistence/record_format.hpp"
#include "replication/storage_key.hpp"

namespace rumor::replication {

namespace {

constexpr std::string_view acceptor_prefix = "cas/a/";
constexpr uint8_t acceptor_format = 1;
// [u8 format][promised: u64 counter, u64 node][accepted: same][u8 lineage count]
// [count x (u64 counter, u64 node)][u8 has value][value bytes], integers little-endian
constexpr size_t acceptor_head_bytes = 1 + 4 * 8 + 1;

void put_ballot(std::string& out, const ballot& b) {
  out += persistence::encode_u64_le(b.counter);
  out += persistence::encode_u64_le(b.node);
}

ballot get_ballot(std::string_view bytes) {
  return ballot{persistence::decode_u64_le(bytes), persistence::decode_u64_le(bytes.substr(8))};
}

std::string describe(const ballot& b) {
  return "(" + std::to_string(b.counter) + ", " + std::to_string(b.node) + ")";
}

std::string quoted(std::string_view key) { return "'" + std::string(key) + "'"; }

}  // namespace

std::string cas_acceptor_meta_name(std::string_view key) {
  std::string name(acceptor_prefix);
  name.append(key);
  return name;
}

std::string encode_acceptor_state(const acceptor_state& s) {
  std::string out;
  size_t lineage = std::min(s.lineage.size(), cas_max_lineage);
  out.reserve(acceptor_head_bytes + 16 * lineage + 1 + (s.value ? s.value->size() : 0));
  out.push_back(static_cast<char>(acceptor_format));
  put_ballot(out, s.promised);
  put_ballot(out, s.accepted);
  out.push_back(static_cast<char>(lineage));
  for (size_t i = 0; i < lineage; ++i) put_ballot(out, s.lineage[i]);
  out.push_back(s.value ? 1 : 0);
  if (s.value) out += *s.value;
  return out;
}

result<acceptor_state> decode_acceptor_state(std::string_view bytes) {
  auto truncated = [&] {
    return error{errc::corrupt, "cas acceptor record of " + std::to_string(bytes.size()) + " bytes is truncated"};
  };
  if (bytes.size() < acceptor_head_bytes + 1) return truncated();
  if (static_cast<uint8_t>(bytes[0]) != acceptor_format)
    return error{errc::corrupt, "cas acceptor record of unknown format " + std::to_string(static_cast<uint8_t>(bytes[0]))};
  acceptor_state s;
  s.promised = get_ballot(bytes.substr(1));
  s.accepted = get_ballot(bytes.substr(17));
  size_t lineage = static_cast<uint8_t>(bytes[33]);
  if (lineage > cas_max_lineage) return error{errc::corrupt, "cas acceptor record: lineage too long"};
  if (bytes.size() < acceptor_head_bytes + 16 * lineage + 1) return truncated();
  for (size_t i = 0; i < lineage; ++i) s.lineage.push_back(get_ballot(bytes.substr(acceptor_head_bytes + 16 * i)));
  size_t at = acceptor_head_bytes + 16 * lineage;
  auto has = static_cast<uint8_t>(bytes[at]);
  std::string_view rest = bytes.substr(at + 1);
  if (has > 1) return error{errc::corrupt, "cas acceptor record: bad value flag"};
  if (has) s.value = std::string(rest);
  else if (!rest.empty()) return error{errc::corrupt, "cas acceptor record: trailing bytes"};
  if (s.accepted > s.promised) return error{errc::corrupt, "cas acceptor record: accepted above promised"};
  return s;
}

cas_node::cas_node(const persistence::store& store, cas_config config, uint64_t rng_seed)
    : store_(store), config_(std::move(config)), self_(store.node_id()), rng_(rng_seed) {}

status cas_node::load() {
  auto r = store_.get_meta(cas_ballot_meta_name);
  if (!r) return r.err();
  if (*r) {
    if ((*r)->size() != 8) return error{errc::corrupt, "meta 'cas/ballot' is not 8 bytes"};
    reserved_ = persistence::decode_u64_le(**r);
  }
  // Every counter used before a restart is below the durable reservation.
  counter_ = reserved_;
  return {};
}

// ---- client requests ----

void cas_node::cas(uint64_t request, std::string_view key, cas_value expected, cas_value desired,
                   uint64_t now_ms, uint64_t timeout_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  submit(request, key, op_kind::cas, std::move(expected), std::move(desired), timeout_ms);
  finish_step();
}

void cas_node::write(uint64_t request, std::string_view key, cas_value desired, uint64_t now_ms,
                     uint64_t timeout_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  submit(request, key, op_kind::write, std::nullopt, std::move(desired), timeout_ms);
  finish_step();
}

void cas_node::read(uint64_t request, std::string_view key, uint64_t now_ms, uint64_t timeout_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  submit(request, key, op_kind::read, std::nullopt, std::nullopt, timeout_ms);
  finish_step();
}

void cas_node::submit(uint64_t request, std::string_view key, op_kind kind, cas_value expected,
                      cas_value desired, uint64_t timeout_ms) {
  if (failed_) {
    ready_.replies.push_back({request, error{errc::unavailable, "cas lane failed a commit; restart the node"}, {}});
    return;
  }
  if (auto st = validate_user_key(key); !st) return reply_now({request, st.err(), {}});
  for (const cas_value* v : {&expected, &desired}) {
    if (*v && (*v)->size() > config_.max_value_bytes)
      return reply_now({request,
                        error{errc::too_large, "cas value of " + std::to_string((*v)->size()) +
                                                   " bytes; the limit is " + std::to_string(config_.max_value_bytes)},
                        {}});
  }
  if (config_.voters.empty()) {
    ++stats_.unavailable;
    return reply_now({request, error{errc::unavailable, "cas lane has no voters configured; not applied"}, {}});
  }
  op o;
  o.request = request;
  o.kind = kind;
  o.expected = std::move(expected);
  o.desired = std::move(desired);
  o.deadline = now_ms_ + (timeout_ms ? timeout_ms : config_.timeout_ms);
  auto it = ops_.find(key);
  if (it == ops_.end()) it = ops_.emplace(std::string(key), std::deque<op>{}).first;
  it->second.push_back(std::move(o));
  if (it->second.size() == 1) start_attempt(it->first, it->second.front());
}

void cas_node::receive(node_id from, const cas_message& m, uint64_t now_ms) {
  if (failed_) return;
  now_ms_ = std::max(now_ms_, now_ms);
  dispatch(from, m);
  finish_step();
}

void cas_node::tick(uint64_t now_ms) {
  if (failed_) return;
  now_ms_ = std::max(now_ms_, now_ms);
  std::vector<std::string> keys;
  keys.reserve(ops_.size());
  for (auto& [k, q] : ops_) keys.push_back(k);
  for (const std::string& key : keys) {
    auto it = ops_.find(key);
    if (it == ops_.end()) continue;
    expire(key, it->second);
    it = ops_.find(key);
    if (it == ops_.end()) continue;
    op& o = it->second.front();
    if (o.ph == phase::idle) {
      if (now_ms_ >= o.retry_at) start_attempt(key, o);
    } else if (now_ms_ - o.last_send >= config_.retransmit_ms) {
      broadcast(key, o, true);
    }
  }
  finish_step();
}

void cas_node::set_voters(std::vector<node_id> voters) {
  std::sort(voters.begin(), voters.end());
  voters.erase(std::unique(voters.begin(), voters.end()), voters.end());
  if (voters == config_.voters) return;
  config_.voters = std::move(voters);
  // A running attempt waits for the old list's ids, some of which may never answer (an address no
  // member advertised yet: right after a cluster starts, an operation failed with "no quorum"
  // while its voters were still being resolved). Start it again toward the new list at the next
  // tick, with a new ballot: a new attempt is always safe, it learns what a quorum accepted.
  for (auto& [key, q] : ops_) {
    op& o = q.front();
    if (o.ph == phase::idle || o.voters == config_.voters) continue;
    o.ph = phase::idle;
    o.retry_at = now_ms_;
  }
}

size_t cas_node::pending() const noexcept {
  size_t n = 0;
  for (const auto& [k, q] : ops_) n += q.size();
  return n;
}

// ---- step plumbing ----

void cas_node::finish_step() {
  end_step();
  pump();
}

// Turns this step's writes into a batch, and holds this step's messages and replies back until
// every batch so far (this step's included) is committed.
void cas_node::end_step() {
  if (!cur_.empty()) {
    uint64_t id = next_batch_id_++;
    ready_.batches.push_back({id, std::move(cur_)});
    cur_ = persistence::write_batch{};
    in_flight_.push_back({id, std::move(step_messages_), std::move(step_replies_)});
  } else if (!in_flight_.empty()) {
    held& h = in_flight_.back();
    for (auto& m : step_messages_) h.messages.push_back(std::move(m));
    for (auto& r : step_replies_) h.replies.push_back(std::move(r));
  } else {
    release(step_messages_, step_replies_);
  }
  step_messages_.clear();
  step_replies_.clear();
}

// Delivers this node's messages to itself (one step each), until none are left.
void cas_node::pump() {
  while (!loop_.empty() && !failed_) {
    cas_message m = std::move(loop_.front());
    loop_.pop_front();
    dispatch(self_, m);
    end_step();
  }
}

void cas_node::release(std::vector<cas_outgoing>& messages, std::vector<cas_reply>& replies) {
  for (auto& m : messages) {
    if (m.to == self_) loop_.push_back(std::move(m.msg));
    else ready_.messages.push_back(std::move(m));
  }
  for (auto& r : replies) ready_.replies.push_back(std::move(r));
}

void cas_node::send(node_id to, cas_message m) { step_messages_.push_back({to, std::move(m)}); }

void cas_node::reply_now(cas_reply r) { step_replies_.push_back(std::move(r)); }

void cas_node::dispatch(node_id from, const cas_message& m) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, cas_prepare>) on_prepare(from, x);
        else if constexpr (std::is_same_v<T, cas_accept>) on_accept(from, x);
        else if constexpr (std::is_same_v<T, cas_promise>) on_promise(from, x);
        else if constexpr (std::is_same_v<T, cas_accepted>) on_accepted(from, x);
        else on_nack(from, x);
      },
      m);
}

void cas_node::committed(uint64_t batch_id) {
  if (failed_) return;
  while (!in_flight_.empty() && in_flight_.front().batch_id <= batch_id) {
    held h = std::move(in_flight_.front());
    in_flight_.pop_front();
    release(h.messages, h.replies);
  }
  for (auto it = dirty_.begin(); it != dirty_.end();) {
    if (it->second.second <= batch_id) it = dirty_.erase(it);
    else ++it;
  }
  pump();
}

void cas_node::commit_failed(uint64_t, const error&) {
  failed_ = true;
  in_flight_.clear();
  loop_.clear();
}

cas_ready cas_node::take_ready() {
  cas_ready r = std::move(ready_);
  ready_ = cas_ready{};
  return r;
}

// ---- acceptor ----

result<acceptor_state> cas_node::acceptor(std::string_view key) const { return load_state(key); }

result<acceptor_state> cas_node::load_state(std::string_view key) const {
  if (auto it = dirty_.find(key); it != dirty_.end()) return it->second.first;
  auto r = store_.get_meta(cas_acceptor_meta_name(key));
  if (!r) return r.err();
  if (!*r) return acceptor_state{};
  return decode_acceptor_state(**r);
}

// The state goes into this step's batch; end_step gives that batch the id next_batch_id_.
void cas_node::persist_state(const std::string& key, const acceptor_state& s) {
  cur_.put_meta(cas_acceptor_meta_name(key), encode_acceptor_state(s));
  dirty_[key] = {s, next_batch_id_};
}

// What every acceptor message does first: note its ballot, forget our piggybacked promise on the
// key when another proposer shows up (it is likely lost), validate, and load the key's state.
// nullopt (counted as an acceptor error): drop the message.
std::optional<acceptor_state> cas_node::acceptor_input(const std::string& key, const ballot& b) {
  note_ballot(b);
  if (b.node != self_) prepared_.erase(key);
  if (b.is_zero() || !validate_user_key(key)) {
    ++stats_.acceptor_errors;
    return std::nullopt;
  }
  auto st = load_state(key);
  if (!st) {
    ++stats_.acceptor_errors;
    return std::nullopt;
  }
  return std::move(*st);
}

// Promise iff b >= promised (equal: a retransmitted prepare of the same attempt).
void cas_node::on_prepare(node_id from, const cas_prepare& m) {
  auto st = acceptor_input(m.key, m.b);
  if (!st) return;
  if (m.b < st->promised) {
    ++stats_.nacks;
    return send(from, cas_nack{m.key, m.b, st->promised});
  }
  if (m.b > st->promised) {
    st->promised = m.b;
    persist_state(m.key, *st);
  }
  ++stats_.promises;
  send(from, cas_promise{m.key, m.b, st->accepted, st->value, st->lineage});
}

// Accept iff b >= promised; accepting also promises b, or the proposer's `next` (CAS.md, "One round trip").
void cas_node::on_accept(node_id from, const cas_accept& m) {
  auto st = acceptor_input(m.key, m.b);
  if (!st) return;
  // The piggybacked promise: only a later ballot of the same proposer.
  ballot promise = m.b;
  if (!m.next.is_zero() && m.next > m.b && m.next.node == m.b.node) promise = m.next;
  if (m.b < st->promised) {
    // A retransmission of the accept we took, after which we promised its `next`: answer again.
    if (st->accepted == m.b && st->promised == promise) {
      ++stats_.accepts;
      return send(from, cas_accepted{m.key, m.b});
    }
    ++stats_.nacks;
    return send(from, cas_nack{m.key, m.b, st->promised});
  }
  if (st->promised != promise || st->accepted != m.b) {
    st->promised = promise;
    st->accepted = m.b;
    st->value = m.value;
    st->lineage = m.lineage;
    if (st->lineage.size() > cas_max_lineage) st->lineage.resize(cas_max_lineage);
    persist_state(m.key, *st);
  }
  ++stats_.accepts;
  send(from, cas_accepted{m.key, m.b});
}

// ---- proposer ----

void cas_node::note_ballot(const ballot& b) noexcept { seen_ = std::max(seen_, b.counter); }

// A ballot above every one this node has used or seen. Its counter is covered by the durable
// reservation before any message carrying it leaves (end_step holds messages behind the batch).
ballot cas_node::next_ballot() {
  uint64_t c = std::max(counter_, seen_) + 1;
  counter_ = c;
  if (c >= reserved_) {
    reserved_ = c + std::max<uint64_t>(config_.ballot_block, 1);
    cur_.put_meta(cas_ballot_meta_name, persistence::encode_u64_le(reserved_));
  }
  return ballot{c, self_};
}

cas_node::op* cas_node::active(const std::string& key, const ballot& b, phase ph) {
  auto it = ops_.find(key);
  if (it == ops_.end() || it->second.empty()) return nullptr;
  op& o = it->second.front();
  if (o.ph != ph || o.b != b) return nullptr;
  return &o;
}

void cas_node::start_attempt(const std::string& key, op& o) {
  if (o.attempts > 0) ++stats_.retries;
  ++o.attempts;
  ++stats_.attempts;
  if (auto p = prepared_.find(key); p != prepared_.end()) {
    prepared pr = std::move(p->second);
    prepared_.erase(p);  // a ballot serves one attempt only
    if (config_.piggyback_prepare && pr.voters == config_.voters) {
      // Phase 1 of pr.b is done (a quorum promised it when it accepted pr.accepted): go
      // straight to phase 2 with the value that quorum reported.
      ++stats_.fast_attempts;
      o.b = pr.b;
      o.voters = std::move(pr.voters);
      o.highest = pr.accepted;
      o.highest_value = std::move(pr.value);
      o.highest_lineage = std::move(pr.lineage);
      o.proposed.reset();
      o.proposed_lineage.clear();
      o.conflict = false;
      return decide(key, o);
    }
  }
  o.b = next_ballot();
  o.voters = config_.voters;
  o.acks.clear();
  o.nacks.clear();
  o.highest = ballot{};
  o.highest_value.reset();
  o.highest_lineage.clear();
  o.proposed.reset();
  o.proposed_lineage.clear();
  o.conflict = false;
  o.ph = phase::preparing;
  broadcast(key, o, false);
}

void cas_node::broadcast(const std::string& key, op& o, bool only_missing) {
  o.last_send = now_ms_;
  for (node_id v : o.voters) {
    if (only_missing && (o.acks.count(v) || o.nacks.count(v))) continue;
    if (only_missing) ++stats_.retransmits;
    if (o.ph == phase::preparing) send(v, cas_prepare{key, o.b});
    else send(v, cas_accept{key, o.b, o.proposed, o.proposed_lineage, o.next});
  }
}

void cas_node::on_promise(node_id from, const cas_promise& m) {
  note_ballot(m.b);
  note_ballot(m.accepted);
  op* o = active(m.key, m.b, phase::preparing);
  if (!o || std::find(o->voters.begin(), o->voters.end(), from) == o->voters.end()) return;
  if (!o->acks.insert(from).second) return;
  if (m.accepted > o->highest) {
    o->highest = m.accepted;
    o->highest_value = m.value;
    o->highest_lineage = m.lineage;
  }
  if (o->acks.size() >= quorum(*o)) decide(m.key, *o);
}

// A quorum promised o.b; o.highest is the highest accepted ballot among them, so its value is
// the register's current value, and its lineage the register's last transitions (CAS.md,
// "Safety"). Choose what to accept, or stop when this operation's own earlier accept may have
// taken effect and been superseded (CAS.md, "At most once").
void cas_node::decide(const std::string& key, op& o) {
  // Every proposal accepted from now on writes back the current value, or derives a new one.
  o.proposed = o.highest_value;
  o.proposed_lineage = o.highest_lineage;
  o.conflict = false;
  bool fresh = true;
  if (!o.effects.empty()) {
    const auto& lin = o.highest_lineage;
    ballot oldest_effect = *std::min_element(o.effects.begin(), o.effects.end());
    bool took_effect = std::any_of(o.effects.begin(), o.effects.end(), [&](const ballot& e) {
      return std::find(lin.begin(), lin.end(), e) != lin.end();
    });
    // The lineage reaches back past our first effect (or to the register's first write): had one
    // of our accepts been chosen, it would be listed.
    bool covered = lin.size() < cas_max_lineage || lin.back() < oldest_effect;
    if (took_effect) {
      // Our change is part of the register's history: applied exactly once. Write back the
      // current value (it may be ours or a successor) and report success.
      fresh = false;
    } else if (!covered && o.highest > oldest_effect) {
      ++stats_.timeouts;
      return complete(key,
                      error{errc::timeout, "cas on key " + quoted(key) + " after " + std::to_string(o.attempts) +
                                               " attempts: outcome unknown (an accept with this operation's value "
                                               "was overtaken by ballot " + describe(o.highest) + ")"},
                      std::nullopt);
    }
    // else: no earlier accept of ours was chosen, and none can be any more: decide afresh.
  }
  if (fresh) {
    const cas_value& current = o.highest_value;
    bool changes = o.kind == op_kind::write || (o.kind == op_kind::cas && current == o.expected);
    if (changes) {
      o.proposed = o.desired;
      o.proposed_lineage.insert(o.proposed_lineage.begin(), o.b);
      if (o.proposed_lineage.size() > cas_max_lineage) o.proposed_lineage.resize(cas_max_lineage);
      o.effects.push_back(o.b);
    } else {
      // Reads and failed cas write the current value back: it must be chosen to be reported.
      o.conflict = o.kind == op_kind::cas;
    }
  }
  o.reply_value = fresh ? o.proposed : o.desired;
  o.next = config_.piggyback_prepare ? next_ballot() : ballot{};
  o.ph = phase::accepting;
  o.acks.clear();
  o.nacks.clear();
  broadcast(key, o, false);
}

void cas_node::on_accepted(node_id from, const cas_accepted& m) {
  op* o = active(m.key, m.b, phase::accepting);
  if (!o || std::find(o->voters.begin(), o->voters.end(), from) == o->voters.end()) return;
  if (!o->acks.insert(from).second) return;
  if (o->acks.size() < quorum(*o)) return;
  // Every acceptor of this quorum accepted o->proposed at o->b and promised o->next in one step.
  if (!o->next.is_zero())
    prepared_[m.key] = prepared{o->next, o->b, o->proposed, o->proposed_lineage, o->voters};
  if (o->conflict) {
    ++stats_.conflicts;
    return complete(m.key, error{errc::conflict, "cas on key " + quoted(m.key) + ": the current value differs"},
                    o->reply_value);
  }
  ++stats_.ok;
  complete(m.key, status{}, o->reply_value);
}

void cas_node::on_nack(node_id from, const cas_nack& m) {
  note_ballot(m.promised);
  op* o = active(m.key, m.b, phase::preparing);
  if (!o) o = active(m.key, m.b, phase::accepting);
  if (!o || std::find(o->voters.begin(), o->voters.end(), from) == o->voters.end()) return;
  if (!o->nacks.insert(from).second) return;
  // Wait while a quorum of acks is still possible: fewer wasted rounds under mild contention.
  if (o->nacks.size() > o->voters.size() - quorum(*o)) refused(m.key, *o);
}

void cas_node::refused(const std::string& key, op& o) {
  if (o.attempts >= config_.max_attempts) {
    std::string msg = "cas on key " + quoted(key) + ": gave up after " + std::to_string(o.attempts) +
                      " attempts, each refused by a quorum that promised a higher ballot (highest seen " +
                      std::to_string(seen_) + ")";
    if (o.effects.empty()) {
      ++stats_.unavailable;
      return complete(key, error{errc::unavailable, msg + "; not applied"}, std::nullopt);
    }
    ++stats_.timeouts;
    return complete(key, error{errc::timeout, msg + "; outcome unknown"}, std::nullopt);
  }
  uint64_t lo = config_.backoff_min_ms;
  uint64_t cap = lo << std::min<uint32_t>(o.attempts, 20);
  uint64_t hi = std::max(lo, std::min(config_.backoff_max_ms, cap));
  o.ph = phase::idle;
  o.retry_at = now_ms_ + lo + (hi > lo ? rng_() % (hi - lo + 1) : 0);
}

void cas_node::complete(const std::string& key, status s, cas_value v) {
  auto it = ops_.find(key);
  if (it == ops_.end() || it->second.empty()) return;
  reply_now({it->second.front().request, std::move(s), std::move(v)});
  it->second.pop_front();
  if (it->second.empty()) ops_.erase(it);
  else start_attempt(it->first, it->second.front());
}

std::string cas_node::no_quorum(const std::string& key, const op& o) const {
  if (o.ph == phase::idle)
    return "no decision on key " + quoted(key) + " after " + std::to_string(o.attempts) +
           " attempts: competing proposers held higher ballots (highest seen " + std::to_string(seen_) + ")";
  return "no quorum on key " + quoted(key) + ": " + std::to_string(o.acks.size() + o.nacks.size()) + " of " +
         std::to_string(o.voters.size()) + " voters answered the " +
         (o.ph == phase::preparing ? "prepare" : "accept") + " of ballot " + describe(o.b) + " (" +
         std::to_string(o.acks.size()) + " agreed, " + std::to_string(quorum(o)) + " needed)";
}

// Answers every operation of `key` whose deadline has passed: the running one with what is
// known, queued ones (never started, so never applied) with unavailable.
void cas_node::expire(const std::string& key, std::deque<op>& q) {
  for (size_t i = 1; i < q.size();) {
    if (q[i].deadline > now_ms_) {
      ++i;
      continue;
    }
    ++stats_.unavailable;
    reply_now({q[i].request,
               error{errc::unavailable, "cas on key " + quoted(key) +
                                            ": deadline passed while queued behind earlier operations on the "
                                            "key; not applied"},
               {}});
    q.erase(q.begin() + static_cast<std::ptrdiff_t>(i));
  }
  op& o = q.front();
  if (o.deadline > now_ms_) return;
  std::string msg = no_quorum(key, o);
  if (o.effects.empty()) {
    ++stats_.unavailable;
    return complete(key, error{errc::unavailable, msg + "; not applied"}, std::nullopt);
  }
  ++stats_.timeouts;
  complete(key, error{errc::timeout, msg + "; outcome unknown (an accept with this operation's value was sent)"},
           std::nullopt);
}

}  // namespace rumor::replication
