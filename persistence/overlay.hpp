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
// Shape (chosen for the commit path, which applies every operation here): the bytes of keys and
// data live in an arena of large chunks (no allocation per record; a rewrite reuses the record's
// space when the new data fits); value and meta records are found through an open-addressing
// hash index; key order — which scans and materialization need, commits do not — is built
// lazily: the records added since the last ordered read are sorted into a new run, and runs are
// merged like a binary counter (a run is merged into the one before it once that one is at most
// twice its size), so a read of a few records costs O(log² n), not a sort of the layer.
//
// append_to(batch) writes the layer out as a batch that, applied to the state below, gives the
// state the layer describes: truncations first, then delta appends, values and meta, each in key
// order (so the B-tree pages are visited in order, each once).
//
// Memory: bytes() is the arena's bytes plus a fixed per-record estimate of the index and order
// entries; lmdb_store bounds it (options.write_behind_bytes).
//
// Thread safety: mutations need exclusive access (lmdb_store holds its layers' lock
// exclusively). Const calls may run concurrently with each other — the lazy ordering inside
// values()/metas() takes an internal mutex.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

// Bump allocation of byte strings in chunks that never move; freed all at once.
class byte_arena {
 public:
  // A copy of `s` in the arena (empty view for empty input).
  std::string_view copy(std::string_view s);
  // Room for `n` bytes (uninitialized).
  char* allocate(std::size_t n);
  std::size_t bytes() const noexcept { return bytes_; }  // chunk bytes held
  void clear();

 private:
  static constexpr std::size_t chunk = 256 * 1024;
  std::vector<std::unique_ptr<char[]>> chunks_;
  char* next_ = nullptr;
  std::size_t left_ = 0;
  std::size_t bytes_ = 0;
};

class overlay {
 public:
  // What a layer knows about one record.
  enum class state : uint8_t { unknown, present, absent };
  struct answer {
    state s = state::unknown;
    std::string_view bytes;  // when present; valid until the layer next changes
  };
  // One value or meta record of the layer.
  struct entry {
    std::string_view key;
    const char* data = nullptr;
    uint32_t size = 0;       // data bytes
    uint32_t capacity = 0;   // arena bytes reserved for the data
    uint64_t hash = 0;
    uint64_t prefix = 0;     // the key's first 8 bytes, big-endian, zero-padded (key_less)
    bool present = false;    // false: erased
    mutable int8_t below = -1;  // counting: visible below the layer? (-1: not yet asked)
    std::string_view bytes() const { return {data, size}; }
  };

  // Key order of two records: their cached prefixes decide unless equal, then the whole keys
  // (a byte-wise comparison, as std::string_view's and LMDB's). Most comparisons of a sort or
  // merge are settled by the prefixes without touching the keys' bytes.
  static bool key_less(const entry& a, const entry& b) {
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    return a.key < b.key;
  }
  static uint64_t key_prefix(std::string_view key);

  // One keyed family (values or meta): the records, a hash index, and a lazily built key order.
  class keyed {
   public:
    // Records in key order. Valid until the layer next changes.
    class ordered {
     public:
      std::size_t size() const noexcept { return order_->size(); }
      const entry& operator[](std::size_t i) const { return (*entries_)[(*order_)[i]]; }
      // Position of the first record with key >= k (size() if none).
      std::size_t lower_bound(std::string_view k) const;

     private:
      friend class keyed;
      const std::vector<entry>* entries_ = nullptr;
      const std::vector<uint32_t>* order_ = nullptr;
    };

    const entry* find(std::string_view key) const;
    // A hint: loads the index slot where `key` would be found into the cache (a put or find of it
    // soon after then waits for no memory). No effect on the contents.
    void prefetch(std::string_view key) const;
    // Sets the record (nullopt = erased); returns its state before. The data is copied into `a`.
    state put(std::string_view key, std::optional<std::string_view> data, byte_arena& a, bool& fresh);
    // Every record in key order (merges the runs into one).
    ordered in_order() const;
    // Copies into `out`, in key order, the records with key >= from up to the first for which
    // past_end(key) holds; returns false (out partial) if there are more than `limit`.
    template <class PastEnd, class Out>
    bool collect(std::string_view from, PastEnd&& past_end, std::size_t limit, Out& out) const;
    std::size_t size() const noexcept { return entries_.size(); }
    // Makes room for `n` records without growing the index or the record list.
    void reserve(std::size_t n);
    // Counting (see overlay::count): records present, and the sum of `below` over the records
    // [0, below_known()) whose `below` is known.
    int64_t present_count() const noexcept { return present_; }
    std::size_t below_known() const noexcept { return below_upto_; }
    int64_t below_count() const noexcept { return below_sum_; }
    // Calls f(entry) for every record, in insertion order.
    template <class F>
    void for_each(F&& f) const {
      for (const entry& e : entries_) f(e);
    }
    // Asks `visible(key)` for each record not asked yet. REQUIRES: no concurrent count or change.
    template <class Visible>
    void count_below(Visible&& visible) const {
      for (; below_upto_ < entries_.size(); ++below_upto_) {
        const entry& e = entries_[below_upto_];
        e.below = visible(e.key) ? 1 : 0;
        below_sum_ += e.below;
      }
    }

