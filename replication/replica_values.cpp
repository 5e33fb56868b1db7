// replica, values: reading and writing stored values (records: stored_value.hpp).
//
// Contract of this part:
// - Every read goes through the uncommitted overlay over the store: dirty_ (records written by
//   batches not yet committed) and erased_ (keys collected by such batches). A step thus sees the
//   writes of every earlier step before they are durable. read_raw() returns a record as stored
//   (an or_set's: its header, set_records.hpp); read_encoded(), load() and read_all_types() the
//   whole value (a set assembled from its records); get() and keys() are the public queries.
// - Values are stored under their value key (value_layout.hpp: hash prefix ‖ storage key); every
//   other name here is a storage key.
// - put_record() is the only writer of a value-table record: write_value() (any type; a set's
//   write goes through write_set, replica_sets.cpp) and write_set() call it. Into the open batch (cur_) it puts the key's
//   bucket digest (meta d/) and the tombstone marker t/
//   (put when the value comes to hold nothing, erased when it holds something again); it records
//   the key in dirty_ and batch_keys_, stamped with the open batch's id (next_batch_id_); the
//   record itself goes into the batch when it closes (put_batch_values), once per batch.
// - join_state() joins a peer's state of one key, leaving out dead dots (PROTOCOL.md, "Key
//   deletion"): a state of a key collected here is dropped; a changed value (or a record in an
//   older format) is written and, if the value changed, reported in ready_.changes.

#include "replication/replica.hpp"

#include <set>

#include "crdt/codec.hpp"
#include "replication/map_records.hpp"
#include "replication/replica_internal.hpp"
#include "replication/set_records.hpp"
#include "replication/storage_key.hpp"
#include "replication/stored_value.hpp"
#include "replication/value_layout.hpp"

