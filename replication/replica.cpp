#include "replication/replica.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include "crdt/codec.hpp"
#include "replication/log_record.hpp"
#include "replication/storage_key.hpp"
#include "replication/stored_value.hpp"
#include "replication/wire_codec.hpp"

namespace rumor::replication {

namespace {

// Meta record names (persistence meta table). See PROTOCOL.md, "Persistent state".
constexpr std::string_view meta_vv = "r/vv";            // applied version vector
constexpr std::string_view meta_truncated = "r/trunc";  // delta log truncated up to (per origin)
constexpr std::string_view meta_hlc = "r/hlc";          // last HLC timestamp, u64 LE
constexpr std::string_view meta_members = "r/members";  // membership snapshot (join_response)
constexpr std::string_view meta_bootstrapped = "r/boot";  // present once the first full sync is done
constexpr std::string_view meta_reaped = "r/reaped";    // members reaped from the table (ids -> 1)
constexpr std::string_view meta_digest = "d/";          // + bucket (u32 BE) -> digest (u64 LE)
constexpr std::string_view meta_index = "b/";           // + bucket (u32 BE) + storage key -> value hash
constexpr std::string_view meta_tombstone = "t/";       // + storage key: the value holds nothing (deleted)

std::string be32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>((v >> (8 * (3 - i))) & 0xff);
  return s;
}

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

std::optional<uint64_t> read_le64(std::string_view s) {
  if (s.size() != 8) return std::nullopt;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(s[i])} << (8 * i);
  return v;
}

std::string encode_vv(const version_vector& vv) {
  return crdt::encode_context(crdt::dot_context::from_parts(vv, {}));
}

result<version_vector> decode_vv(std::string_view bytes) {
  auto c = crdt::decode_context(bytes);
  if (!c) return c.err();
  if (!c->cloud().empty()) return error{errc::corrupt, "stored version vector has loose dots"};
  return c->compact_part();
}

size_t entry_bytes(const delta_entry& e) { return e.record.key.size() + e.record.delta.size() + 32; }

std::set<crdt::dot> store_dots(const crdt::value& v) {
  std::set<crdt::dot> out;
  std::visit([&](const auto& x) { x.store().for_each_dot([&](const crdt::dot& d) { out.insert(d); }); }, v.variant());
  return out;
}

// The dead dots of `v` (key vector `kv`) by the word of a replica that had applied `authority`
// and holds `theirs` (nullptr: not the key): the dots of every origin whose updates in `kv` it had
// all applied, that it does not hold. Such a dot was made by an update that replica applied, and
// every update a replica applied is reflected in its state or dead (PROTOCOL.md, "Key deletion").
std::vector<crdt::dot> dead_dots(const crdt::value& v, const version_vector& kv, const version_vector& authority,
                                 const crdt::value* theirs) {
  std::set<crdt::dot> held;
  if (theirs) held = store_dots(*theirs);
  std::vector<crdt::dot> dead;
  for (const crdt::dot& d : store_dots(v)) {
    uint64_t k = kv.get(d.node);
    if (k == 0 || k > authority.get(d.node)) continue;  // possibly made by an update it lacks
    if (!held.count(d)) dead.push_back(d);
  }
  return dead;
}

// Removes `dead` from v's store (and records them in its context). Returns true iff any was held.
bool kill(crdt::value& v, const std::vector<crdt::dot>& dead) {
  if (dead.empty()) return false;
  (void)v.join(crdt::value::empty_of(v.type(), crdt::dot_context::of(dead)));
  return true;
}

}  // namespace

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
}

replica::~replica() = default;

// ---------------------------------------------------------------------------------------------
// loading and stepping

status replica::load(uint64_t now_ms) {
  now_ms_ = now_ms;
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
    if (auto ts = read_le64(**v)) clock_.restore(crdt::hlc_timestamp{*ts});
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
  // Membership changes are persisted with whatever else this step writes.
  auto changes = members_->take_changes();
  if (!changes.empty()) cur_.put_meta(meta_members, encode_message(join_response{members_->snapshot()}));
  if (!changes.removed.empty()) {
    // Remembered so that their updates in key vectors do not hold collection back for ever.
    for (node_id id : changes.removed) reaped_.set(id, 1);
    cur_.put_meta(meta_reaped, encode_vv(reaped_));
  }
  if ((!cur_.empty() || vv_dirty_) && !batch_open_) {
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
    cur_.put_meta(meta_hlc, le64(clock_.last().bits));
    vv_dirty_ = false;
  }
  uint64_t id = next_batch_id_++;
  // write_value and collect_tombstones stamped this batch's keys with `id` already.
  if (!batch_keys_.empty()) uncommitted_keys_.emplace_back(id, std::move(batch_keys_));
  batch_keys_.clear();
  ready_.batches.push_back(pending_batch{id, std::move(cur_)});
  cur_ = persistence::write_batch{};
}

