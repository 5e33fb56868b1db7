#pragma once
// The element kinds of replica_element_repair.cpp: how its steps, written once, read, name and
// write the elements of a set (members with their dots) and of a map (top-level fields with their
// nested stores). Private to the replica (it names its windows, loads and writes); included only
// by that file.

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "replication/map_records.hpp"
#include "replication/replica.hpp"
#include "replication/set_records.hpp"

namespace rumor::replication {

// The element kinds: how a step reads, names and writes the elements of a set and of a map.
struct replica::set_elements {
  using value_type = crdt::or_set;
  using key_type = std::string;  // the member
  using elem_type = crdt::dot_set;
  using store_type = crdt::dot_map<std::string, crdt::dot_set>;
  using window_type = set_window;
  static constexpr crdt::type_tag tag = crdt::type_tag::or_set;

  static bool is_header(std::string_view raw) { return set_records::is_header(raw); }
  static std::string key_bytes(const key_type& m) { return set_records::member_key(m); }
  static std::string encode(const key_type& m, const elem_type& d) { return set_records::encode_element(m, d); }
  static result<std::pair<key_type, elem_type>> decode(std::string_view record) {
    auto el = set_records::decode_element(record);
    if (!el) return el.err();
    return std::pair<key_type, elem_type>{std::move(el->member), std::move(el->dots)};
  }
  static result<std::pair<version_vector, value_type>> decode_whole(std::string_view raw) {
    auto w = set_records::decode_whole_set(raw);
    if (!w) return w.err();
    return std::pair<version_vector, value_type>{std::move(w->kv), std::move(w->set)};
  }
  static value_type window(store_type s, crdt::dot_context ctx, size_t hidden) {
    return crdt::or_set::window(std::move(s), std::move(ctx), hidden);
  }
  // What load() takes to load the elements `keys`.
  static std::vector<std::string> names(const std::set<key_type>& keys) { return {keys.begin(), keys.end()}; }
  static value_type& value(window_type& w) { return w.set; }
  static result<window_type> load(const replica& r, const std::string& skey, const std::optional<std::string>& raw,
                                  const std::vector<std::string>* names) {
    return r.load_set(skey, raw, names);
  }
  // Adds to `w` the elements holding dots of `ctx` (load_set_dots).
  static status load_dots(const replica& r, window_type& w, const crdt::dot_context& ctx) { return r.load_set_dots(w, ctx); }
  static set_diff write(replica& r, const std::string& skey, const window_type& w, const version_vector& kv) {
    return r.write_set(skey, w, kv);
  }
  // The element as it was when a table with context `since` was built: its dots within `since`
  // (the others came later; those of it removed since are in our context, so the join drops them
  // alike). Empty if none.
  static elem_type within(const elem_type& e, const crdt::dot_context& since) {
    std::vector<crdt::dot> then;
    for (const auto& d : e.dots())
      if (since.contains(d)) then.push_back(d);
    return crdt::dot_set(std::move(then));
  }
};

struct replica::map_elements {
  using value_type = crdt::or_map;
  using key_type = crdt::field_key;
  using elem_type = crdt::nested_store;
  using store_type = crdt::map_store;
  using window_type = map_window;
  static constexpr crdt::type_tag tag = crdt::type_tag::or_map;

  static bool is_header(std::string_view raw) { return map_records::is_header(raw); }
  static std::string key_bytes(const key_type& f) { return map_records::field_key_bytes(f); }
  static std::string encode(const key_type& f, const elem_type& s) { return map_records::encode_field(f, s); }
  static result<std::pair<key_type, elem_type>> decode(std::string_view record) {
    auto f = map_records::decode_field(record);
    if (!f) return f.err();
    return std::pair<key_type, elem_type>{std::move(f->key), std::move(f->store)};
  }
  static result<std::pair<version_vector, value_type>> decode_whole(std::string_view raw) {
    auto w = map_records::decode_whole_map(raw);
    if (!w) return w.err();
    return std::pair<version_vector, value_type>{std::move(w->kv), std::move(w->map)};
  }
  static value_type window(store_type s, crdt::dot_context ctx, size_t hidden) {
    return crdt::or_map::window(std::move(s), std::move(ctx), hidden);
  }
  static std::vector<std::string> names(const std::set<key_type>& keys) {
    std::vector<std::string> out;
    for (const auto& k : keys)
      if (out.empty() || out.back() != k.name) out.push_back(k.name);  // keys are in (name, type) order
    return out;
  }
  static value_type& value(window_type& w) { return w.map; }
  static result<window_type> load(const replica& r, const std::string& skey, const std::optional<std::string>& raw,
                                  const std::vector<std::string>* names) {
    return r.load_map(skey, raw, names);
  }
  static status load_dots(const replica& r, window_type& w, const crdt::dot_context& ctx) { return r.load_map_dots(w, ctx); }
  static set_diff write(replica& r, const std::string& skey, const window_type& w, const version_vector& kv) {
    return r.write_map(skey, w, kv);
  }
  static elem_type within(const elem_type& e, const crdt::dot_context& since) {
    crdt::dot_context later;  // the field's dots outside `since`
    e.for_each_dot([&](const crdt::dot& d) {
      if (!since.contains(d)) later.insert(d);
    });
    elem_type then = e;
    then.filter(later);
    return then;
  }
};

}  // namespace rumor::replication
