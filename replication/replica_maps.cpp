// replica, or_maps stored decomposed (map_records.hpp): a header in the value table, one record
// per top-level field and one per field dot in the meta table — the or_set's layout
// (replica_sets.cpp) with fields for elements.
//
// Contract of this part:
// - load_map() reads the header and the fields of the named names (every type), or all fields,
//   giving a window (or_map::window) onto the map; load_map_dots() adds the fields holding the
//   dots a delta's context covers (through the dot index), so the window holds every field the
//   delta can change. A join, or an or_map update/remove of a loaded name, changes only those.
// - write_map() writes what changed between the loaded fields and the window: field and dot index
//   records through dirty_meta_, then the header through put_record. The header's count and field
//   hash sum are kept from the difference, never recounted. It returns what the write did to the
//   fields (set_diff: names added, removed, changed), which watches report for big maps.
// - A key still holding an older build's whole record loads as a whole map with no field records;
//   its first write writes every field (the migration).

#include "replication/replica.hpp"

#include <algorithm>

#include "replication/element_writes.hpp"
#include "replication/map_records.hpp"
#include "replication/replica_internal.hpp"
#include "replication/set_records.hpp"
#include "replication/storage_key.hpp"

namespace rumor::replication {

namespace {

error corrupt_map(std::string_view what) { return error{errc::corrupt, "stored map: " + std::string(what)}; }

crdt::or_map window_of(const std::map<crdt::field_key, crdt::nested_store>& loaded, crdt::dot_context ctx,
                       uint64_t count) {
  crdt::map_store m;
  for (const auto& [k, s] : loaded) m.set(k, s);
  uint64_t hidden = count > loaded.size() ? count - loaded.size() : 0;
  return crdt::or_map::window(std::move(m), std::move(ctx), hidden);
}

// An or_map's fields as element_writes.hpp writes them.
struct field_codec {
  std::string key_bytes(const crdt::field_key& f) const { return map_records::field_key_bytes(f); }
  std::string encode(const crdt::field_key& f, const crdt::nested_store& s) const { return map_records::encode_field(f, s); }
  std::vector<crdt::dot> dots(const crdt::nested_store& s) const {
    std::vector<crdt::dot> out;
    s.for_each_dot([&](const crdt::dot& d) { out.push_back(d); });
    std::sort(out.begin(), out.end());
    return out;
  }
};

}  // namespace

result<replica::map_window> replica::load_map(const std::string& skey, const std::optional<std::string>& raw,
                                              const std::vector<std::string>* names, bool committed) const {
  map_window w;
  w.id = set_records::set_id(skey);
  w.old_raw = raw;
  if (raw && !map_records::is_header(*raw)) {
    auto whole = map_records::decode_whole_map(*raw);
    if (!whole) return whole.err();
    w.stored_whole = true;
    w.kv = std::move(whole->kv);
    w.map = std::move(whole->map);
    w.count = w.map.size();
    for (const auto& [k, s] : w.map.store().entries()) w.whole_before.emplace(k, s);
    return w;
  }
  crdt::dot_context ctx;
  if (raw) {
    auto header_ctx = read_header(w, *raw);
    if (!header_ctx) return header_ctx.err();
    ctx = std::move(*header_ctx);
    if (names) {
      // One short range scan per name: its types' records are adjacent.
      for (const auto& name : *names) {
        const std::string at = set_records::element_prefix(w.id) + map_records::name_key(name);
        auto st = scan_records(persistence::key_range::between(at + '\x01', at + '\x09'),
                               [&](std::string_view bytes) -> status {
                                 auto f = map_records::decode_field(bytes);
                                 if (!f) return f.err();
                                 if (f->key.name != name) return corrupt_map("two field names share a record name");
                                 w.before.emplace(std::move(f->key), std::move(f->store));
                                 return {};
                               }, committed);
        if (!st) return st.err();
      }
    } else {
      auto st = scan_records(persistence::key_range::with_prefix(set_records::element_prefix(w.id)),
                             [&](std::string_view bytes) -> status {
                               auto f = map_records::decode_field(bytes);
                               if (!f) return f.err();
                               w.before.emplace(std::move(f->key), std::move(f->store));
                               return {};
                             }, committed);
      if (!st) return st.err();
      if (w.before.size() != w.count) return corrupt_map("its header counts " + std::to_string(w.count) +
                                                         " fields, its records " + std::to_string(w.before.size()));
    }
  }
  w.map = window_of(w.before, std::move(ctx), w.count);
  return w;
}

status replica::load_map_dots(map_window& w, const crdt::dot_context& ctx) const {
  if (w.stored_whole || w.count == w.before.size()) return {};  // every field is loaded
  std::set<crdt::dot> held;
  for (const auto& [k, s] : w.before) s.for_each_dot([&](const crdt::dot& d) { held.insert(d); });
  bool grew = false;
  auto st = read_indexed(w.id, w.map.context(), held, ctx, [&](std::string_view record) -> status {
    auto f = map_records::decode_field(record);
    if (!f) return f.err();
    grew |= w.before.emplace(std::move(f->key), std::move(f->store)).second;
    return {};
  });
  if (!st) return st;
  if (grew) w.map = window_of(w.before, w.map.context(), w.count);
  return {};
}

set_diff replica::write_map(const std::string& skey, const map_window& w, const version_vector& kv) {
  set_diff diff;
  element_totals from = w.stored_whole ? element_totals{} : element_totals{w.count, w.element_sum};
  auto totals = write_elements(
      w.id, w.before, w.map.store(), from, field_codec{},
      [&](const std::string& name, std::string bytes) { put_meta_now(name, std::move(bytes)); },
      [&](const std::string& name) { erase_meta_now(name); },
      [&](const crdt::field_key& f, bool was, bool is) {
        if (!w.stored_whole) diff.note(f.name, was, is);  // a whole record: compared below
      });
  if (w.stored_whole)  // an older build's whole record has no field records: the fields it held decide
    compare_elements(w.whole_before, w.map.store(),
                     [&](const crdt::field_key& f, const crdt::nested_store* old, const crdt::nested_store* now) {
                       diff.note(f.name, old != nullptr, now != nullptr);
                     });
  set_records::header h{kv, totals.count, totals.sum, w.map.context()};
  bool old_held_nothing = w.old_raw && w.count == 0;
  put_record(skey, set_records::encode_header(h, map_records::header_format), w.old_raw, old_held_nothing,
             totals.count == 0);
  diff.size = totals.count;
  return diff;
}

result<set_diff> replica::apply_map_delta(const std::string& skey, const crdt::or_map& delta, const version_vector& deps,
                                node_id origin, uint64_t seq) {
  auto raw = read_raw(skey);
  if (!raw) return raw.err();
  std::vector<std::string> named;
  for (const auto& [k, s] : delta.store().entries())
    if (named.empty() || named.back() != k.name) named.push_back(k.name);
  auto w = load_map(skey, *raw, &named);
  if (!w) return w.err();
  if (auto st = load_map_dots(*w, delta.context()); !st) return st.err();
  w->map.join(delta);
  version_vector kv = w->kv;
  kv.merge(deps);
  kv.raise(origin, seq);
  return write_map(skey, *w, kv);
}

result<std::optional<crdt::value>> replica::view_map(std::string_view user_key, const set_view_request& q) const {
  if (auto ok = validate_user_key(user_key); !ok) return ok.err();
  auto states = read_all_types_raw(user_key);
  if (!states) return states.err();
  const std::string skey = storage_key(user_key, crdt::type_tag::or_map);
  if (states->size() != 1 || states->front().key != skey || !map_records::is_header(states->front().value))
    return std::optional<crdt::value>{};
  const std::string& raw = states->front().value;
  auto h = set_records::decode_header(raw);
  if (!h) return h.err();
  if (h->count == 0) return std::optional<crdt::value>{};
  std::vector<std::string> names;
  if (!q.path.empty()) {
    names.push_back(q.path.front());  // everything below is inside that field
  } else if (q.what == set_view_request::kind::member) {
    names.push_back(q.member);
  } else if (q.what == set_view_request::kind::page) {
    // The fields of the page's names and of one more (so the reader knows more follow), in record
    // order, which is (name, type) order (map_records.hpp): the window is what the scan read.
    const std::string id = set_records::set_id(skey);
    persistence::key_range range = persistence::key_range::with_prefix(set_records::element_prefix(id));
    if (q.after) range.from = set_records::element_prefix(id) + map_records::name_key(*q.after) + '\xff';
    std::map<crdt::field_key, crdt::nested_store> page;
    size_t page_names = 0;
    std::optional<error> bad;
    auto st = scan_meta_range(range, [&](std::string_view, std::string_view bytes) {
      auto f = map_records::decode_field(bytes);
      if (!f) {
        bad = f.err();
        return false;
      }
      if (page.empty() || std::prev(page.end())->first.name != f->key.name) {
        if (page_names > q.limit) return false;  // the page and one more name
        ++page_names;
      }
      page.emplace(std::move(f->key), std::move(f->store));
      return true;
    });
    if (!st) return st.err();
    if (bad) return error{errc::corrupt, "stored map '" + std::string(user_key) + "': " + bad->message};
    return std::optional<crdt::value>{crdt::value{window_of(page, std::move(h->ctx), h->count)}};
  }
  auto w = load_map(skey, raw, &names);
  if (!w) return error{errc::corrupt, "stored map '" + std::string(user_key) + "': " + w.err().message};
  return std::optional<crdt::value>{crdt::value{std::move(w->map)}};
}

}  // namespace rumor::replication