void replica::committed(uint64_t batch_id) {
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
// values

result<std::optional<std::string>> replica::read_encoded(const std::string& skey) const {
  if (auto it = dirty_.find(skey); it != dirty_.end()) return std::optional<std::string>{it->second.first};
  if (erased_.count(skey)) return std::optional<std::string>{};  // collected, not yet committed
  return store_.get_value(skey);
}

result<std::optional<replica::loaded>> replica::load(const std::string& skey) const {
  auto rec = read_encoded(skey);
  if (!rec) return rec.err();
  if (!*rec) return std::optional<loaded>{};
  auto decoded = decode_record(**rec);
  if (!decoded) return decoded.err();
  decoded->record = std::move(**rec);
  return std::optional<loaded>{std::move(*decoded)};
}

result<replica::loaded> replica::decode_record(std::string_view record) {
  auto st = decode_stored(record);
  if (!st) return st.err();
  auto v = crdt::decode(st->crdt);
  if (!v) return error{errc::corrupt, "stored value: " + v.err().message};
  return loaded{std::move(*v), std::move(st->kv), {}};
}

result<std::vector<key_state>> replica::read_all_types(std::string_view user_key) const {
  std::map<std::string, std::string> found;
  std::string prefix = storage_prefix(user_key);
  auto st = store_.scan_values(persistence::key_range::with_prefix(prefix),
                               [&](std::string_view k, std::string_view v) {
                                 found.emplace(std::string(k), std::string(v));
                                 return true;
                               });
  if (!st) return st.err();
  for (auto it = erased_.lower_bound(prefix); it != erased_.end() && it->first.starts_with(prefix); ++it)
    found.erase(it->first);
  for (auto it = dirty_.lower_bound(prefix); it != dirty_.end() && it->first.starts_with(prefix); ++it)
    found[it->first] = it->second.first;
  std::vector<key_state> out;
  for (auto& [k, v] : found) out.push_back(key_state{k, v});
  return out;
}

result<std::vector<crdt::value>> replica::get(std::string_view key) const {
  if (auto ok = validate_user_key(key); !ok) return ok.err();
  auto states = read_all_types(key);
  if (!states) return states.err();
  std::vector<crdt::value> out;
  for (auto& s : *states) {
    auto v = decode_record(s.value);
    if (!v) return error{errc::corrupt, "stored value of '" + std::string(key) + "': " + v.err().message};
    out.push_back(std::move(v->value));
  }
  return out;
}

result<std::vector<std::pair<std::string, crdt::type_tag>>> replica::keys(std::string_view prefix,
                                                                          size_t limit) const {
  std::map<std::string, crdt::type_tag> found;
  auto collect = [&](std::string_view skey) {
    if (auto p = parse_storage_key(skey)) found.emplace(std::string(p->user_key), p->type);
  };
  auto st = store_.scan_values(persistence::key_range::with_prefix(prefix),
                               [&](std::string_view k, std::string_view) {
                                 collect(k);
                                 return found.size() < limit;
                               });
  if (!st) return st.err();
  for (auto it = dirty_.lower_bound(std::string(prefix)); it != dirty_.end() && it->first.starts_with(prefix); ++it)
    collect(it->first);
  std::vector<std::pair<std::string, crdt::type_tag>> out(found.begin(), found.end());
  if (out.size() > limit) out.resize(limit);
  return out;
}

void replica::write_value(const std::string& skey, const crdt::value& v, const version_vector& kv,
                          const std::optional<std::string>& old_record, bool old_held_nothing) {
  std::string record = encode_stored(kv, crdt::encode(v));
  cur_.put_value(skey, record);
  std::optional<uint64_t> old_hash;
  if (old_record) old_hash = bucket_digests::value_hash(*old_record);
  uint64_t new_hash = bucket_digests::value_hash(record);
  uint32_t bucket = digests_.apply(skey, old_hash, new_hash);
  std::string b = be32(bucket);
  cur_.put_meta(std::string(meta_index) + b + skey, le64(new_hash));
  cur_.put_meta(std::string(meta_digest) + b, le64(digests_.digest(bucket)));
  // Deleted keys are listed so that collection need not scan every value (maybe_truncate).
  bool empty = v.holds_nothing();
  if (empty && !(old_record && old_held_nothing)) cur_.put_meta(std::string(meta_tombstone) + skey, "1");
  else if (!empty && old_record && old_held_nothing) cur_.erase_meta(std::string(meta_tombstone) + skey);
  erased_.erase(skey);
  dirty_[skey] = {std::move(record), next_batch_id_};  // cur_ becomes batch next_batch_id_
  batch_keys_.push_back(skey);
}

bool replica::join_state(const key_state& s, const version_vector* sender_vv) {
  auto parsed = parse_storage_key(s.key);
  if (!parsed) return false;
  auto incoming = decode_record(s.value);
  if (!incoming || incoming->value.type() != parsed->type) {
    ++stats_.bad_deltas;
    return false;
  }
  auto old = load(s.key);
  if (!old) return false;
  if (!*old && incoming->kv.leq(vv_)) {
    // Every update this state reflects was applied here, yet the key is absent: it was deleted
    // and collected here, and the state is an older copy (e.g. one that was in flight).
    // Everything it holds is dead.
    ++stats_.stale_states;
    return false;
  }
  crdt::value v = crdt::value::empty_of(parsed->type);
  version_vector kv;
  bool was_empty = true;
  if (*old) {
    v = (*old)->value;
    kv = (*old)->kv;
    was_empty = v.holds_nothing();
  }
  crdt::value before = v;
  version_vector kv_before = kv;
  // Dots of the incoming state made by updates applied here that are not held here are dead (the
  // context that removed them may be gone: collected). Likewise, in a repair answer, our dots made
  // by updates the sender had applied that its state does not hold.
  crdt::value in = incoming->value;
  auto dead_in = dead_dots(in, incoming->kv, vv_, *old ? &(*old)->value : nullptr);
  if (sender_vv && *old) {
    if (kill(v, dead_dots(v, kv, *sender_vv, &incoming->value))) ++stats_.stale_states;
  }
  if (kill(in, dead_in)) ++stats_.stale_states;
  if (!v.join(in)) return false;
  kv.merge(incoming->kv);
  // An unchanged value is left alone, unless its record is in an older format: rewriting it keeps
  // equal values byte-equal on every replica (digests compare records).
  if (v == before && kv == kv_before && (!*old || is_current_format((*old)->record))) return false;
  write_value(s.key, v, kv, *old ? std::optional<std::string>{(*old)->record} : std::nullopt, was_empty);
  ++stats_.states_joined;
  if (!(v == before)) ready_.changes.push_back(change{std::string(parsed->user_key), parsed->type, 0});
  return true;
}

std::optional<std::string> replica::retire_dead(const std::string& skey, const version_vector& peer_vv) {
  auto old = load(skey);
  if (!old || !*old) return std::nullopt;
  loaded& l = **old;
  crdt::value v = l.value;
  bool was_empty = v.holds_nothing();
  if (kill(v, dead_dots(v, l.kv, peer_vv, nullptr))) {
    ++stats_.stale_states;
    write_value(skey, v, l.kv, l.record, was_empty);
    if (auto p = parse_storage_key(skey)) ready_.changes.push_back(change{std::string(p->user_key), p->type, 0});
  }
  if (l.kv.leq(peer_vv)) return std::nullopt;  // it has every update of the key: nothing to send
  auto now = read_encoded(skey);
  if (!now) return std::nullopt;
  return *now;
}

// ---------------------------------------------------------------------------------------------
// local operations

void replica::update(uint64_t request, std::string_view key, crdt::type_tag type, const mutator& fn,
                     consistency c, uint64_t timeout_ms, uint64_t now_ms) {
  now_ms_ = now_ms;
  auto fail = [&](error e, std::vector<crdt::value> current = {}) {
    reply_now(reply{request, std::move(e), std::nullopt, std::move(current)});
    end_step();
  };
  if (failed_) return fail(error{errc::unavailable, "replica stopped after a storage failure"});
  if (auto ok = validate_user_key(key); !ok) return fail(ok.err());
  auto existing = read_all_types(key);
  if (!existing) return fail(existing.err());
  std::string skey = storage_key(key, type);
  std::optional<std::string> old;
  for (auto& s : *existing)
    if (s.key == skey) old = s.value;
  if (!old && !existing->empty()) {
    auto other = parse_storage_key(existing->front().key);
    return fail(error{errc::type_mismatch,
                      "key '" + std::string(key) + "' holds a " +
                          std::string(other ? crdt::to_string(other->type) : "value of another type") +
                          ", not a " + std::string(crdt::to_string(type)) +
                          "; use an operation of that type, or another key"});
  }
  auto ts = clock_.now(now_ms);
  crdt::value current = crdt::value::empty_of(type);
  version_vector kv;
  std::optional<crdt::dot_context> seed;
  if (old) {
    auto decoded = decode_record(*old);
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
    below.set(self_, ts.bits - 1);
    seed = crdt::dot_context::from_parts(std::move(below), {});
    (void)current.join(crdt::value::empty_of(type, *seed));
  }
  bool was_empty = !old || current.holds_nothing();
  auto delta = fn(current, self_, ts);
  if (!delta) return fail(delta.err(), {current});
  if (seed) (void)delta->join(crdt::value::empty_of(type, *seed));
  uint64_t seq = vv_.get(self_) + 1;
  vv_.set(self_, seq);
  vv_dirty_ = true;
  delta_record rec{std::string(key), type, ts.bits, crdt::encode(*delta), kv};
  kv.raise(self_, seq);
  write_value(skey, current, kv, old, was_empty);
  cur_.append_delta(self_, seq, encode_log_record(rec));
  delta_entry entry{self_, seq, std::move(rec)};
  ++stats_.local_updates;
  ready_.changes.push_back(change{std::string(key), type, self_});

  update_ok ok{self_, seq, std::move(current)};
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
                   uint64_t now_ms) {
  now_ms_ = now_ms;
  if (auto ok = validate_user_key(key); !ok) {
    reply_now(reply{request, ok.err(), {}, {}});
    return end_step();
  }
  size_t needed = quorum(c);
  if (needed <= 1) {
    auto v = get(key);
    if (!v) reply_now(reply{request, v.err(), {}, {}});
    else reply_now(reply{request, {}, {}, std::move(*v)});
    return end_step();
  }
  uint64_t id = request;
  for (node_id p : live_peer_ids()) send(p, read_request{id, std::string(key)});
  read_waits_.push_back(read_wait{request, std::string(key), needed - 1, {}, now_ms + timeout_ms});
  end_step();
}

size_t replica::quorum(consistency c) const {
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
  auto local = read_all_types(w.key);
  if (!local) {
    ready_.replies.push_back(reply{w.request, local.err(), {}, {}});
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
        std::nullopt, {it->result.value}});
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
    if (now_ms - it->second.last_progress_ms > config_.recon_timeout_ms) it = repairs_.erase(it);
    else ++it;
  }
}