   private:
    // Sorts the records not yet in a run into a new run and merges runs (see above).
    // REQUIRES: order_mu_ held.
    void refresh() const;
    // Merges the last run into the one before it. REQUIRES: order_mu_ held, two runs or more.
    void merge_last_runs() const;
    // Rebuilds the index with `slots` slots (a power of two, more than twice the records).
    void rehash(std::size_t slots);
    // The filter bit of a key's group: keys that share their first filter_group_bytes bytes.
    std::size_t group_bit(uint64_t key_prefix) const noexcept;
    bool group_may_hold(uint64_t key_prefix) const noexcept;
    std::vector<entry> entries_;     // in insertion order
    std::vector<uint64_t> slots_;    // open addressing: hash bits and entry index (overlay.cpp)
    // A filter in front of the index: one bit per group of keys that share their first
    // filter_group_bytes bytes, set for every group a record of the layer belongs to (4 bits per
    // slot). A find whose group bit is clear answers "not here" after one load. rumor's value
    // keys begin with 3 bytes of their user key's hash, so a user key's seven storage keys share a
    // group: reading all types of a key absent from a layer costs one filter load, not seven
    // index probes (each a cache miss in a large layer).
    std::vector<uint64_t> filter_;
    static constexpr unsigned filter_group_bytes = 3;
    mutable std::mutex order_mu_;
    mutable std::vector<std::vector<uint32_t>> runs_;  // sorted entry indexes, largest first
    mutable std::size_t covered_ = 0;                   // entries_[0, covered_) are in runs_
    int64_t present_ = 0;
    mutable std::size_t below_upto_ = 0;
    mutable int64_t below_sum_ = 0;
  };

  struct delta_rec {
    std::string_view data;
    mutable int8_t adds = -1;  // counting: 1 if it adds a delta to the state below, 0 if it
                               // rewrites one visible there; -1: not yet asked
  };
  using delta_map = std::map<std::pair<uint64_t, uint64_t>, delta_rec>;  // (origin, seq)

  overlay() = default;
  // A layer sized like `previous` (a busy node's next layer holds about as many records as the
  // last one did): its index and record lists start at that capacity instead of growing to it.
  explicit overlay(const overlay& previous, std::size_t limit);
  overlay(const overlay&) = delete;
  overlay& operator=(const overlay&) = delete;

  // Applies one operation (as the store would) and returns what this layer held for its record
  // before (unknown for truncations). REQUIRES: op passed validate().
  state apply(const write_op& op);
  // A hint ahead of apply(op): prefetches the index slot op's record hashes to (value and meta
  // operations). Applying a group with a lookahead of a few operations overlaps their cache
  // misses instead of waiting for each in turn.
  void prefetch(const write_op& op) const;

  answer value(std::string_view key) const { return find(values_, key); }
  answer meta(std::string_view name) const { return find(meta_, name); }
  answer delta(uint64_t origin, uint64_t seq) const;
  // The truncation bound this layer holds for `origin` (nullopt: none): every seq <= it that the
  // layer does not hold is absent.
  std::optional<uint64_t> truncated(uint64_t origin) const;
  const std::map<uint64_t, uint64_t>& truncations() const noexcept { return truncations_; }

  keyed::ordered values() const { return values_.in_order(); }
  keyed::ordered metas() const { return meta_.in_order(); }
  const keyed& value_records() const noexcept { return values_; }
  const keyed& meta_records() const noexcept { return meta_; }
  const delta_map& deltas() const noexcept { return deltas_; }

  // Appends the layer, as described above, to `out`.
  void append_to(write_batch& out) const;

  // Record counts: the layer's effect on the counts of the state below it.
  struct effect {
    int64_t values = 0, deltas = 0, meta = 0;
  };
  // Returns the layer's effect, asking `below` about the records it has not asked about before:
  // below.visible(kind, key, origin, seq) — is the record visible below the layer? — and
  // below.deltas_upto(origin, bound) — how many deltas of origin with seq <= bound are? Each
  // record is asked about once in the layer's life; a truncation again only when its bound
  // rises. The state below a layer never changes (the layers under it being written into the
  // B-trees does not change what is visible), so neither do the answers.
  // With values_only, only the value records are asked about and counted (the effect's deltas
  // and meta are 0), and counted() does not change.
  // REQUIRES: no concurrent count or change of this layer.
  template <class Below>
  effect count(Below&& below, bool values_only = false) const;
  // The same effect, worked out afresh without remembering anything (for a layer whose state
  // below is no longer the one count() remembered answers for).
  template <class Below>
  effect recount(Below&& below, bool values_only = false) const;
  // True iff count() has run since the layer last changed: its remembered answers are complete.
  bool counted() const noexcept { return counted_; }
  // Records the next count() will ask `below` about (truncations aside).
  std::size_t unasked() const noexcept {
    return values_.size() - values_.below_known() + meta_.size() - meta_.below_known() + delta_unasked_.size();
  }
  // Record families, as count() names them to `below`.
  enum class family : uint8_t { value, meta, delta };

