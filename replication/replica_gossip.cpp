// replica, deltas and their dissemination (PROTOCOL.md, "Dissemination" and "Delta log
// truncation and repair").
//
// Contract of this part:
// - offer() applies deltas in per-origin sequence order: one already applied is counted as a
//   duplicate; one beyond a gap waits in reorder_ (at most reorder_limit; beyond, dropped and
//   pulled again by anti-entropy), and applying the next one drains what the gap held back.
//   Nothing is applied before the replica is bootstrapped (a full copy of a peer's state).
// - apply() joins one delta into its key's value and puts the value, the delta-log record and the
//   vector advance into the open batch; false (the gap stays) on a bad delta or a read error. A
//   text delta is joined into the text kept decoded (replica_texts.cpp) and its value written by
//   flush_text_writes(), which every caller of offer() calls after the message's deltas: one
//   encode of a text per message, not per delta. Nothing reads the key in between.
// - flush_push() (at push_now(), once per burst of inputs, and each tick) sends the new deltas
//   (to_push_) to this node's children in each delta's origin's push tree (push_tree.hpp; with
//   tree_push off, to `fanout` random live peers), one push per peer for the burst, never to the
//   peer a delta came from nor to one known to have it. Deltas of other origins go out at once
//   (relay before commit); this node's own, once durable.
// - announce() (each tick, at most every lazy_interval_ms) sends an ihave of the origins whose
//   deltas arrived to the next live peer in turn, until every live peer was told; on_ihave()
//   and graft_due() pull what an announcer has and this node still lacks graft_delay_ms later.
// - anti_entropy() (each gossip_interval_ms) sends one random live peer our vector (a periodic
//   request; a node's first pull is not periodic); on_sync_request() answers it with
//   log_entries_after() — for a periodic request only up to settled_vv(), this node's vector of
//   entropy_settle_ms ago (note_vv_history() keeps it at each tick) — streamed: up to
//   config.sync_window chunks in flight to one requester, each chunk that says `more` bringing a
//   request that tops the window up; without progress for a gossip interval (or after a restart
//   of the requester) it starts again from the requester's vector. on_sync_response() applies
//   the answer, pushes back what the responder lacks (up to settled_vv() too), and starts a
//   repair (replica_repair.cpp) when the deltas we lack are gone from its log, or, before
//   bootstrap, a full transfer.
// - log_entries_after() reads the delta log after a vector, bounded in count and bytes.
// - hand_off() (a graceful leave, before leave()) counts the live peers not known to hold this
//   node's own updates and asks them for their vectors; their answers make it push the rest.
// - maybe_truncate() drops the log prefix every live member has applied. Then, if
//   config.collect_tombstones, once this node has joined and has applied everything the voters
//   reported, it hands the vector every voting member has applied to collect_tombstones()
//   (replica_tombstones.cpp).

#include "replication/replica.hpp"

#include <algorithm>
#include <limits>
#include <map>

#include "replication/log_record.hpp"
#include "replication/push_tree.hpp"
#include "replication/replica_internal.hpp"
#include "replication/storage_key.hpp"

