// replica: construction, load, step plumbing, local operations, message dispatch and ticks.
// The interface is replica.hpp; the protocol PROTOCOL.md. The class is implemented in parts:
//   replica.cpp              this file
//   replica_values.cpp       stored values, read through the uncommitted overlay; join_state
//   replica_sets.cpp         or_sets stored decomposed (set_records.hpp): windows, element records
//   replica_gossip.cpp       deltas: offer/apply, push, anti-entropy, sync responses, truncation
//   replica_tombstones.cpp   collection of deletion tombstones; the dead-dot rule
//   replica_consistency.cpp  quorums, majority/all waits of writes and reads, timeouts
//   replica_repair.cpp       repair: IBLT reconciliation of bucket digests, full transfer
//   replica_internal.hpp     helpers they share (meta record names, encodings, dead dots)
//
// Contract of this part:
// - load() restores the vector, truncation vector, clock, bootstrap flag, reaped members,
//   membership and bucket digests from the meta records; it writes nothing. A store whose values
//   are still in layout 1 is refused (unsupported_version): the runtime calls
//   upgrade_value_layout (value_layout.hpp) before it loads a replica.
// - Every input (start, leave, update, read, receive, tick, committed) is one step and ends with
//   end_step(): membership changes join the open batch, and the step's messages and replies are
//   held by the open batch (or, keeping order, the last batch in flight), or go straight to
//   ready_ when nothing is in flight. Nothing leaves before the writes it follows are durable.
// - The writes of every step since the last take_ready() are one batch (cur_). close_batch()
//   (from take_ready) adds the vector and clock records once if they advanced, gives the batch
//   its id and queues the keys it wrote.
// - committed(id) releases, in order, the held effects of the batches up to id, marks their write
//   waits locally committed, and drops the overlay entries (dirty_, erased_) those batches wrote.
//   commit_failed() fails every held reply and write wait and sets failed_: later updates are
//   refused, receive() and tick() do nothing.
// - update() applies a local mutator to its key, logs the delta and pushes it (at once to every
//   live peer for majority/all, else with the next tick's push); read() answers from local state
//   when one replica suffices, else asks the live peers (replica_consistency.cpp).
// - receive() dispatches each message: membership messages to membership, the rest to their
//   handlers in the parts above; push, push_ack, sync_request, read_request and read_response
//   are handled here.
// - tick() runs membership, the push of new deltas, anti-entropy and truncation once per
//   gossip_interval_ms, and expiry.

#include "replication/replica.hpp"

#include <unordered_set>

#include "replication/log_record.hpp"
#include "replication/replica_internal.hpp"
#include "replication/storage_key.hpp"
#include "replication/value_layout.hpp"
#include "replication/wire_codec.hpp"