// ---------------------------------------------------------------------------------------------
// deltas

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
  auto old = load(skey);
  if (!old) {
    if (old.err().code == errc::corrupt) ++stats_.bad_deltas;
    return false;  // store read error: leave the gap, anti-entropy retries
  }
  crdt::value v = crdt::value::empty_of(r.type);
  version_vector kv;
  if (*old) {
    v = (*old)->value;
    kv = (*old)->kv;
  }
  bool was_empty = !*old || v.holds_nothing();
  (void)v.join(*delta);
  kv.merge(r.deps);
  kv.raise(e.origin, e.seq);
  vv_.set(e.origin, e.seq);
  vv_dirty_ = true;
  write_value(skey, v, kv, *old ? std::optional<std::string>{(*old)->record} : std::nullopt, was_empty);
  cur_.append_delta(e.origin, e.seq, encode_log_record(r));
  if (auto ts = clock_.update(crdt::hlc_timestamp{r.hlc}, now_ms); !ts) ++stats_.clock_drift_refusals;
  ++stats_.remote_applied;
  uint64_t created = crdt::hlc_timestamp{r.hlc}.physical_ms();
  uint64_t latency = now_ms > created ? now_ms - created : 0;
  ++stats_.sync_latency_count;
  stats_.sync_latency_sum_ms += latency;
  stats_.sync_latency_max_ms = std::max(stats_.sync_latency_max_ms, latency);
  ready_.changes.push_back(change{r.key, r.type, e.origin});
  to_push_.emplace_back(e, from);
  return true;
}