  bool empty() const noexcept { return records_ == 0 && truncations_.empty(); }
  std::size_t records() const noexcept { return records_; }
  std::size_t bytes() const noexcept { return arena_.bytes() + records_ * record_overhead; }

  // Estimated bytes per record beyond the arena: entry, index slots and order entry, or a delta
  // map node.
  static constexpr std::size_t record_overhead = 80;

 private:
  static answer find(const keyed& m, std::string_view key);

  byte_arena arena_;
  keyed values_, meta_;
  delta_map deltas_;
  std::map<uint64_t, uint64_t> truncations_;  // origin -> erase every seq <= bound held below
  std::size_t records_ = 0;
  // Counting of deltas: appended ones whose `adds` is not known yet, the sum of the known ones,
  // and per truncated origin the bound last counted with the deltas it erased below.
  mutable std::vector<std::pair<uint64_t, uint64_t>> delta_unasked_;
  mutable int64_t delta_adds_ = 0;
  mutable std::map<uint64_t, std::pair<uint64_t, int64_t>> trunc_counted_;
  mutable bool counted_ = false;
};

template <class Below>
overlay::effect overlay::count(Below&& below, bool values_only) const {
  effect e;
  values_.count_below([&](std::string_view k) { return below.visible(family::value, k, 0, 0); });
  if (values_only) {
    e.values = values_.present_count() - values_.below_count();
    return e;
  }
  meta_.count_below([&](std::string_view k) { return below.visible(family::meta, k, 0, 0); });
  e.values = values_.present_count() - values_.below_count();
  e.meta = meta_.present_count() - meta_.below_count();
  for (const auto& k : delta_unasked_) {
    auto it = deltas_.find(k);
    if (it == deltas_.end() || it->second.adds >= 0) continue;
    it->second.adds = below.visible(family::delta, {}, k.first, k.second) ? 0 : 1;
    delta_adds_ += it->second.adds;
  }
  delta_unasked_.clear();
  e.deltas = delta_adds_;
  for (const auto& [origin, bound] : truncations_) {
    auto [t, fresh] = trunc_counted_.try_emplace(origin, bound, 0);
    if (fresh || t->second.first != bound) t->second = {bound, below.deltas_upto(origin, bound)};
    e.deltas -= t->second.second;
  }
  counted_ = true;
  return e;
}

template <class Below>
overlay::effect overlay::recount(Below&& below, bool values_only) const {
  effect e;
  values_.for_each([&](const entry& r) {
    e.values += (r.present ? 1 : 0) - (below.visible(family::value, r.key, 0, 0) ? 1 : 0);
  });
  if (values_only) return e;
  meta_.for_each([&](const entry& r) {
    e.meta += (r.present ? 1 : 0) - (below.visible(family::meta, r.key, 0, 0) ? 1 : 0);
  });
  for (const auto& [origin, bound] : truncations_) e.deltas -= below.deltas_upto(origin, bound);
  for (const auto& [k, d] : deltas_) {
    const bool hidden = hides(truncated(k.first), k.second);
    e.deltas += 1 - (!hidden && below.visible(family::delta, {}, k.first, k.second) ? 1 : 0);
  }
  return e;
}

template <class PastEnd, class Out>
bool overlay::keyed::collect(std::string_view from, PastEnd&& past_end, std::size_t limit, Out& out) const {
  std::lock_guard lk(order_mu_);
  refresh();
  auto key_less = [&](uint32_t idx, std::string_view k) { return entries_[idx].key < k; };
  std::vector<std::pair<const std::vector<uint32_t>*, std::size_t>> heads;  // (run, position)
  for (const auto& run : runs_) {
    auto it = std::lower_bound(run.begin(), run.end(), from, key_less);
    if (it != run.end()) heads.emplace_back(&run, static_cast<std::size_t>(it - run.begin()));
  }
  for (std::size_t n = 0;; ++n) {
    const entry* best = nullptr;
    std::size_t best_head = 0;
    for (std::size_t h = 0; h < heads.size(); ++h) {
      const auto& [run, at] = heads[h];
      if (at == run->size()) continue;
      const entry& e = entries_[(*run)[at]];
      if (best == nullptr || e.key < best->key) {
        best = &e;
        best_head = h;
      }
    }
    if (best == nullptr || past_end(best->key)) return true;
    if (n == limit) return false;
    out.emplace_back(std::string{best->key},
                     best->present ? std::optional<std::string>{std::string{best->bytes()}} : std::nullopt);
    ++heads[best_head].second;
  }
}

}  // namespace rumor::persistence