namespace rumor::replication {

using namespace detail;

replica::replica(const persistence::store& store, std::string address, replica_config config,
                 uint64_t rng_seed)
    : store_(store),
      config_(std::move(config)),
      self_(store.node_id()),
      address_(std::move(address)),
      rng_(rng_seed),
      clock_(config_.max_drift_ms),
      members_(std::make_unique<membership>(self_, address_, rng_(), config_.membership)),
      digests_(config_.bucket_bits) {
  // Session ids are not reused across restarts: an answer still in flight to a crashed
  // incarnation must not be taken for the answer to a new session (repairs retire what an answer
  // lacks).
  next_session_ = (rng_() >> 2) + 1;
  announce_cursor_ = static_cast<size_t>(rng_() % 4096);  // nodes start their rounds apart
}

replica::~replica() = default;

// ---------------------------------------------------------------------------------------------
// loading and stepping

status replica::load(uint64_t now_ms) {
  now_ms_ = now_ms;
  // Values of layout 1 would all read as absent: the runtime upgrades first (value_layout.hpp).
  auto layout_1 = holds_layout_1(store_);
  if (!layout_1) return layout_1.err();
  if (*layout_1)
    return error{errc::unsupported_version, "the store holds values in layout 1 (a bucket index b/); upgrade_value_layout first"};
  if (auto v = store_.get_meta(meta_vv); !v) return v.err();
  else if (*v) {
    auto vv = decode_vv(**v);
    if (!vv) return vv.err();
    vv_ = *vv;
  }
  if (auto v = store_.get_meta(meta_truncated); !v) return v.err();
  else if (*v) {
    auto t = decode_vv(**v);
    if (!t) return t.err();
    truncated_ = *t;
  }
  if (auto v = store_.get_meta(meta_hlc); !v) return v.err();
  else if (*v) {
    if (auto ts = read_le64(**v)) {
      // The floor of new dots is every timestamp ever issued; the clock itself forgets a position
      // that only a wrong (ahead) physical clock of this node can have made (hlc.hpp).
      dot_floor_ = *ts;
      clock_.restore(crdt::hlc_timestamp{*ts});
      if (clock_.rewind_if_ahead(now_ms)) ++stats_.clock_rewinds;
    }
  }
  if (auto v = store_.get_meta(meta_bootstrapped); !v) return v.err();
  else bootstrapped_ = v->has_value();
  if (auto v = store_.get_meta(meta_reaped); !v) return v.err();
  else if (*v) {
    auto r = decode_vv(**v);
    if (!r) return r.err();
    reaped_ = *r;
  }
  if (auto v = store_.get_meta(meta_members); !v) return v.err();
  else if (*v) {
    auto m = decode_message(**v);
    if (m && std::holds_alternative<join_response>(*m)) {
      if (auto st = members_->restore(std::get<join_response>(*m).members); !st) return st.err();
    }
  }
  if (auto n = store_.value_count(); !n) return n.err();
  else value_records_ = *n;
  status st;
  auto scanned = store_.scan_meta(persistence::key_range::with_prefix(meta_digest),
                                  [&](std::string_view name, std::string_view bytes) {
                                    if (name.size() != meta_digest.size() + 4) return true;
                                    uint32_t b = 0;
                                    for (int i = 0; i < 4; ++i)
                                      b = (b << 8) | static_cast<uint8_t>(name[meta_digest.size() + i]);
                                    auto d = read_le64(bytes);
                                    if (d && b < digests_.bucket_count()) digests_.set_digest(b, *d);
                                    return true;
                                  });
  if (!scanned) return scanned.err();
  return {};
}

void replica::start(const std::vector<std::string>& seeds, uint64_t now_ms) {
  now_ms_ = now_ms;
  last_gossip_ms_ = now_ms;
  members_->start_join(seeds, now_ms, step_messages_);
  if (seeds.empty() && !bootstrapped_) {
    // The first node of a new cluster has nothing to catch up with.
    bootstrapped_ = true;
    cur_.put_meta(meta_bootstrapped, "1");
  }
  (void)pull_if_first(now_ms);  // peers restored live from the store: catch up from them at once
  end_step();
}

void replica::leave(uint64_t now_ms) {
  now_ms_ = now_ms;
  members_->leave(now_ms, step_messages_);
  end_step();
}

std::vector<node_id> replica::live_peer_ids() const {
  std::vector<node_id> out;
  for (const auto& m : members_->live_peers()) out.push_back(m.id);
  return out;
}

void replica::send(node_id to, message m) { step_messages_.push_back(outgoing{to, {}, std::move(m)}); }

void replica::reply_now(reply r) { step_replies_.push_back(std::move(r)); }

void replica::end_step() {
  if (!read_waits_.empty()) check_view_reads();  // deltas this step applied may complete them
  // Membership changes are persisted with whatever else this step writes.
  auto changes = members_->take_changes();
  if (!changes.empty()) cur_.put_meta(meta_members, encode_message(join_response{members_->snapshot()}));
  if (!changes.removed.empty()) {
    // Remembered so that their updates in key vectors do not hold collection back for ever.
    for (node_id id : changes.removed) {
      reaped_.set(id, 1);
      pull_streams_.erase(id);
    }
    cur_.put_meta(meta_reaped, encode_vv(reaped_));
  }
  if ((!cur_.empty() || !batch_keys_.empty() || vv_dirty_) && !batch_open_) {
    // This step writes: it joins the open batch (id next_batch_id_), which take_ready() closes.
    in_flight_.push_back(held{next_batch_id_, {}, {}, {}});
    batch_open_ = true;
  }
  if (!in_flight_.empty()) {
    // Held until the open batch (or, keeping order, the last batch in flight) is durable.
    auto& last = in_flight_.back();
    for (auto& m : step_messages_) last.messages.push_back(std::move(m));
    for (auto& r : step_replies_) last.replies.push_back(std::move(r));
    for (uint64_t req : step_write_requests_) last.write_requests.push_back(req);
  } else {
    for (auto& m : step_messages_) ready_.messages.push_back(std::move(m));
    for (auto& r : step_replies_) ready_.replies.push_back(std::move(r));
  }
  step_messages_.clear();
  step_replies_.clear();
  step_write_requests_.clear();
}

void replica::close_batch() {
  if (!batch_open_) return;
  batch_open_ = false;
  if (vv_dirty_) {
    // Once per batch, however many steps advanced the vector.
    cur_.put_meta(meta_vv, encode_vv(vv_));
    cur_.put_meta(meta_hlc, le64(std::max(clock_.last().bits, dot_floor_)));
    vv_dirty_ = false;
  }
  put_batch_values();
  uint64_t id = next_batch_id_++;
  // write_value and collect_tombstones stamped this batch's keys with `id` already.
  if (!batch_keys_.empty()) uncommitted_keys_.emplace_back(id, std::move(batch_keys_));
  batch_keys_.clear();
  ready_.batches.push_back(pending_batch{id, std::move(cur_)});
  cur_ = persistence::write_batch{};
}

void replica::put_batch_values() {
  const uint64_t id = next_batch_id_;
  std::unordered_set<std::string_view> done;
  done.reserve(batch_keys_.size());
  for (const std::string& skey : batch_keys_) {
    if (!done.insert(skey).second) continue;
    // A collection after a write leaves both stamped (the erase came last); a write after a
    // collection removes the erased_ entry.
    if (auto e = erased_.find(skey); e != erased_.end() && e->second == id) {
      cur_.erase_value(value_key(skey));
    } else if (auto d = dirty_.find(skey); d != dirty_.end() && d->second.second == id) {
      cur_.put_value(value_key(skey), d->second.first);
    }
    // A set's element or dot index record (replica_sets.cpp); its name may equal a storage key.
    if (auto m = dirty_meta_.find(skey); m != dirty_meta_.end() && m->second.second == id) {
      if (m->second.first) cur_.put_meta(skey, *m->second.first);
      else cur_.erase_meta(skey);
    }
  }
}

void replica::committed(uint64_t batch_id) {
  committed_through_ = std::max(committed_through_, batch_id);
  while (!in_flight_.empty() && in_flight_.front().batch_id <= batch_id) {
    held h = std::move(in_flight_.front());
    in_flight_.pop_front();
    for (auto& m : h.messages) ready_.messages.push_back(std::move(m));
    for (auto& r : h.replies) ready_.replies.push_back(std::move(r));
    for (uint64_t req : h.write_requests)
      for (auto& w : write_waits_)
        if (w.request == req) w.local_committed = true;
  }
  // Only the keys the committed batches wrote are looked at (not all of dirty_): a key written
  // again by a later batch keeps that batch's stamp and stays.
  while (!uncommitted_keys_.empty() && uncommitted_keys_.front().first <= batch_id) {
    for (const std::string& skey : uncommitted_keys_.front().second) {
      if (auto it = dirty_.find(skey); it != dirty_.end() && it->second.second <= batch_id) dirty_.erase(it);
      if (auto it = erased_.find(skey); it != erased_.end() && it->second <= batch_id) erased_.erase(it);
      if (auto it = dirty_meta_.find(skey); it != dirty_meta_.end() && it->second.second <= batch_id) dirty_meta_.erase(it);
    }
    uncommitted_keys_.pop_front();
  }
  check_write_waits();
  end_step();
}

void replica::commit_failed(uint64_t batch_id, const error& e) {
  failed_ = true;
  // Nothing of the failed batch or after it was acknowledged; tell every waiting client.
  for (auto& h : in_flight_) {
    for (auto& r : h.replies) {
      if (r.result) r = reply{r.request, error{e.code, "storage commit failed: " + e.message}, {}, {}};
      ready_.replies.push_back(std::move(r));
    }
  }
  in_flight_.clear();
  batch_open_ = false;
  for (auto& w : write_waits_)
    ready_.replies.push_back(reply{w.request, error{e.code, "storage commit failed: " + e.message}, {}, {}});
  write_waits_.clear();
  (void)batch_id;
}

ready replica::take_ready() {
  close_batch();
  ready r = std::move(ready_);
  ready_ = {};
  return r;
}

// ---------------------------------------------------------------------------------------------
// local operations

void replica::update(uint64_t request, std::string_view key, crdt::type_tag type, const mutator& fn,
                     consistency c, uint64_t timeout_ms, uint64_t now_ms, const std::vector<std::string>* touches,
                     bool reply_value) {
  now_ms_ = now_ms;
  auto fail = [&](error e, std::vector<crdt::value> current = {}) {
    reply_now(reply{request, std::move(e), nullptr, std::move(current)});
    end_step();
  };
  if (failed_) return fail(error{errc::unavailable, "replica stopped after a storage failure"});
  if (auto ok = validate_user_key(key); !ok) return fail(ok.err());
  std::string skey = storage_key(key, type);
  // The key's value of this type: one point read. Only a key without one is searched for a
  // value of another type (a prefix scan), which refuses the update.
  auto stored = read_raw(skey);
  if (!stored) return fail(stored.err());
  std::optional<std::string> old = std::move(*stored);
  if (!old) {
    auto existing = read_all_types(key);
    if (!existing) return fail(existing.err());
    if (!existing->empty()) {
      auto other = parse_storage_key(existing->front().key);
      return fail(error{errc::type_mismatch,
                        "key '" + std::string(key) + "' holds a " +
                            std::string(other ? crdt::to_string(other->type) : "value of another type") +
                            ", not a " + std::string(crdt::to_string(type)) +
                            "; use an operation of that type, or another key"});
    }
  }
  // A clock far ahead of the peers' would stamp writes that win last-writer-wins ties for as long
  // as it is ahead: refused before the clock is read (so the HLC does not move into the future).
  if (clock_ahead_) {
    if (auto problem = clock_problem(now_ms)) return fail(error{errc::clock_drift, *problem});
  }
  if (clock_.rewind_if_ahead(now_ms)) ++stats_.clock_rewinds;
  auto ts = clock_.now(now_ms);
  crdt::value current = crdt::value::empty_of(type);
  version_vector kv;
  std::optional<crdt::dot_context> seed;
  // An or_set is read as a window onto the members the update touches (all, without `touches`).
  std::optional<set_window> win;
  // An or_map likewise, onto the fields of the names the update touches.
  std::optional<map_window> mwin;
  if (type == crdt::type_tag::or_set) {
    auto w = load_set(skey, old, touches);
    if (!w) return fail(error{errc::corrupt, "stored value of '" + std::string(key) + "': " + w.err().message});
    win = std::move(*w);
    current = crdt::value{std::move(win->set)};  // copied back once the mutator has run
    kv = win->kv;
  } else if (type == crdt::type_tag::or_map) {
    auto w = load_map(skey, old, touches);
    if (!w) return fail(error{errc::corrupt, "stored value of '" + std::string(key) + "': " + w.err().message});
    mwin = std::move(*w);
    current = crdt::value{std::move(mwin->map)};
    kv = mwin->kv;
  } else if (old) {
    // A text last written here is still decoded (replica_texts.cpp); anything else is decoded.
    auto decoded = type == crdt::type_tag::text ? take_or_decode(skey, *old) : decode_record(*old);
    if (!decoded) return fail(error{errc::corrupt, "stored value of '" + std::string(key) + "': " + decoded.err().message});
    current = std::move(decoded->value);
    kv = std::move(decoded->kv);
  }
  if (current.context().max_counter(self_) == 0) {
    // This node's first event in this life of the key (new, or deleted, collected and written
    // again — perhaps re-created here by a peer's delta): its dots start at the HLC time, above
    // every dot it made for an earlier life, and the delta says so. Dots are never reused, so a
    // tombstone still held elsewhere cannot swallow a new write; every dot of this node below the
    // HLC time in this key is dead (the key was deleted everywhere before it was collected).
    version_vector below;
    below.set(self_, std::max(ts.bits, dot_floor_ + 1) - 1);
    seed = crdt::dot_context::from_parts(std::move(below), {});
    (void)current.join(crdt::value::empty_of(type, *seed));
  }
  dot_floor_ = std::max(dot_floor_, ts.bits);
  bool was_empty = !old || current.holds_nothing();
  auto delta = fn(current, self_, ts);
  if (!delta) return fail(delta.err(), is_window(current) ? std::vector<crdt::value>{} : std::vector<crdt::value>{current});
  if (seed) (void)delta->join(crdt::value::empty_of(type, *seed));
  dot_floor_ = std::max(dot_floor_, current.context().max_counter(self_));
  uint64_t seq = vv_.get(self_) + 1;
  vv_.set(self_, seq);
  vv_dirty_ = true;
  delta_record rec{std::string(key), type, ts.bits, crdt::encode(*delta), kv};
  kv.raise(self_, seq);
  std::string encoded;
  std::optional<set_diff> diff;
  if (win) {
    win->set = *current.get_if<crdt::or_set>();
    diff = write_set(skey, *win, kv);
  } else if (mwin) {
    mwin->map = *current.get_if<crdt::or_map>();
    diff = write_map(skey, *mwin, kv);
  } else {
    encoded = write_value(skey, current, kv, old, was_empty);
  }
  if (type == crdt::type_tag::text) {
    if (reply_value) {
      keep_decoded(skey, current, kv);
    } else {
      keep_decoded(skey, std::move(current), kv);
      current = crdt::value::empty_of(type);
      encoded.clear();
    }
  }
  cur_.append_delta(self_, seq, encode_log_record(rec));
  delta_entry entry{self_, seq, std::move(rec)};
  ++stats_.local_updates;
  ready_.changes.push_back(change{std::string(key), type, self_, std::move(diff)});

  auto ok = std::make_unique<update_ok>(update_ok{self_, seq, std::move(current), std::move(encoded)});
  size_t needed = quorum(c);
  if (needed <= 1) {
    reply_now(reply{request, {}, std::move(ok), {}});
    to_push_.emplace_back(std::move(entry), self_);
  } else {
    // Push to every live peer now (after the commit), asking for durable acknowledgements.
    for (node_id p : live_peer_ids()) send(p, push{{entry}, true});
    write_waits_.push_back(write_wait{request, seq, needed, {}, now_ms + timeout_ms, false, std::move(ok)});
    step_write_requests_.push_back(request);
  }
  end_step();
}

void replica::read(uint64_t request, std::string_view key, consistency c, uint64_t timeout_ms,
                   uint64_t now_ms, const set_view_request* view) {
  now_ms_ = now_ms;
  if (auto ok = validate_user_key(key); !ok) {
    reply_now(reply{request, ok.err(), {}, {}});
    return end_step();
  }
  size_t needed = quorum(c);
  if (needed <= 1) {
    reply r = local_read_reply(request, key, view);
    // A key none of whose types has an uncommitted write or collection reads committed state: its
    // answer need not wait for the batches in flight (so reads go on while commits are slow or
    // fail, e.g. on a full disk). Otherwise it waits, as every reply does, for what it read.
    if (touches_uncommitted(key)) reply_now(std::move(r));
    else ready_.replies.push_back(std::move(r));
    return end_step();
  }
  uint64_t id = request;
  for (node_id p : live_peer_ids()) send(p, read_request{id, std::string(key), view != nullptr});
  read_waits_.push_back(read_wait{request, std::string(key), needed - 1, {}, now_ms + timeout_ms,
                                  view ? std::optional<set_view_request>{*view} : std::nullopt, {}});
  end_step();
}

// ---------------------------------------------------------------------------------------------
// ticks and messages

std::optional<std::string> replica::clock_problem(uint64_t now_ms) const {
  // The stamp the next write would get: the clock, unless it is so far ahead that it rewinds.
  uint64_t last = clock_.last().physical_ms();
  uint64_t stamp = last > now_ms && last - now_ms > config_.max_drift_ms ? now_ms : std::max(now_ms, last);
  auto v = clocks_.judge(live_peer_ids(), stamp, now_ms, config_.max_drift_ms);
  if (!v.refuse()) return std::nullopt;
  return clock_monitor::describe(v, config_.max_drift_ms);
}

void replica::tick(uint64_t now_ms) {
  now_ms_ = now_ms;
  if (failed_) return;
  clock_ahead_ = clock_problem(now_ms).has_value();
  members_->tick(now_ms, step_messages_);
  flush_push();
  note_vv_history(now_ms);
  announce(now_ms);
  graft_due(now_ms);
  if (!pull_if_first(now_ms) && now_ms - last_gossip_ms_ >= config_.gossip_interval_ms) gossip_round(now_ms);
  expire(now_ms);
  end_step();
}

// The first pull goes out as soon as a live peer is known — at start (members restored from the
// store) or with the membership message that made one live, not at the next tick — so a
// restarted node starts catching up at once; then one per gossip interval.
bool replica::pull_if_first(uint64_t now_ms) {
  if (pulled_ || members_->live_peers().empty()) return false;
  gossip_round(now_ms, false);
  return true;
}

void replica::gossip_round(uint64_t now_ms, bool periodic) {
  pulled_ = true;
  last_gossip_ms_ = now_ms;
  ++stats_.gossip_rounds;
  anti_entropy(now_ms, periodic);
  maybe_truncate();
}

void replica::receive(node_id from, const message& m, uint64_t now_ms) {
  now_ms_ = now_ms;
  if (failed_) return;
  std::visit(
      [&](const auto& msg) {
        using M = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<M, ping> || std::is_same_v<M, ack> || std::is_same_v<M, ping_req> ||
                      std::is_same_v<M, join_request> || std::is_same_v<M, join_response>) {
          members_->step(from, m, now_ms, step_messages_);
          (void)pull_if_first(now_ms);
          if constexpr (std::is_same_v<M, ack>) {
            if (msg.target == from && msg.echo_ms != 0) {
              clocks_.record(from, msg.echo_ms, msg.now_ms, now_ms);
              clock_ahead_ = clock_problem(now_ms).has_value();
            }
          }
        } else if constexpr (std::is_same_v<M, push>) {
          auto& known = peer_vv_[from];
          for (const auto& e : msg.deltas) {
            offer(e, from, now_ms);
            // The sender holds what it pushes: remember it, so we never push it back.
            if (known.get(e.origin) + 1 == e.seq) known.set(e.origin, e.seq);
          }
          flush_text_writes();
          if (msg.want_ack) send(from, push_ack{vv_});
        } else if constexpr (std::is_same_v<M, push_ack>) {
          peer_vv_[from].merge(msg.applied);
          check_write_waits();
        } else if constexpr (std::is_same_v<M, sync_request>) {
          peer_vv_[from] = msg.vv;
          on_sync_request(from, msg, now_ms);
          check_write_waits();
        } else if constexpr (std::is_same_v<M, sync_response>) {
          on_sync_response(from, msg, now_ms);
        } else if constexpr (std::is_same_v<M, read_request>) {
          if (msg.vector_only) {
            // The key's vector only: a view read joins nothing (an unreadable key: none).
            auto kv = validate_user_key(msg.key) ? key_vector(msg.key) : result<version_vector>{version_vector{}};
            send(from, read_response{msg.id, {}, true, kv ? std::move(*kv) : version_vector{}});
          } else {
            auto states = validate_user_key(msg.key) ? read_all_types(msg.key)
                                                     : result<std::vector<key_state>>{std::vector<key_state>{}};
            send(from, read_response{msg.id, states ? std::move(*states) : std::vector<key_state>{}, false, {}});
          }
        } else if constexpr (std::is_same_v<M, read_response>) {
          for (auto it = read_waits_.begin(); it != read_waits_.end(); ++it) {
            if (it->request != msg.id) continue;
            if (it->view) {
              if (on_view_read_answer(*it, from, msg)) read_waits_.erase(it);
              break;
            }
            it->responses[from] = msg.values;
            if (it->responses.size() >= it->needed) {
              finish_read(*it, false);
              read_waits_.erase(it);
            }
            break;
          }
        } else if constexpr (std::is_same_v<M, state_push>) {
          on_state_push(from, msg, now_ms);
        } else if constexpr (std::is_same_v<M, recon_request>) {
          on_recon_request(from, msg);
        } else if constexpr (std::is_same_v<M, recon_buckets>) {
          on_recon_buckets(from, msg, now_ms);
        } else if constexpr (std::is_same_v<M, full_sync_request>) {
          on_full_sync_request(from, msg);
        } else if constexpr (std::is_same_v<M, full_sync_chunk>) {
          on_full_sync_chunk(from, msg, now_ms);
        } else if constexpr (std::is_same_v<M, set_recon_request>) {
          on_set_recon_request(from, msg);
        } else if constexpr (std::is_same_v<M, set_recon_answer>) {
          on_set_recon_answer(from, msg, now_ms);
        } else if constexpr (std::is_same_v<M, ihave>) {
          on_ihave(from, msg, now_ms);
        }
        // hello is the transport's business.
      },
      m);
  end_step();
}

}  // namespace rumor::replication
