// replica, or_sets stored decomposed (set_records.hpp): a header in the value table, one record
// per element and one per element dot in the meta table.
//
// Contract of this part:
// - load_set() reads the header and the named members' records (or all of them), giving a window
//   (or_set::window) onto the set; load_set_dots() adds the members holding the dots a delta's
//   context covers (found through the dot index), so the window holds every element the delta can
//   change. A join or an or_set add/remove on the window changes only those.
// - write_set() writes what changed between the loaded elements and the window: element and dot
//   index records through dirty_meta_ (batched like dirty_: once per batch), then the header
//   through put_record (digest, tombstone marker, dirty_). The header's count and element hash sum
//   are kept from the difference, never recounted.
// - A key still holding an older build's whole record loads as a whole set with no element
//   records; its first write writes every element (the migration).
// - read_meta/scan_meta_range see the uncommitted element records (dirty_meta_) over the store.

#include "replication/replica.hpp"

#include <set>

#include "crdt/codec.hpp"
#include "replication/element_writes.hpp"
#include "replication/map_records.hpp"
#include "replication/replica_internal.hpp"
#include "replication/set_records.hpp"
#include "replication/storage_key.hpp"
#include "replication/stored_value.hpp"

namespace rumor::replication {

using namespace detail;

result<std::optional<std::string>> replica::read_meta(const std::string& name, bool committed) const {
  if (auto it = dirty_meta_.find(name); !committed && it != dirty_meta_.end()) return it->second.first;
  return store_.get_meta(name);
}

status replica::scan_meta_range(const persistence::key_range& range,
                                const std::function<bool(std::string_view, std::string_view)>& visit,
                                bool committed) const {
  // The store's records merged with the uncommitted ones, which decide where both have a name.
  auto ov = committed ? dirty_meta_.end() : dirty_meta_.lower_bound(range.from);
  auto in_range = [&] { return ov != dirty_meta_.end() && !range.past_end(ov->first); };
  bool stopped = false;
  auto emit_overlay = [&]() {  // the overlay entry at ov; false: the visitor stopped
    const auto& [name, entry] = *ov;
    ++ov;
    return !entry.first || visit(name, *entry.first);
  };
  auto st = store_.scan_meta(range, [&](std::string_view name, std::string_view bytes) {
    while (in_range() && ov->first < name)
      if (!emit_overlay()) return !(stopped = true);
    if (in_range() && ov->first == name) {
      if (!emit_overlay()) return !(stopped = true);
      return true;
    }
    if (!visit(name, bytes)) return !(stopped = true);
    return true;
  });
  if (!st) return st;
  while (!stopped && in_range())
    if (!emit_overlay()) break;
  return {};
}

void replica::put_meta_now(const std::string& name, std::string bytes) {
  dirty_meta_[name] = {std::move(bytes), next_batch_id_};
  batch_keys_.push_back(name);
}

void replica::erase_meta_now(const std::string& name) {
  dirty_meta_[name] = {std::nullopt, next_batch_id_};
  batch_keys_.push_back(name);
}

namespace {

error corrupt_set(std::string_view what) { return error{errc::corrupt, "stored set: " + std::string(what)}; }

crdt::or_set window_of(const std::map<std::string, crdt::dot_set>& loaded, crdt::dot_context ctx, uint64_t count) {
  crdt::dot_map<std::string, crdt::dot_set> m;
  for (const auto& [member, dots] : loaded) m.set(member, dots);
  uint64_t hidden = count > loaded.size() ? count - loaded.size() : 0;
  return crdt::or_set::window(std::move(m), std::move(ctx), hidden);
}

}  // namespace

result<crdt::dot_context> replica::read_header(decomposed_window& w, const std::string& raw) {
  auto h = set_records::decode_header(raw);
  if (!h) return h.err();
  w.kv = std::move(h->kv);
  w.count = h->count;
  w.element_sum = h->element_sum;
  return std::move(h->ctx);
}

result<replica::set_window> replica::load_set(const std::string& skey, const std::optional<std::string>& raw,
                                              const std::vector<std::string>* members, bool committed) const {
  set_window w;
  w.id = set_records::set_id(skey);
  w.old_raw = raw;
  if (raw && !set_records::is_header(*raw)) {
    // An older build's whole record: the whole set, no element records yet.
    auto whole = set_records::decode_whole_set(*raw);
    if (!whole) return whole.err();
    w.stored_whole = true;
    w.kv = std::move(whole->kv);
    w.set = std::move(whole->set);
    w.count = w.set.size();
    for (const auto& [m, dots] : w.set.store().entries()) w.whole_before.emplace(m, dots);
    return w;
  }
  crdt::dot_context ctx;
  if (raw) {
    auto header_ctx = read_header(w, *raw);
    if (!header_ctx) return header_ctx.err();
    ctx = std::move(*header_ctx);
    if (members) {
      for (const auto& m : *members) {
        if (w.before.count(m)) continue;
        auto rec = read_meta(set_records::element_name(w.id, set_records::member_key(m)), committed);
        if (!rec) return rec.err();
        if (!*rec) continue;
        auto el = set_records::decode_element(**rec);
        if (!el) return el.err();
        if (el->member != m) return corrupt_set("two members share an element key");
        w.before.emplace(m, std::move(el->dots));
      }
    } else {
      auto st = scan_records(persistence::key_range::with_prefix(set_records::element_prefix(w.id)),
                             [&](std::string_view bytes) -> status {
                               auto el = set_records::decode_element(bytes);
                               if (!el) return el.err();
                               w.before.emplace(std::move(el->member), std::move(el->dots));
                               return {};
                             }, committed);
      if (!st) return st.err();
      if (w.before.size() != w.count) return corrupt_set("its header counts " + std::to_string(w.count) +
                                                         " elements, its records " + std::to_string(w.before.size()));
    }
  }
  w.set = window_of(w.before, std::move(ctx), w.count);
  return w;
}

status replica::read_indexed(const std::string& id, const crdt::dot_context& mine, const std::set<crdt::dot>& held,
                             const crdt::dot_context& delta_ctx,
                             const std::function<status(std::string_view)>& take) const {
  std::set<std::string> keys;
  for (const auto& d : delta_ctx.cloud()) {
    if (!mine.contains(d) || held.count(d)) continue;
    auto k = read_meta(set_records::dot_name(id, d));
    if (!k) return k.err();
    if (*k) keys.insert(std::move(**k));
  }
  for (const auto& [node, counter] : delta_ctx.compact_part().entries()) {
    // Every dot of `node` up to `counter`: the value's live ones are a range of the index.
    auto range = persistence::key_range::between(set_records::dot_name(id, {node, 1}),
                                                 set_records::dot_name(id, {node, counter}) + '\0');
    auto st = scan_meta_range(range, [&](std::string_view, std::string_view k) {
      keys.emplace(k);
      return true;
    });
    if (!st) return st;
  }
  for (const auto& k : keys) {
    auto rec = read_meta(set_records::element_name(id, k));
    if (!rec) return rec.err();
    if (!*rec) return error{errc::corrupt, "a dot index record names a missing element record"};
    if (auto st = take(**rec); !st) return st;
  }
  return {};
}

status replica::scan_records(const persistence::key_range& range,
                             const std::function<status(std::string_view)>& take, bool committed) const {
  std::optional<error> bad;
  auto st = scan_meta_range(range, [&](std::string_view, std::string_view bytes) {
    if (auto ok = take(bytes); !ok) bad = ok.err();
    return !bad;
  }, committed);
  if (!st) return st;
  if (bad) return *bad;
  return {};
}

status replica::load_set_dots(set_window& w, const crdt::dot_context& ctx) const {
  if (w.stored_whole || w.count == w.before.size()) return {};  // every element is loaded
  std::set<crdt::dot> held;
  for (const auto& [m, dots] : w.before)
    for (const auto& d : dots.dots()) held.insert(d);
  bool grew = false;
  auto st = read_indexed(w.id, w.set.context(), held, ctx, [&](std::string_view record) -> status {
    auto el = set_records::decode_element(record);
    if (!el) return el.err();
    grew |= w.before.emplace(std::move(el->member), std::move(el->dots)).second;
    return {};
  });
  if (!st) return st;
  if (grew) w.set = window_of(w.before, w.set.context(), w.count);
  return {};
}

namespace {

// An or_set's elements as element_writes.hpp writes them.
struct element_codec {
  std::string key_bytes(const std::string& member) const { return set_records::member_key(member); }
  std::string encode(const std::string& member, const crdt::dot_set& dots) const {
    return set_records::encode_element(member, dots);
  }
  const std::vector<crdt::dot>& dots(const crdt::dot_set& d) const { return d.dots(); }
};

}  // namespace

set_diff replica::write_set(const std::string& skey, const set_window& w, const version_vector& kv) {
  set_diff diff;
  element_totals from = w.stored_whole ? element_totals{} : element_totals{w.count, w.element_sum};
  auto totals = write_elements(
      w.id, w.before, w.set.store(), from, element_codec{},
      [&](const std::string& name, std::string bytes) { put_meta_now(name, std::move(bytes)); },
      [&](const std::string& name) { erase_meta_now(name); },
      [&](const std::string& member, bool was, bool is) {
        // An element's dots changing is no news; an older build's whole record has no element
        // records, so its members are compared below instead.
        if (was != is && !w.stored_whole) diff.note(member, was, is);
      });
  if (w.stored_whole)
    compare_elements(w.whole_before, w.set.store(), [&](const std::string& m, const crdt::dot_set* old, const crdt::dot_set* now) {
      if (!old != !now) diff.note(m, old != nullptr, now != nullptr);
    });
  set_records::header h{kv, totals.count, totals.sum, w.set.context()};
  bool old_held_nothing = w.old_raw && w.count == 0;
  put_record(skey, set_records::encode_header(h), w.old_raw, old_held_nothing, totals.count == 0);
  diff.size = totals.count;
  return diff;
}

result<set_diff> replica::apply_set_delta(const std::string& skey, const crdt::or_set& delta,
                                          const version_vector& deps, node_id origin, uint64_t seq) {
  auto raw = read_raw(skey);
  if (!raw) return raw.err();
  std::vector<std::string> named;
  named.reserve(delta.store().size());
  for (const auto& [m, dots] : delta.store().entries()) named.push_back(m);
  auto w = load_set(skey, *raw, &named);
  if (!w) return w.err();
  if (auto st = load_set_dots(*w, delta.context()); !st) return st.err();
  w->set.join(delta);
  version_vector kv = w->kv;
  kv.merge(deps);
  kv.raise(origin, seq);
  return write_set(skey, *w, kv);
}

result<std::string> replica::whole_record(const std::string& skey, std::string raw, bool committed) const {
  if (map_records::is_header(raw)) {
    auto w = load_map(skey, raw, nullptr, committed);
    if (!w) return w.err();
    return encode_stored(w->kv, crdt::encode(crdt::value{w->map}));
  }
  if (!set_records::is_header(raw)) return raw;
  auto w = load_set(skey, raw, nullptr, committed);
  if (!w) return w.err();
  return encode_stored(w->kv, crdt::encode(crdt::value{w->set}));
}

}  // namespace rumor::replication