namespace rumor::replication {

using namespace detail;

result<std::optional<std::string>> replica::read_raw(const std::string& skey) const {
  if (auto it = dirty_.find(skey); it != dirty_.end()) return std::optional<std::string>{it->second.first};
  if (erased_.count(skey)) return std::optional<std::string>{};  // collected, not yet committed
  return store_.get_value(value_key(skey));
}

result<std::optional<std::string>> replica::read_encoded(const std::string& skey) const {
  auto raw = read_raw(skey);
  if (!raw || !*raw) return raw;
  auto whole = whole_record(skey, std::move(**raw));
  if (!whole) return whole.err();
  return std::optional<std::string>{std::move(*whole)};
}

bool replica::touches_uncommitted(std::string_view user_key) const {
  // Storage keys of `user_key` are one contiguous range of each map.
  const std::string prefix = storage_key_prefix(user_key);
  auto d = dirty_.lower_bound(prefix);
  if (d != dirty_.end() && d->first.starts_with(prefix)) return true;
  auto e = erased_.lower_bound(prefix);
  return e != erased_.end() && e->first.starts_with(prefix);
}

result<std::optional<replica::loaded>> replica::load(const std::string& skey) const {
  auto rec = read_raw(skey);
  if (!rec) return rec.err();
  if (!*rec) return std::optional<loaded>{};
  if (set_records::is_header(**rec)) {
    auto w = load_set(skey, *rec, nullptr);
    if (!w) return w.err();
    return std::optional<loaded>{loaded{crdt::value{std::move(w->set)}, std::move(w->kv), std::move(**rec)}};
  }
  if (map_records::is_header(**rec)) {
    auto w = load_map(skey, *rec, nullptr);
    if (!w) return w.err();
    return std::optional<loaded>{loaded{crdt::value{std::move(w->map)}, std::move(w->kv), std::move(**rec)}};
  }
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
  auto out = read_all_types_raw(user_key);
  if (!out) return out;
  // A set's or map's header becomes its whole record.
  for (auto& st : *out) {
    if (!set_records::is_decomposed(st.value)) continue;
    auto whole = whole_record(st.key, std::move(st.value));
    if (!whole) return whole.err();
    st.value = std::move(*whole);
  }
  return out;
}

result<std::vector<key_state>> replica::read_all_types_raw(std::string_view user_key) const {
  // One point read per type (store_.get_values: one moment, no ordered scan of the write-behind
  // layers), then this replica's uncommitted writes and collections on top. A record that fails
  // verification is left out, as a scan leaves it out (it is quarantined).
  std::vector<std::string> skeys;
  skeys.reserve(crdt::last_type_tag - crdt::first_type_tag + 1);
  std::vector<std::string> vkeys;
  vkeys.reserve(skeys.capacity());
  for (uint8_t t = crdt::first_type_tag; t <= crdt::last_type_tag; ++t) {
    skeys.push_back(storage_key(user_key, static_cast<crdt::type_tag>(t)));
    vkeys.push_back(value_key(skeys.back()));
  }
  auto answers = store_.get_values(vkeys);
  // This replica's uncommitted writes and collections of the key: the storage keys of its types
  // are one contiguous range of dirty_ and of erased_ (user key ‖ '\0' ‖ type), found by one
  // search each rather than one per type.
  const std::string prefix = storage_key_prefix(user_key);
  auto d = dirty_.lower_bound(prefix);
  auto x = erased_.lower_bound(prefix);
  std::vector<key_state> out;
  for (std::size_t i = 0; i < skeys.size(); ++i) {
    const std::string& skey = skeys[i];
    while (d != dirty_.end() && d->first < skey && d->first.starts_with(prefix)) ++d;
    while (x != erased_.end() && x->first < skey && x->first.starts_with(prefix)) ++x;
    if (d != dirty_.end() && d->first == skey) {
      out.push_back(key_state{skey, d->second.first});
      continue;
    }
    if (x != erased_.end() && x->first == skey) continue;
    auto& a = answers[i];
    if (!a) {
      if (a.err().code == errc::corrupt) continue;
      return a.err();
    }
    if (*a) out.push_back(key_state{skey, std::move(**a)});
  }
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
  return list_keys(store_, prefix, limit, uncommitted_under(prefix));
}

replica::uncommitted_keys replica::uncommitted_under(std::string_view prefix) const {
  uncommitted_keys out;
  for (auto it = dirty_.lower_bound(std::string(prefix)); it != dirty_.end() && it->first.starts_with(prefix); ++it)
    out.written.emplace_back(it->first, it->second.first);
  for (const auto& [skey, batch] : erased_)
    if (skey.starts_with(prefix)) out.erased.push_back(skey);
  return out;
}

result<std::vector<std::pair<std::string, crdt::type_tag>>> replica::list_keys(const persistence::store& store,
                                                                               std::string_view prefix, size_t limit,
                                                                               const uncommitted_keys& mine) {
  // Deleted keys (values that hold nothing, kept until collection) are absent, as for get: the
  // newest record of each storage key decides (uncommitted ones in `mine` first). Values are in
  // hash order (value_layout.hpp), so this reads every one, keeping the `limit` smallest keys.
  std::set<std::string_view> written, erased(mine.erased.begin(), mine.erased.end());
  for (const auto& [skey, record] : mine.written) written.insert(skey);
  std::map<std::string, crdt::type_tag> found;
  auto collect = [&](std::string_view skey, std::string_view record) {
    if (!skey.starts_with(prefix)) return;
    auto p = parse_storage_key(skey);
    if (!p) return;
    if (found.size() >= limit && !found.empty() && std::prev(found.end())->first < p->user_key) return;
    if (erased.count(skey)) return;
    if (set_records::is_decomposed(record)) {
      auto h = set_records::decode_header(record);
      if (!h || h->count == 0) return;
    } else {
      auto d = decode_record(record);
      if (!d || d->value.holds_nothing()) return;
    }
    found.emplace(std::string(p->user_key), p->type);
    if (found.size() > limit) found.erase(std::prev(found.end()));
  };
  auto st = store.scan_values(persistence::key_range::all(), [&](std::string_view k, std::string_view v) {
    std::string_view skey = storage_key_of(k);
    if (!written.count(skey)) collect(skey, v);  // the uncommitted ones below
    return true;
  });
  if (!st) return st.err();
  for (const auto& [skey, record] : mine.written) collect(skey, record);
  return std::vector<std::pair<std::string, crdt::type_tag>>(found.begin(), found.end());
}

std::string replica::write_value(const std::string& skey, const crdt::value& v, const version_vector& kv,
                                 const std::optional<std::string>& old_record, bool old_held_nothing,
                                 std::optional<set_diff>* diff) {
  if (const auto* set = v.get_if<crdt::or_set>()) {
    // Decomposed (replica_sets.cpp): the stored elements are compared with v's. The caller has
    // just read this key, so a read error here is the store failing under us.
    auto w = load_set(skey, old_record, nullptr);
    if (!w) {
      failed_ = true;
      return {};
    }
    w->set = *set;
    auto d = write_set(skey, *w, kv);
    if (diff) *diff = std::move(d);
    return crdt::encode(v);
  }
  if (const auto* map = v.get_if<crdt::or_map>()) {
    auto w = load_map(skey, old_record, nullptr);  // as for a set
    if (!w) {
      failed_ = true;
      return {};
    }
    w->map = *map;
    auto d = write_map(skey, *w, kv);
    if (diff) *diff = std::move(d);
    return crdt::encode(v);
  }
  std::string encoded = crdt::encode(v);
  put_record(skey, encode_stored(kv, encoded), old_record, old_held_nothing, v.holds_nothing());
  return encoded;
}

void replica::put_record(const std::string& skey, std::string record, const std::optional<std::string>& old_record,
                         bool old_held_nothing, bool empty) {
  if (!texts_.empty()) forget_decoded(skey);  // a writer that keeps its text keeps it again after
  if (!old_record) ++value_records_;
  std::optional<uint64_t> old_hash;
  if (old_record) old_hash = bucket_digests::value_hash(*old_record);
  uint64_t new_hash = bucket_digests::value_hash(record);
  uint32_t bucket = digests_.apply(skey, old_hash, new_hash);
  cur_.put_meta(std::string(meta_digest) + be32(bucket), le64(digests_.digest(bucket)));
  // Deleted keys are listed so that collection need not scan every value (maybe_truncate).
  if (empty && !(old_record && old_held_nothing)) {
    cur_.put_meta(std::string(meta_tombstone) + skey, "1");
    tombstones_maybe_ = true;
    marker_batch_ = next_batch_id_;
  }
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
  if (v == before && kv == kv_before && (!*old || is_current_format((*old)->record, parsed->type))) return false;
  std::optional<set_diff> diff;
  write_value(s.key, v, kv, *old ? std::optional<std::string>{(*old)->record} : std::nullopt, was_empty, &diff);
  ++stats_.states_joined;
  if (!(v == before)) ready_.changes.push_back(change{std::string(parsed->user_key), parsed->type, 0, std::move(diff)});
  return true;
}

}  // namespace rumor::replication
