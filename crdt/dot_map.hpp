#pragma once
// dot_map<K, V>: the DotMap dot store of Almeida et al. (§7.1): keys mapped to nested dot stores
// that share one causal context. A key is present iff its nested store has at least one dot, so
// removing a key = covering its dots with a context (observed-remove, no tombstones).
//
// Join cost: a join with a small context (a delta) touches only the keys of the delta plus the keys
// owning a dot of the delta's context, found through a dot -> key index; it does not scan the map.
// This keeps adds to a set of a million elements O(log n), not O(n).
//
// V must provide: empty(), for_each_dot(f), join(mine, other, theirs), filter(ctx), ==, and be
// default-constructible as the empty store (or be given an explicit empty value via make_empty).

#include <algorithm>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

#include "crdt/dot.hpp"
#include "crdt/dot_context.hpp"

namespace rumor::crdt {

template <class K, class V>
class dot_map {
 public:
  using map_type = std::map<K, V, std::less<>>;

  dot_map() = default;
  // A copy indexes its own entries (the index points into the map's nodes).
  dot_map(const dot_map& o) : entries_(o.entries_) { reindex(); }
  dot_map& operator=(const dot_map& o) {
    if (this != &o) {
      entries_ = o.entries_;
      reindex();
    }
    return *this;
  }
  // A move takes the nodes along: the index stays valid.
  dot_map(dot_map&&) noexcept = default;
  dot_map& operator=(dot_map&&) noexcept = default;

  bool empty() const noexcept { return entries_.empty(); }
  size_t size() const noexcept { return entries_.size(); }
  const map_type& entries() const noexcept { return entries_; }
  // Number of dots in all nested stores.
  size_t dot_count() const noexcept { return index_.size(); }

  template <class Q>
  const V* find(const Q& k) const {
    auto it = entries_.find(k);
    return it == entries_.end() ? nullptr : &it->second;
  }

  // Sets the nested store of `k` (an empty store removes `k`).
  void set(const K& k, V v) {
    auto it = entries_.find(k);
    if (it != entries_.end()) {
      unindex(it->second);
      if (v.empty()) {
        entries_.erase(it);
        return;
      }
      it->second = std::move(v);
      index(it->first, it->second);
      return;
    }
    if (v.empty()) return;
    auto [pos, inserted] = entries_.emplace(k, std::move(v));
    (void)inserted;
    index(pos->first, pos->second);
  }

  // Adds `k`, which must be absent, with its non-empty store `v` (decoding): O(1) when keys come in
  // ascending order, as encodings list them; O(log n) otherwise. False (nothing added) if `k` is
  // present. REQUIRES: !v.empty().
  bool insert_new(K k, V v) {
    if (entries_.empty() || entries_.rbegin()->first < k) {
      auto pos = entries_.emplace_hint(entries_.end(), std::move(k), std::move(v));
      index(pos->first, pos->second);
      return true;
    }
    auto [pos, inserted] = entries_.emplace(std::move(k), std::move(v));
    if (inserted) index(pos->first, pos->second);
    return inserted;
  }

  template <class F>
  void for_each_dot(F&& f) const {
    for (const auto& [k, v] : entries_) v.for_each_dot(f);
  }

  // *this := store part of (*this, mine) ⊔ (other, theirs).
  void join(const dot_context& mine, const dot_map& other, const dot_context& theirs) {
    std::vector<K> touched = keys_covered_by(theirs);
    for (const auto& [k, v] : other.entries_) touched.push_back(k);
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (const K& k : touched) {
      auto mine_it = entries_.find(k);
      auto other_it = other.entries_.find(k);
      if (mine_it != entries_.end()) {
        V merged = mine_it->second;
        if (other_it != other.entries_.end())
          merged.join(mine, other_it->second, theirs);
        else
          merged.filter(theirs);
        set(k, std::move(merged));
      } else {
        V incoming = other_it->second;
        incoming.filter(mine);
        set(k, std::move(incoming));
      }
    }
  }

  // *this := *this \ ctx.
  void filter(const dot_context& ctx) {
    for (const K& k : keys_covered_by(ctx)) {
      auto it = entries_.find(k);
      V v = it->second;
      v.filter(ctx);
      set(k, std::move(v));
    }
  }

  friend bool operator==(const dot_map& a, const dot_map& b) { return a.entries_ == b.entries_; }

 private:
  // Keys owning at least one dot covered by `ctx`, sorted and unique.
  std::vector<K> keys_covered_by(const dot_context& ctx) const {
    std::vector<K> keys;
    if (ctx.empty() || entries_.empty()) return keys;
    if (ctx.dot_count() <= index_.size()) {
      ctx.for_each_dot([&](const dot& d) {
        auto it = index_.find(d);
        if (it != index_.end()) keys.push_back(*it->second);
      });
    } else {
      for (const auto& [k, v] : entries_) {
        bool hit = false;
        v.for_each_dot([&](const dot& d) { hit = hit || ctx.contains(d); });
        if (hit) keys.push_back(k);
      }
    }
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    return keys;
  }

  // REQUIRES: `k` is the key of an entry of entries_ (the index keeps its address).
  void index(const K& k, const V& v) {
    v.for_each_dot([&](const dot& d) { index_.insert_or_assign(d, &k); });
  }
  void reindex() {
    index_.clear();
    for (const auto& [k, v] : entries_) index(k, v);
  }
  void unindex(const V& v) {
    v.for_each_dot([&](const dot& d) { index_.erase(d); });
  }

  map_type entries_;                                   // no empty nested stores
  // Every dot of every nested store -> its key, in its entries_ node (std::map nodes stay where
  // they are until erased; an entry is unindexed before it is erased or replaced).
  std::unordered_map<dot, const K*, dot_hash> index_;
};

}  // namespace rumor::crdt