namespace rumor::replication {

result<std::optional<set_view>> replica::view_set(std::string_view user_key, const set_view_request& q) const {
  if (auto ok = validate_user_key(user_key); !ok) return ok.err();
  auto states = read_all_types_raw(user_key);
  if (!states) return states.err();
  const std::string skey = storage_key(user_key, crdt::type_tag::or_set);
  // Only a key holding just a non-empty decomposed set; the rest is read whole (as without a view).
  if (states->size() != 1 || states->front().key != skey || !set_records::is_header(states->front().value) ||
      !q.path.empty() || q.what == set_view_request::kind::value)
    return std::optional<set_view>{};
  auto h = set_records::decode_header(states->front().value);
  if (!h) return h.err();
  if (h->count == 0) return std::optional<set_view>{};
  set_view out;
  out.size = h->count;
  const std::string id = set_records::set_id(skey);
  auto decode = [&](std::string_view bytes) -> result<set_records::element> {
    auto el = set_records::decode_element(bytes);
    if (!el) return error{errc::corrupt, "stored set '" + std::string(user_key) + "': " + el.err().message};
    return el;
  };
  if (q.what == set_view_request::kind::member) {
    auto rec = read_meta(set_records::element_name(id, set_records::member_key(q.member)));
    if (!rec) return rec.err();
    if (*rec) {
      auto el = decode(**rec);
      if (!el) return el.err();
      out.contains = el->member == q.member;
    }
  } else if (q.what == set_view_request::kind::page) {
    const std::string prefix = set_records::element_prefix(id);
    persistence::key_range range = persistence::key_range::with_prefix(prefix);
    if (q.after) range.from = set_records::element_name(id, set_records::member_key(*q.after)) + '\0';
    std::optional<error> bad;
    auto st = scan_meta_range(range, [&](std::string_view, std::string_view bytes) {
      if (out.members.size() == q.limit) {
        out.more = true;
        return false;
      }
      auto el = decode(bytes);
      if (!el) {
        bad = el.err();
        return false;
      }
      out.members.push_back(std::move(el->member));
      return true;
    });
    if (!st) return st.err();
    if (bad) return *bad;
  }
  return std::optional<set_view>{std::move(out)};
}

}  // namespace rumor::replication