namespace rumor::replication {

namespace {

size_t entry_bytes(const delta_entry& e) { return e.record.key.size() + e.record.delta.size() + 32; }

}  // namespace

using namespace detail;

void replica::offer(const delta_entry& e, node_id from, uint64_t now_ms) {
  if (e.origin == 0 || e.seq == 0) return;
  // A node joining with an empty store first copies a peer's whole state (and vector): applying
  // old deltas before that could revive what a collected tombstone had removed.
  if (!bootstrapped_) return;
  uint64_t have = vv_.get(e.origin);
  if (e.seq <= have) {
    ++stats_.duplicates;
    return;
  }
  if (e.seq > have + 1) {
    if (reorder_.size() >= config_.reorder_limit) {
      ++stats_.dropped;
      return;
    }
    if (reorder_.emplace(std::make_pair(e.origin, e.seq), e.record).second) ++stats_.buffered;
    return;
  }
  if (!apply(e, from, now_ms)) return;
  // Drain what the gap was holding back.
  for (auto it = reorder_.find({e.origin, e.seq + 1}); it != reorder_.end();
       it = reorder_.find({e.origin, vv_.get(e.origin) + 1})) {
    delta_entry next{e.origin, it->first.second, std::move(it->second)};
    reorder_.erase(it);
    if (!apply(next, from, now_ms)) break;
  }
  for (auto it = reorder_.lower_bound({e.origin, 0}); it != reorder_.end() && it->first.first == e.origin &&
                                                      it->first.second <= vv_.get(e.origin);)
    it = reorder_.erase(it);
}

bool replica::apply(const delta_entry& e, node_id from, uint64_t now_ms) {
  const delta_record& r = e.record;
  auto delta = crdt::decode(r.delta);
  if (!delta || delta->type() != r.type || !validate_user_key(r.key)) {
    ++stats_.bad_deltas;
    return false;
  }
  std::string skey = storage_key(r.key, r.type);
  std::optional<set_diff> diff;
  if (const auto* set_delta = delta->get_if<crdt::or_set>()) {
    // Stored decomposed: only the elements the delta touches are read and written.
    auto d = apply_set_delta(skey, *set_delta, r.deps, e.origin, e.seq);
    if (!d) {
      if (d.err().code == errc::corrupt) ++stats_.bad_deltas;
      return false;  // store read error: leave the gap, anti-entropy retries
    }
    diff = std::move(*d);
  } else if (const auto* map_delta = delta->get_if<crdt::or_map>()) {
    // Likewise: only the fields the delta touches.
    auto d = apply_map_delta(skey, *map_delta, r.deps, e.origin, e.seq);
    if (!d) {
      if (d.err().code == errc::corrupt) ++stats_.bad_deltas;
      return false;
    }
    diff = std::move(*d);
  } else if (r.type == crdt::type_tag::text) {
    // Joined into the text kept decoded; written once for all of a message's deltas of the key
    // (flush_text_writes, after the message's deltas), not re-encoded per delta.
    auto it = text_writes_.find(skey);
    if (it == text_writes_.end()) {
      auto old = load_text(skey);
      if (!old) {
        if (old.err().code == errc::corrupt) ++stats_.bad_deltas;
        return false;
      }
      pending_text p;
      p.value = crdt::value::empty_of(r.type);
      if (*old) {
        p.value = std::move((*old)->value);
        p.kv = std::move((*old)->kv);
        p.old_record = std::move((*old)->record);
      }
      p.was_empty = !*old || p.value.holds_nothing();
      it = text_writes_.emplace(skey, std::move(p)).first;
    }
    (void)it->second.value.join(*delta);
    it->second.kv.merge(r.deps);
    it->second.kv.raise(e.origin, e.seq);
  } else {
    auto old = load(skey);
    if (!old) {
      if (old.err().code == errc::corrupt) ++stats_.bad_deltas;
      return false;  // store read error: leave the gap, anti-entropy retries
    }
    crdt::value v = crdt::value::empty_of(r.type);
    version_vector kv;
    std::optional<std::string> old_record;
    if (*old) {
      v = std::move((*old)->value);
      kv = std::move((*old)->kv);
      old_record = std::move((*old)->record);
    }
    bool was_empty = !*old || v.holds_nothing();
    (void)v.join(*delta);
    kv.merge(r.deps);
    kv.raise(e.origin, e.seq);
    write_value(skey, v, kv, std::move(old_record), was_empty);
  }
  vv_.set(e.origin, e.seq);
  vv_dirty_ = true;
  cur_.append_delta(e.origin, e.seq, encode_log_record(r));
  if (auto ts = clock_.update(crdt::hlc_timestamp{r.hlc}, now_ms); !ts) ++stats_.clock_drift_refusals;
  ++stats_.remote_applied;
  uint64_t created = crdt::hlc_timestamp{r.hlc}.physical_ms();
  uint64_t latency = now_ms > created ? now_ms - created : 0;
  ++stats_.sync_latency_count;
  stats_.sync_latency_sum_ms += latency;
  stats_.sync_latency_max_ms = std::max(stats_.sync_latency_max_ms, latency);
  ready_.changes.push_back(change{r.key, r.type, e.origin, std::move(diff)});
  to_push_.emplace_back(e, from);
  return true;
}

void replica::flush_text_writes() {
  for (auto& [skey, p] : text_writes_) {
    write_value(skey, p.value, p.kv, p.old_record, p.was_empty);
    keep_decoded(skey, std::move(p.value), std::move(p.kv));
  }
  text_writes_.clear();
}

void replica::note_vv_history(uint64_t now_ms) {
  if (config_.entropy_settle_ms == 0) return;
  const uint64_t settle = config_.entropy_settle_ms, step = std::max<uint64_t>(1, settle / 4);
  // A clock stepped back: start over (no cap until a snapshot is old enough again).
  if (!vv_history_.empty() && now_ms < vv_history_.back().at_ms) vv_history_.clear();
  if (vv_history_.empty() || now_ms >= vv_history_.back().at_ms + step) vv_history_.push_back({now_ms, vv_});
  while (vv_history_.size() >= 2 && vv_history_[1].at_ms + settle <= now_ms) vv_history_.pop_front();
}

const version_vector* replica::settled_vv(uint64_t now_ms) const {
  if (config_.entropy_settle_ms == 0 || vv_history_.empty()) return nullptr;
  const vv_snapshot& oldest = vv_history_.front();
  if (oldest.at_ms > now_ms || now_ms - oldest.at_ms < config_.entropy_settle_ms) return nullptr;
  return &oldest.vv;
}

std::vector<delta_entry> replica::log_entries_after(const version_vector& have, size_t max_count,
                                                    size_t max_bytes, bool& more,
                                                    std::vector<node_id>* truncated_origins,
                                                    const version_vector* upto) const {
  std::vector<delta_entry> out;
  size_t bytes = 0;
  more = false;
  for (const auto& [origin, applied] : vv_.entries()) {
    const uint64_t mine = upto ? std::min(applied, upto->get(origin)) : applied;
    uint64_t theirs = have.get(origin);
    if (theirs >= mine) continue;
    if (theirs < truncated_.get(origin)) {
      if (truncated_origins) truncated_origins->push_back(origin);
      continue;
    }
    if (out.size() >= max_count || bytes >= max_bytes) {
      more = true;
      break;
    }
    auto st = store_.scan_deltas(origin, theirs + 1, [&](uint64_t seq, std::string_view data) {
      if (seq > mine) return false;
      if (out.size() >= max_count || bytes >= max_bytes) {
        more = true;
        return false;
      }
      auto rec = decode_log_record(data);
      if (!rec) return false;  // corrupt log record: stop here, the gap stays visible
      delta_entry e{origin, seq, std::move(*rec)};
      bytes += entry_bytes(e);
      out.push_back(std::move(e));
      return true;
    });
    (void)st;
  }
  return out;
}

std::optional<uint64_t> replica::oldest_lacking_ms(const version_vector& have) const {
  std::optional<uint64_t> oldest;
  for (const auto& [origin, mine] : vv_.entries()) {
    const uint64_t theirs = have.get(origin);
    if (theirs >= mine || theirs < truncated_.get(origin)) continue;
    (void)store_.scan_deltas(origin, theirs + 1, [&](uint64_t seq, std::string_view data) {
      if (seq > mine) return false;
      if (auto rec = decode_log_record(data)) {
        const uint64_t ms = crdt::hlc_timestamp{rec->hlc}.physical_ms();
        oldest = oldest ? std::min(*oldest, ms) : ms;
      }
      return false;  // the first one is the oldest of this origin
    });
  }
  return oldest;
}

const std::vector<node_id>& replica::push_targets(node_id origin, const std::vector<node_id>& live,
                                                  const std::vector<node_id>& random,
                                                  std::unordered_map<node_id, std::vector<node_id>>& cache) const {
  if (!config_.tree_push) return random;
  auto it = cache.find(origin);
  if (it == cache.end()) it = cache.emplace(origin, push_tree_children(live, origin, self_, config_.fanout)).first;
  return it->second;
}

void replica::flush_push() {
  if (to_push_.empty()) return;
  auto live = live_peer_ids();
  std::vector<node_id> random;
  if (!config_.tree_push) {
    random = live;
    std::shuffle(random.begin(), random.end(), rng_);
    random.resize(std::min(config_.fanout, random.size()));
  }
  std::unordered_map<node_id, std::vector<node_id>> trees;  // origin -> our children in its tree
  // Two pushes per peer: this node's own deltas leave with the step's other messages, once their
  // batch is durable (a crashed node must never reuse a seq a peer saw); deltas of other origins
  // are relayed at once, before their batch here commits — their origin made them durable before
  // it sent them (PROTOCOL.md, "Relay before commit").
  struct pushes {
    push own, relayed;
    size_t own_bytes = 0, relayed_bytes = 0;
  };
  std::map<node_id, pushes> out;
  auto emit = [&](node_id peer, push& p, bool relay) {
    if (p.deltas.empty()) return;
    if (relay) ready_.messages.push_back(outgoing{peer, {}, std::move(p)});
    else send(peer, std::move(p));
    p = push{};
  };
  for (auto& [e, source] : to_push_) {
    if (e.seq > to_announce_.get(e.origin)) to_announce_.set(e.origin, e.seq);
    announce_fresh_ = true;
    for (node_id peer : push_targets(e.origin, live, random, trees)) {
      if (peer == source || peer == self_) continue;  // never echo a delta to the peer it came from
      auto known = peer_vv_.find(peer);
      if (known != peer_vv_.end() && known->second.get(e.origin) >= e.seq) continue;  // it has it
      const bool relay = config_.relay_before_commit && e.origin != self_;
      pushes& o = out[peer];
      push& p = relay ? o.relayed : o.own;
      size_t& bytes = relay ? o.relayed_bytes : o.own_bytes;
      if (p.deltas.size() >= config_.max_deltas_per_message || bytes >= config_.max_message_bytes) {
        emit(peer, p, relay);
        bytes = 0;
      }
      bytes += entry_bytes(e);
      p.deltas.push_back(e);
    }
  }
  for (auto& [peer, o] : out) {
    emit(peer, o.relayed, true);
    emit(peer, o.own, false);
  }
  to_push_.clear();
}

void replica::announce(uint64_t now_ms) {
  if (config_.lazy_interval_ms == 0 || to_announce_.size() == 0) return;
  if (now_ms < last_announce_ms_ + config_.lazy_interval_ms) return;
  auto peers = live_peer_ids();
  if (peers.empty()) return;
  last_announce_ms_ = now_ms;
  // Round robin over the live peers, from where the last announcement stopped: every live peer
  // is told of what arrived within (live peers / lazy_fanout) intervals of the last arrival (a
  // random choice would leave some peer untold now and then, and only anti-entropy would help).
  if (announce_fresh_) {
    announce_left_ = peers.size();
    announce_fresh_ = false;
  }
  // The vector's current seqs of the origins noted: an announcement is a lower bound of what this
  // node has applied, and the newest one costs no more. Sent with send(): held, like this node's
  // own deltas, until everything applied so far is durable, so that the pull it may start finds
  // the deltas in the log.
  version_vector have;
  for (const auto& [origin, seq] : to_announce_.entries()) have.set(origin, std::max(seq, vv_.get(origin)));
  for (size_t sent = 0; sent < config_.lazy_fanout && announce_left_ > 0; --announce_left_) {
    node_id p = peers[announce_cursor_++ % peers.size()];
    auto known = peer_vv_.find(p);
    if (known != peer_vv_.end() && have.leq(known->second)) continue;  // it has all of it: told
    send(p, ihave{have});
    ++stats_.announcements;
    ++sent;
  }
  if (announce_left_ == 0) to_announce_ = version_vector{};
}

void replica::on_ihave(node_id from, const ihave& m, uint64_t now_ms) {
  if (!bootstrapped_ || from == self_) return;
  if (m.have.leq(vv_)) return;  // nothing we lack
  // Bounded: one wait per announcer, and only live members' announcements are kept.
  if (!grafts_.count(from)) {
    const member_update* member = members_->find(from);
    if (!member || (member->status != member_status::alive && member->status != member_status::suspect)) return;
  }
  graft_wait& g = grafts_[from];
  g.announced.merge(m.have);
  if (g.due_ms == 0) g.due_ms = now_ms + config_.graft_delay_ms;
}

void replica::graft_due(uint64_t now_ms) {
  for (auto it = grafts_.begin(); it != grafts_.end();) {
    if (it->second.due_ms > now_ms) {
      ++it;
      continue;
    }
    if (!it->second.announced.leq(vv_)) {  // still lacking some of it
      // The graft: the announcer answers with exactly what we lack (on_sync_request), and its
      // push tree forwards what we then apply to our children.
      send(it->first, sync_request{vv_});
      ++stats_.grafts;
    }
    it = grafts_.erase(it);
  }
}

void replica::push_now(uint64_t now_ms) {
  now_ms_ = now_ms;
  if (failed_) return;
  flush_push();
  end_step();
}

void replica::anti_entropy(uint64_t now_ms, bool periodic) {
  (void)now_ms;
  auto peers = live_peer_ids();
  if (peers.empty()) return;
  node_id peer = peers[rng_() % peers.size()];
  send(peer, sync_request{vv_, periodic});
}

size_t replica::hand_off(uint64_t now_ms, bool ask) {
  now_ms_ = now_ms;
  if (failed_ || !bootstrapped_) return 0;
  uint64_t own = vv_.get(self_);
  size_t lacking = 0;
  for (node_id p : live_peer_ids()) {
    auto known = peer_vv_.find(p);
    if (known != peer_vv_.end() && known->second.get(self_) >= own) continue;
    ++lacking;
    if (ask) send(p, sync_request{vv_});
  }
  end_step();
  return lacking;
}

std::optional<version_vector> replica::applied_by_all(const std::vector<node_id>& peers) const {
  version_vector stable = vv_;
  for (node_id p : peers) {
    if (p == self_) continue;
    auto it = peer_vv_.find(p);
    if (it == peer_vv_.end()) return std::nullopt;  // someone's state unknown
    version_vector next;
    for (const auto& [origin, c] : stable.entries()) next.set(origin, std::min(c, it->second.get(origin)));
    stable = std::move(next);
  }
  return stable;
}

void replica::maybe_truncate() {
  // Causal stability: a delta every live member has applied is never needed again by them.
  // Members in the table that are not live (dead, left, until reaped) may come back; for them up
  // to log_retain_deltas of each origin's newest deltas stay in the log, so that one that missed
  // no more catches up with a pull instead of a repair (PROTOCOL.md, "Log retention").
  if (auto stable = applied_by_all(live_peer_ids())) {
    version_vector kept = *stable;
    if (config_.log_retain_deltas > 0) {
      std::vector<node_id> table;
      for (const auto& m : members_->members())
        if (m.id != self_) table.push_back(m.id);
      // While the vector of one of them is unknown, the window alone bounds what is kept.
      auto all = applied_by_all(table);
      kept = all ? std::move(*all) : version_vector{};
    }
    bool changed = false;
    for (const auto& [origin, c] : stable->entries()) {
      const uint64_t mine = vv_.get(origin);
      const uint64_t floor = mine > config_.log_retain_deltas ? mine - config_.log_retain_deltas : 0;
      const uint64_t to = std::max(kept.get(origin), std::min(c, floor));
      if (to > truncated_.get(origin)) {
        cur_.truncate_deltas(origin, to);
        truncated_.set(origin, to);
        changed = true;
      }
    }
    if (changed) cur_.put_meta(meta_truncated, encode_vv(truncated_));
  }
  // Tombstones wait for every voting member, dead ones included: a member that comes back must
  // not hold the deleted value in a state it could hand out again. Only a node that has joined
  // (merged a seed's whole membership table) knows who the voting members are: before that, a
  // node (e.g. one just wiped or restarted) may see only the peer that happened to contact it,
  // and would collect a tombstone a member it has not heard of still needs (seed
  // 16463226147652928438: the collected key came back from that member's old state).
  if (!config_.collect_tombstones || !members_->joined()) return;
  auto voters = members_->voting_members();
  auto everywhere = applied_by_all(voters);
  if (!everywhere) return;
  // And only once this node has applied everything every voter had applied when it last told us
  // its vector: an update a voter made to a key before it applied the key's deletion then reached
  // this node (and the key's vector) before the key is collected (PROTOCOL.md, proof sketch).
  for (node_id p : voters) {
    auto it = peer_vv_.find(p);
    if (p != self_ && (it == peer_vv_.end() || !it->second.leq(vv_))) return;
  }
  collect_tombstones(*everywhere);
}

uint64_t replica::delta_log_size() const noexcept {
  uint64_t n = 0;
  for (const auto& [origin, c] : vv_.entries()) n += c - std::min(c, truncated_.get(origin));
  return n;
}

// ---------------------------------------------------------------------------------------------
// sync requests: the streamed pull

void replica::on_sync_request(node_id from, const sync_request& q, uint64_t now_ms) {
  pull_stream& st = pull_streams_[from];
  // The chunks sent before are taken to be on their way while the requester's requests show
  // progress (each covers more than the newest before it). A request that does not — a duplicate
  // chunk's, the periodic one, one overtaken on the way — only tops the window up, never resends
  // it. The stream starts again from the requester's vector when no request has shown progress
  // for a gossip interval (a chunk was lost, or the requester restarted and lost what was in
  // flight), or when the requester got past what was sent (from elsewhere).
  const bool progressed = st.last_request.leq(q.vv) && st.last_request != q.vv;
  if (progressed) {
    st.last_request = q.vv;
    st.progress_ms = now_ms;
  }
  const bool stalled = now_ms > st.progress_ms + config_.gossip_interval_ms;
  const bool restart = stalled || !q.vv.leq(st.sent);
  if (restart) {
    st.sent = q.vv;
    st.last_request = q.vv;
    st.progress_ms = now_ms;
  }
  uint64_t in_flight = 0;
  for (const auto& [origin, c] : st.sent.entries()) in_flight += c - std::min(c, q.vv.get(origin));
  // A stream (re)starts with one chunk and widens to the window once a request shows that the
  // requester applies what it gets: one that drops deltas (still being bootstrapped by a full
  // transfer, say) gets one chunk per request, as without streaming.
  const size_t chunks_allowed = progressed && !restart ? std::max<size_t>(config_.sync_window, 1) : 1;
  const uint64_t window = chunks_allowed * config_.max_deltas_per_message;
  // A full window: each chunk in flight with `more` set brings another request, which tops it up.
  if (in_flight >= window) return;
  for (size_t chunks = 1;; ++chunks) {
    sync_response r;
    r.vv = vv_;
    r.deltas = log_entries_after(st.sent, config_.max_deltas_per_message, config_.max_message_bytes, r.more,
                                 &r.truncated, q.periodic ? settled_vv(now_ms) : nullptr);
    for (const auto& e : r.deltas)
      if (e.seq > st.sent.get(e.origin)) st.sent.set(e.origin, e.seq);
    in_flight += r.deltas.size();
    bool again = r.more && !r.deltas.empty() && in_flight < window && chunks < chunks_allowed;
    send(from, std::move(r));
    if (!again) break;
  }
}

// ---------------------------------------------------------------------------------------------
// sync responses

void replica::on_sync_response(node_id from, const sync_response& r, uint64_t now_ms) {
  peer_vv_[from] = r.vv;
  if (!bootstrapped_) {
    if (repairs_.empty()) start_repair(from, r.vv, std::numeric_limits<uint64_t>::max(), now_ms);
    return;
  }
  for (const auto& e : r.deltas) offer(e, from, now_ms);
  flush_text_writes();
  if (r.more) send(from, sync_request{vv_});
  // Push-pull: send back what the responder lacks (bounded; the rest next round).
  bool more = false;
  auto back = log_entries_after(r.vv, config_.max_deltas_per_message, config_.max_message_bytes, more, nullptr,
                                settled_vv(now_ms));
  if (!back.empty()) send(from, push{std::move(back), false});
  if (!r.truncated.empty()) {
    bool active = false;
    for (auto& [id, s] : repairs_) active = active || s.peer == from;
    if (!active) {
      uint64_t estimate = 0;
      for (node_id o : r.truncated) estimate += r.vv.get(o) - std::min(r.vv.get(o), vv_.get(o));
      start_repair(from, r.vv, estimate, now_ms);
    }
  }
  check_write_waits();
}

}  // namespace rumor::replication
