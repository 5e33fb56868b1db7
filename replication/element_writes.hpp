#pragma once
// element_writes: the one loop that rewrites the element records of a decomposed value — an
// or_set's elements (set_records.hpp), an or_map's fields (map_records.hpp) — from what a window
// loaded to what it holds after a join or an update, with their dot index records. Pure: the
// records go to the caller's put/erase (replica_sets.cpp, replica_maps.cpp).

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "crdt/dot.hpp"
#include "replication/set_records.hpp"

namespace rumor::replication {

// The header's count and element hash sum, kept from the difference (never recounted).
struct element_totals {
  uint64_t count = 0;
  uint64_t sum = 0;
};

// Calls f(key, old, now) for every key whose payload differs between `before` and `after` (a dot
// store of the same keys): old or now is nullptr where the key is absent.
template <class K, class V, class Store, class F>
void compare_elements(const std::map<K, V>& before, const Store& after, F&& f) {
  for (const auto& [k, old] : before) {
    const V* now = after.find(k);
    if (!now || !(*now == old)) f(k, &old, now);
  }
  for (const auto& [k, now] : after.entries())
    if (!before.count(k)) f(k, static_cast<const V*>(nullptr), &now);
}

// Writes what changed between `before` (key -> payload as stored: the loaded elements) and
// `after` (a dot store of the same keys: the window's) under the value `id`. `codec` gives
// key_bytes(key) (the record name after set_records::element_prefix), encode(key, payload) (the
// record) and dots(payload) (ascending); `put(name, bytes)` / `erase(name)` write meta records;
// `changed(key, was, is)` hears of each key whose payload changed: it appeared (!was), went
// (!is) or changed in place (both). Returns `totals` updated.
template <class K, class V, class Store, class Codec, class Put, class Erase, class Changed>
element_totals write_elements(const std::string& id, const std::map<K, V>& before, const Store& after,
                              element_totals totals, const Codec& codec, Put&& put, Erase&& erase,
                              Changed&& changed) {
  compare_elements(before, after, [&](const K& k, const V* old, const V* now) {
    changed(k, old != nullptr, now != nullptr);
    std::string key = codec.key_bytes(k);
    std::string name = set_records::element_name(id, key);
    std::vector<crdt::dot> old_dots, now_dots;
    if (old) old_dots = codec.dots(*old);
    if (now) now_dots = codec.dots(*now);
    auto holds = [](const std::vector<crdt::dot>& ds, const crdt::dot& d) {
      return std::binary_search(ds.begin(), ds.end(), d);
    };
    if (old) {
      totals.sum -= set_records::element_hash(codec.encode(k, *old));
      --totals.count;
      for (const auto& d : old_dots)
        if (!holds(now_dots, d)) erase(set_records::dot_name(id, d));
    }
    if (now) {
      std::string rec = codec.encode(k, *now);
      totals.sum += set_records::element_hash(rec);
      ++totals.count;
      put(name, std::move(rec));
      for (const auto& d : now_dots)
        if (!holds(old_dots, d)) put(set_records::dot_name(id, d), key);
    } else {
      erase(name);
    }
  });
  return totals;
}

}  // namespace rumor::replication
