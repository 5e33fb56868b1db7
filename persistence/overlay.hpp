#pragma once
// rumor::persistence::overlay — one in-memory layer of lmdb_store's write-behind state: the
// effect of a run of committed write batches that is not yet materialized into the B-trees
// (persistence/FORMAT.md, "Write-behind"). lmdb_store keeps an active layer, which commits apply
// to, and sealed (immutable) layers, which the materializer writes out. A read asks the active
// layer, then the sealed ones from newest to oldest, then the B-trees.
//
// A layer answers, per record, one of three things (lookup): "present with these bytes",
// "absent" (erased, or a delta removed by a truncation held in this layer), or "not mine" (ask
// the layer below). Deltas erased by truncate_deltas are remembered as one bound per origin:
// every delta of that origin at or below the bound that the layer does not itself hold is absent.
//
// append_to(batch) writes the layer out as a batch that, applied to the state below, gives the
// state the layer describes: truncations first, then delta appends, values and meta, each in key
// order (so the B-tree pages are visited in order, each once).
//
// Memory: bytes() is the key and data bytes held plus a fixed per-record estimate of the map
// nodes; lmdb_store bounds it (options.write_behind_bytes).
//
// Thread safety: none; lmdb_store guards its layers with a shared mutex.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "persistence/write_batch.hpp"

namespace rumor::persistence {

// A truncation bound: nullopt = none, else every seq <= *bound is erased.
using trunc_bound = std::optional<uint64_t>;
inline bool hides(const trunc_bound& b, uint64_t seq) { return b && seq <= *b; }
inline trunc_bound max_bound(const trunc_bound& a, const trunc_bound& b) {
  if (!a) return b;
  if (!b) return a;
  return std::max(*a, *b);
}

class overlay {
 public:
  // What a layer knows about one record.
  enum class state : uint8_t { unknown, present, absent };
  struct answer {
    state s = state::unknown;
    const std::string* bytes = nullptr;  // when present; valid until the layer next changes
  };

  using keyed = std::map<std::string, std::optional<std::string>, std::less<>>;  // nullopt = erased
  using delta_map = std::map<std::pair<uint64_t, uint64_t>, std::string>;      // (origin, seq)

  overlay() = default;
  overlay(const overlay&) = delete;  // the hash indexes point into the maps' nodes
  overlay& operator=(const overlay&) = delete;
  overlay(overlay&&) = default;
  overlay& operator=(overlay&&) = default;

  // Applies one operation (as the store would) and returns what this layer held for its record
  // before (unknown for truncations). REQUIRES: op passed validate().
  state apply(const write_op& op);

  answer value(std::string_view key) const { return find(values_, key); }
  answer meta(std::string_view name) const { return find(meta_, name); }
  answer delta(uint64_t origin, uint64_t seq) const;
  // The truncation bound this layer holds for `origin` (nullopt: none): every seq <= it that the
  // layer does not hold is absent.
  std::optional<uint64_t> truncated(uint64_t origin) const;

  const keyed& values() const noexcept { return values_.map; }
  const keyed& metas() const noexcept { return meta_.map; }
  const delta_map& deltas() const noexcept { return deltas_; }

  // Appends the layer, as described above, to `out`.
  void append_to(write_batch& out) const;

  bool empty() const noexcept { return records_ == 0 && truncations_.empty(); }
  std::size_t records() const noexcept { return records_; }
  std::size_t bytes() const noexcept { return bytes_; }
  void clear();

  // Estimated bytes of one map node beyond its key and data (allocator and tree overhead).
  static constexpr std::size_t node_overhead = 144;  // tree node + hash index entry

 private:
  // A keyed map plus a hash index of it: point lookups (every read and every commit asks several)
  // cost one hash probe instead of a walk down a tree of string compares; the map keeps the
  // order scans and materialization need.
  struct indexed {
    keyed map;
    std::unordered_map<std::string_view, keyed::iterator> index;  // views into map's keys
  };
  static answer find(const indexed& m, std::string_view key);
  state put(indexed& m, std::string_view key, std::optional<std::string_view> data);

  indexed values_, meta_;
  delta_map deltas_;
  std::map<uint64_t, uint64_t> truncations_;  // origin -> erase every seq <= bound held below
  std::size_t records_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace rumor::persistence