std::vector<delta_entry> replica::log_entries_after(const version_vector& have, size_t max_count,
                                                    size_t max_bytes, bool& more,
                                                    std::vector<node_id>* truncated_origins) const {
  std::vector<delta_entry> out;
  size_t bytes = 0;
  more = false;
  for (const auto& [origin, mine] : vv_.entries()) {
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

void replica::flush_push() {
  if (to_push_.empty()) return;
  auto peers = live_peer_ids();
  std::shuffle(peers.begin(), peers.end(), rng_);
  size_t n = std::min(config_.fanout, peers.size());
  for (size_t i = 0; i < n; ++i) {
    push p;
    size_t bytes = 0;
    auto known = peer_vv_.find(peers[i]);
    for (auto& [e, source] : to_push_) {
      if (source == peers[i]) continue;  // never echo a delta to the peer it came from
      if (known != peer_vv_.end() && known->second.get(e.origin) >= e.seq) continue;  // it has it
      if (p.deltas.size() >= config_.max_deltas_per_message || bytes >= config_.max_message_bytes) {
        send(peers[i], std::move(p));
        p = push{};
        bytes = 0;
      }
      bytes += entry_bytes(e);
      p.deltas.push_back(e);
    }
    if (!p.deltas.empty()) send(peers[i], std::move(p));
  }
  to_push_.clear();
}

void replica::anti_entropy(uint64_t now_ms) {
  (void)now_ms;
  auto peers = live_peer_ids();
  if (peers.empty()) return;
  node_id peer = peers[rng_() % peers.size()];
  send(peer, sync_request{vv_});
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
  // (A dead member that returns is repaired by reconciliation.)
  if (auto stable = applied_by_all(live_peer_ids())) {
    bool changed = false;
    for (const auto& [origin, c] : stable->entries()) {
      if (c > truncated_.get(origin)) {
        cur_.truncate_deltas(origin, c);
        truncated_.set(origin, c);
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

void replica::collect_tombstones(const version_vector& stable_everywhere) {
  std::vector<std::string> listed;
  auto st = store_.scan_meta(persistence::key_range::with_prefix(meta_tombstone),
                             [&](std::string_view name, std::string_view) {
                               listed.emplace_back(name.substr(meta_tombstone.size()));
                               return listed.size() < 4096;
                             });
  if (!st) return;
  for (const std::string& skey : listed) {
    if (dirty_.count(skey) || erased_.count(skey)) continue;  // changed since; look again next round
    auto old = load(skey);
    if (!old || !*old) continue;
    // Collectable once every voting member has applied every update that touched the key: no
    // replica then holds what the deletion removed, and no such delta is applied again anywhere.
    if (!(*old)->value.holds_nothing() || !(*old)->kv.leq(stable_everywhere)) continue;
    // Every origin that touched the key must be a member this node knows (or one reaped): a node
    // that wrote to it but that this node has not heard of may still hold what was removed.
    bool origins_known = true;
    for (const auto& [origin, c] : (*old)->kv.entries())
      origins_known = origins_known && (origin == self_ || members_->find(origin) || reaped_.get(origin) != 0);
    if (!origins_known) continue;
    uint32_t bucket = digests_.apply(skey, bucket_digests::value_hash((*old)->record), std::nullopt);
    std::string b = be32(bucket);
    cur_.erase_value(skey);
    cur_.erase_meta(std::string(meta_index) + b + skey);
    cur_.put_meta(std::string(meta_digest) + b, le64(digests_.digest(bucket)));
    cur_.erase_meta(std::string(meta_tombstone) + skey);
    // Until the erase commits, reads must not see the stored tombstone (a write based on it would
    // skip the t/ marker and remove its hash from the digest twice).
    erased_[skey] = next_batch_id_;
    batch_keys_.push_back(skey);
    ++stats_.tombstones_collected;
  }
}

result<uint64_t> replica::stored_tombstones() const {
  uint64_t n = 0;
  auto st = store_.scan_meta(persistence::key_range::with_prefix(meta_tombstone), [&](std::string_view, std::string_view) {
    ++n;
    return true;
  });
  if (!st) return st.err();
  return n;
}

uint64_t replica::delta_log_size() const noexcept {
  uint64_t n = 0;
  for (const auto& [origin, c] : vv_.entries()) n += c - std::min(c, truncated_.get(origin));
  return n;
}

// ---------------------------------------------------------------------------------------------
// ticks and messages

void replica::tick(uint64_t now_ms) {
  now_ms_ = now_ms;
  if (failed_) return;
  members_->tick(now_ms, step_messages_);
  flush_push();
  if (now_ms - last_gossip_ms_ >= config_.gossip_interval_ms) {
    last_gossip_ms_ = now_ms;
    anti_entropy(now_ms);
    maybe_truncate();
  }
  expire(now_ms);
  end_step();
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
        } else if constexpr (std::is_same_v<M, push>) {
          auto& known = peer_vv_[from];
          for (const auto& e : msg.deltas) {
            offer(e, from, now_ms);
            // The sender holds what it pushes: remember it, so we never push it back.
            if (known.get(e.origin) + 1 == e.seq) known.set(e.origin, e.seq);
          }
          if (msg.want_ack) send(from, push_ack{vv_});
        } else if constexpr (std::is_same_v<M, push_ack>) {
          peer_vv_[from].merge(msg.applied);
          check_write_waits();
        } else if constexpr (std::is_same_v<M, sync_request>) {
          peer_vv_[from] = msg.vv;
          sync_response r;
          r.vv = vv_;
          r.deltas = log_entries_after(msg.vv, config_.max_deltas_per_message, config_.max_message_bytes,
                                       r.more, &r.truncated);
          send(from, std::move(r));
          check_write_waits();
        } else if constexpr (std::is_same_v<M, sync_response>) {
          on_sync_response(from, msg, now_ms);
        } else if constexpr (std::is_same_v<M, read_request>) {
          auto states = validate_user_key(msg.key) ? read_all_types(msg.key)
                                                   : result<std::vector<key_state>>{std::vector<key_state>{}};
          send(from, read_response{msg.id, states ? std::move(*states) : std::vector<key_state>{}});
        } else if constexpr (std::is_same_v<M, read_response>) {
          for (auto it = read_waits_.begin(); it != read_waits_.end(); ++it) {
            if (it->request != msg.id) continue;
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
        }
        // hello is the transport's business.
      },
      m);
  end_step();
}

void replica::on_sync_response(node_id from, const sync_response& r, uint64_t now_ms) {
  peer_vv_[from] = r.vv;
  if (!bootstrapped_) {
    if (repairs_.empty()) start_repair(from, r.vv, std::numeric_limits<uint64_t>::max(), now_ms);
    return;
  }
  for (const auto& e : r.deltas) offer(e, from, now_ms);
  if (r.more) send(from, sync_request{vv_});
  // Push-pull: send back what the responder lacks (bounded; the rest next round).
  bool more = false;
  auto back = log_entries_after(r.vv, config_.max_deltas_per_message, config_.max_message_bytes, more, nullptr);
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

// ---------------------------------------------------------------------------------------------
// repair: reconciliation of stored bucket digests, or a full transfer

void replica::start_repair(node_id peer, const version_vector& peer_vv, uint64_t estimate, uint64_t now_ms) {
  ++stats_.repairs_started;
  // A key that differs changes one bucket digest on each side: two IBLT pairs per difference.
  uint64_t pairs = estimate > config_.full_sync_threshold ? config_.full_sync_threshold : estimate;
  recon_session s{next_session_++, peer, peer_vv, iblt_cells_for(2 * std::max<uint64_t>(pairs, 1)),
                  false, now_ms, false, {}, {}};
  if (!bootstrapped_ || vv_.empty() || estimate > config_.full_sync_threshold) {
    s.full = true;
    send(peer, full_sync_request{s.id, {}});
  } else {
    send(peer, recon_request{s.id, digests_.to_iblt(s.cells).cells()});
  }
  repairs_.emplace(s.id, s);
}

result<std::map<std::string, uint64_t>> replica::bucket_contents(uint32_t bucket) const {
  std::map<std::string, uint64_t> out;
  std::string prefix = std::string(meta_index) + be32(bucket);
  auto st = store_.scan_meta(persistence::key_range::with_prefix(prefix),
                             [&](std::string_view name, std::string_view bytes) {
                               if (auto h = read_le64(bytes)) out[std::string(name.substr(prefix.size()))] = *h;
                               return true;
                             });
  if (!st) return st.err();
  // Uncommitted collections and writes of this replica.
  for (auto& [skey, batch] : erased_)
    if (bucket_digests::bucket_of(skey, config_.bucket_bits) == bucket) out.erase(skey);
  for (auto& [skey, entry] : dirty_)
    if (bucket_digests::bucket_of(skey, config_.bucket_bits) == bucket)
      out[skey] = bucket_digests::value_hash(entry.first);
  return out;
}

std::optional<std::set<uint32_t>> replica::differing_buckets(const std::vector<iblt_cell>& cells) const {
  auto theirs = iblt::from_cells(cells);
  if (!theirs) return std::nullopt;
  iblt mine = digests_.to_iblt(cells.size());
  mine.subtract(*theirs);
  auto diff = mine.decode();
  if (!diff) return std::nullopt;
  std::set<uint32_t> buckets;
  for (auto& [b, d] : diff->only_here)
    if (b < digests_.bucket_count()) buckets.insert(b);
  for (auto& [b, d] : diff->only_there)
    if (b < digests_.bucket_count()) buckets.insert(b);
  return buckets;
}

bool replica::describe_bucket(uint32_t bucket, recon_buckets& out) const {
  auto contents = bucket_contents(bucket);
  if (!contents) return false;
  std::vector<hashed_key> hashed;
  std::set<uint64_t> seen;
  for (auto& [k, h] : *contents) {
    uint64_t kh = bucket_digests::key_hash(k);
    if (!seen.insert(kh).second) {
      // Two keys share a key hash: the requester could not tell them apart.
      bucket_keys bk{bucket, {}};
      for (auto& [k2, h2] : *contents) bk.keys.push_back(key_hash{k2, h2});
      out.buckets.push_back(std::move(bk));
      return true;
    }
    hashed.push_back(hashed_key{kh, h});
  }
  out.hashed_buckets.push_back(bucket);
  out.hashed.insert(out.hashed.end(), hashed.begin(), hashed.end());
  return true;
}

void replica::on_recon_request(node_id from, const recon_request& r) {
  recon_buckets out{r.session, false, {}, {}, {}};
  if (auto buckets = differing_buckets(r.cells)) {
    out.decoded = true;
    for (uint32_t b : *buckets) {
      if (!describe_bucket(b, out)) {
        out = recon_buckets{r.session, false, {}, {}, {}};
        break;
      }
    }
  }
  send(from, std::move(out));
}

bool replica::compare_bucket(const std::map<std::string, uint64_t>& mine,
                             const std::map<std::string, uint64_t>& theirs, recon_session& s, state_push& out) {
  for (auto& [k, h] : theirs) {
    auto m = mine.find(k);
    if (m == mine.end() || m->second != h) out.wanted.push_back(k);
    if (m != mine.end() && m->second != h) s.asked.insert(k);
  }
  for (auto& [k, h] : mine) {
    // Keys the responder lacks go over now (unless it had applied every update we hold of them:
    // then it collected them, and ours are dead); keys both hold in different versions are
    // fetched first and sent back only if our join still differs from theirs (on_state_push).
    if (theirs.count(k)) continue;
    if (auto v = retire_dead(k, s.peer_vv)) out.states.push_back(key_state{k, std::move(*v)});
  }
  return true;
}

bool replica::compare_hashed_bucket(const std::map<std::string, uint64_t>& mine,
                                    const std::map<uint64_t, uint64_t>& theirs, recon_session& s, state_push& out) {
  struct ours {
    uint64_t value_hash = 0;
    size_t keys = 0;  // our keys with this key hash (more than one: about 2^-64)
  };
  std::map<uint64_t, ours> by_hash;
  for (auto& [k, h] : mine) {
    ours& o = by_hash[bucket_digests::key_hash(k)];
    o.value_hash = h;
    ++o.keys;
  }
  for (auto& [kh, h] : theirs) {
    auto m = by_hash.find(kh);
    if (m == by_hash.end() || m->second.keys != 1 || m->second.value_hash != h) out.wanted_hashes.push_back(kh);
  }
  for (auto& [k, h] : mine) {
    // As in compare_bucket: what the peer lacks goes over now (or is retired); keys both hold are
    // fetched first. Keys sharing a key hash cannot be compared by hash: they go over, and the
    // peer's is fetched.
    uint64_t kh = bucket_digests::key_hash(k);
    auto t = theirs.find(kh);
    if (t != theirs.end() && by_hash[kh].keys == 1) {
      if (t->second != h) s.asked.insert(k);
      continue;
    }
    if (t == theirs.end()) {
      if (auto v = retire_dead(k, s.peer_vv)) out.states.push_back(key_state{k, std::move(*v)});
      continue;
    }
    auto v = read_encoded(k);
    if (!v) return false;
    if (*v) out.states.push_back(key_state{k, **v});
  }
  return true;
}

void replica::on_recon_buckets(node_id from, const recon_buckets& r, uint64_t now_ms) {
  auto it = repairs_.find(r.session);
  if (it == repairs_.end() || it->second.peer != from) return;
  recon_session& s = it->second;
  s.last_progress_ms = now_ms;
  if (!r.decoded) {
    s.cells *= 2;  // the difference was bigger than estimated
    if (s.cells > iblt_cells_for(config_.full_sync_threshold)) {
      s.full = true;
      send(from, full_sync_request{s.id, {}});
    } else {
      send(from, recon_request{s.id, digests_.to_iblt(s.cells).cells()});
    }
    return;
  }
  // One comparison per session: a duplicated answer must not send a second request, whose
  // answer could be taken for the answer of the first (keys missing from it are retired).
  if (s.compared) return;
  s.compared = true;
  state_push out{s.id, {}, {}, {}};
  for (const auto& bk : r.buckets) {
    if (bk.bucket >= digests_.bucket_count()) continue;
    auto mine = bucket_contents(bk.bucket);
    if (!mine) return;
    std::map<std::string, uint64_t> theirs;
    for (auto& kh : bk.keys) theirs[kh.key] = kh.value_hash;
    if (!compare_bucket(*mine, theirs, s, out)) return;
  }
  std::map<uint32_t, std::map<uint64_t, uint64_t>> hashed;  // bucket -> key hash -> value hash
  for (uint32_t b : r.hashed_buckets)
    if (b < digests_.bucket_count()) hashed[b];
  for (const auto& hk : r.hashed) {
    auto it = hashed.find(bucket_digests::bucket_of_hash(hk.key_hash, digests_.bucket_bits()));
    if (it != hashed.end()) it->second[hk.key_hash] = hk.value_hash;  // else not a listed bucket
  }
  for (const auto& [b, theirs] : hashed) {
    auto mine = bucket_contents(b);
    if (!mine) return;
    if (!compare_hashed_bucket(*mine, theirs, s, out)) return;
  }
  if (out.wanted.empty() && out.wanted_hashes.empty()) {
    // Nothing to fetch: our states go out (if any) and the repair is complete. They go without
    // the session: a state_push that carries a session and asks for nothing is a repair answer.
    out.session = 0;
    if (!out.states.empty()) send(from, std::move(out));
    finish_repair(s);
    repairs_.erase(it);
    return;
  }
  send(from, std::move(out));
}

void replica::on_state_push(node_id from, const state_push& r, uint64_t now_ms) {
  auto session = r.session ? repairs_.find(r.session) : repairs_.end();
  bool asks = !r.wanted.empty() || !r.wanted_hashes.empty();
  bool repair_answer = session != repairs_.end() && session->second.peer == from && !asks;
  std::vector<key_state> send_back;
  std::set<std::string> answered;
  for (const auto& s : r.states) {
    join_state(s, repair_answer ? &session->second.peer_vv : nullptr);
    if (!repair_answer) continue;
    answered.insert(s.key);
    // Both sides held this key: if our join has more than theirs, they need it too.
    auto mine = read_encoded(s.key);
    if (mine && *mine && **mine != s.value) send_back.push_back(key_state{s.key, **mine});
  }
  if (!send_back.empty() && !repair_answer) send(from, state_push{0, std::move(send_back), {}, {}});
  if (asks) {
    send(from, answer_wanted(r));
    return;
  }
  if (!repair_answer) return;
  // Keys we asked for that the responder no longer holds: it collected them since it listed them.
  for (const auto& k : session->second.asked)
    if (!answered.count(k))
      if (auto v = retire_dead(k, session->second.peer_vv)) send_back.push_back(key_state{k, std::move(*v)});
  if (!send_back.empty()) send(from, state_push{0, std::move(send_back), {}, {}});
  session->second.last_progress_ms = now_ms;
  finish_repair(session->second);
  repairs_.erase(session);
}

state_push replica::answer_wanted(const state_push& r) const {
  state_push answer{r.session, {}, {}, {}};
  for (const auto& k : r.wanted) {
    auto v = read_encoded(k);
    if (v && *v) answer.states.push_back(key_state{k, **v});
  }
  std::map<uint32_t, std::map<uint64_t, std::vector<std::string>>> by_bucket;  // bucket -> hash -> keys
  for (uint64_t h : r.wanted_hashes) {
    uint32_t b = bucket_digests::bucket_of_hash(h, digests_.bucket_bits());
    auto [it, fresh] = by_bucket.try_emplace(b);
    if (fresh) {
      auto contents = bucket_contents(b);
      if (!contents) continue;
      for (auto& [k, vh] : *contents) it->second[bucket_digests::key_hash(k)].push_back(k);
    }
    auto keys = it->second.find(h);
    if (keys == it->second.end()) continue;  // no longer here
    for (const auto& k : keys->second) {
      auto v = read_encoded(k);
      if (v && *v) answer.states.push_back(key_state{k, **v});
    }
    it->second.erase(keys);  // a hash asked twice is answered once
  }
  return answer;
}

void replica::on_full_sync_request(node_id from, const full_sync_request& r) {
  full_sync_chunk out{r.session, {}, true};
  size_t bytes = 0;
  auto range = r.after_key.empty() ? persistence::key_range::all()
                                   : persistence::key_range::starting_at(r.after_key + std::string(1, '\0'));
  auto st = store_.scan_values(range, [&](std::string_view k, std::string_view v) {
    if (bytes >= config_.max_message_bytes) {
      out.done = false;
      return false;
    }
    bytes += k.size() + v.size();
    out.states.push_back(key_state{std::string(k), std::string(v)});
    return true;
  });
  if (!st) return;
  send(from, std::move(out));
}

void replica::on_full_sync_chunk(node_id from, const full_sync_chunk& r, uint64_t now_ms) {
  auto it = repairs_.find(r.session);
  if (it == repairs_.end() || it->second.peer != from) return;
  recon_session& session = it->second;
  // Chunks carry the responder's keys in order, each one continuing after the last key of the one
  // before (the request says where). One that does not is a duplicate of an earlier chunk.
  if (!r.states.empty() && session.streamed_to && r.states.front().key <= *session.streamed_to) return;
  session.last_progress_ms = now_ms;
  std::set<std::string> carried;
  for (const auto& s : r.states) {
    join_state(s, &session.peer_vv);
    carried.insert(s.key);
  }
  // The chunk covers the key space from after the previous chunk's last key to its own last key
  // (to the end, for the last chunk), read after the repair began. Our keys there that it does not
  // carry the responder did not hold: it collected those whose updates it had all applied
  // (retire_dead); the rest it lacks, and pulls from us by its own anti-entropy.
  bool last = r.done || r.states.empty();
  persistence::key_range covered = session.streamed_to ? persistence::key_range::starting_at(*session.streamed_to + '\0')
                                                       : persistence::key_range::all();
  if (!last) covered.to = r.states.back().key + '\0';
  retire_uncarried(covered, carried, session.peer_vv);
  if (!last) {
    session.streamed_to = r.states.back().key;
    send(from, full_sync_request{r.session, r.states.back().key});
    return;
  }
  finish_repair(session);
  repairs_.erase(it);
}

void replica::retire_uncarried(const persistence::key_range& range, const std::set<std::string>& carried,
                               const version_vector& peer_vv) {
  std::vector<std::string> absent;
  (void)store_.scan_values(range, [&](std::string_view k, std::string_view) {
    if (!carried.count(std::string(k))) absent.emplace_back(k);
    return true;
  });
  for (auto d = dirty_.lower_bound(range.from); d != dirty_.end() && !range.past_end(d->first); ++d)
    if (!carried.count(d->first)) absent.push_back(d->first);
  std::sort(absent.begin(), absent.end());
  absent.erase(std::unique(absent.begin(), absent.end()), absent.end());
  for (const auto& k : absent) (void)retire_dead(k, peer_vv);
}

void replica::finish_repair(recon_session& s) {
  // Our values now contain everything the peer held when the repair began, so we hold every
  // delta its vector covered. Their log entries are missing here: record them as truncated.
  ++stats_.repairs_finished;
  for (const auto& [origin, c] : s.peer_vv.entries()) {
    if (c <= vv_.get(origin)) continue;
    vv_.set(origin, c);
    truncated_.raise(origin, c);
    vv_dirty_ = true;
  }
  cur_.put_meta(meta_truncated, encode_vv(truncated_));
  if (!bootstrapped_ && s.full) {
    bootstrapped_ = true;
    cur_.put_meta(meta_bootstrapped, "1");
  }
  for (auto it = reorder_.begin(); it != reorder_.end();)
    it = it->first.second <= vv_.get(it->first.first) ? reorder_.erase(it) : std::next(it);
}

}  // namespace rumor::replication
