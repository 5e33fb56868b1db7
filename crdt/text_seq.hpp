#pragma once
// text_seq: the integrated items of a text in document order (internal to crdt/text.cpp).
//
// Items are kept as runs of uniform status (live with their codepoints, or deleted without),
// in blocks of at most max_runs runs; each block counts its live codepoints, so a position search
// walks the blocks, then one block's runs. An index per node maps the first id of every run to
// its block, so an id is found by one map lookup and one block scan. A position (where) names an
// item by (block ordinal, run index, offset) and orders items as the document does; it is valid
// until the next change.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "crdt/dot.hpp"

namespace rumor::crdt::detail {

struct seq_run {
  dot id;
  uint64_t length = 0;
  dot left;
  dot right;
  bool deleted = false;
  std::u32string chars;  // length codepoints when live, empty when deleted

  dot last() const noexcept { return {id.node, id.counter + length - 1}; }
  bool covers(const dot& d) const noexcept {
    return d.node == id.node && d.counter >= id.counter && d.counter - id.counter < length;
  }
};

struct where {
  enum kind_t : uint8_t { start = 0, item = 1, end = 2 } kind = start;
  size_t block = 0;
  size_t run = 0;
  uint64_t off = 0;

  friend bool operator==(const where&, const where&) = default;
  friend bool operator<(const where& a, const where& b) {
    if (a.kind != b.kind) return a.kind < b.kind;
    if (a.kind != item) return false;
    if (a.block != b.block) return a.block < b.block;
    if (a.run != b.run) return a.run < b.run;
    return a.off < b.off;
  }
};

class text_seq {
 public:
  static constexpr size_t max_runs = 64;

  text_seq() = default;
  text_seq(const text_seq& other);
  text_seq& operator=(const text_seq&) = delete;

  uint64_t visible() const noexcept { return visible_; }
  uint64_t items() const noexcept { return items_; }
  bool has(const dot& d) const { return locate(d).has_value(); }
  // True iff some integrated item of node `n` has a counter in [first, last).
  bool has_any(node_id n, uint64_t first, uint64_t last) const;
  // Position of item `d`; nullopt when it is not integrated. {0, 0} is not an item.
  std::optional<where> locate(const dot& d) const;
  // The item after `w` (the first item for start), or end.
  where next(const where& w) const;
  // Position of the k-th live codepoint (1-based, k <= visible()).
  where nth_visible(uint64_t k) const;
  const seq_run& run_at(const where& w) const { return blocks_[w.block]->runs[w.run]; }
  dot id_at(const where& w) const {
    const seq_run& r = run_at(w);
    return {r.id.node, r.id.counter + w.off};
  }

  // Inserts `r` before the item at `w` (or at the end).
  void insert_before(const where& w, seq_run r);
  // Appends codepoints with the next ids to the live run at `w` (its last item).
  void extend(const where& w, std::u32string_view chars);
  // Marks `count` items from the live item at `w` on (all in its run) deleted; returns the first
  // id marked.
  dot delete_at(const where& w, uint64_t count);
  // Marks the integrated items of [first, last) of node `n` deleted.
  void delete_ids(node_id n, uint64_t first, uint64_t last);
  // The scan of FugueMax: where a new run with these origins and first id goes.
  where integration_point(const dot& id, const dot& left, const dot& right) const;

  template <class F>
  void for_each_run(F&& f) const {
    for (const auto& b : blocks_)
      for (const seq_run& r : b->runs) f(r);
  }
  // Codepoints [pos, pos + count) of the live text.
  std::u32string slice(uint64_t pos, uint64_t count) const;
  size_t memory_bytes() const noexcept;

 private:
  struct block {
    std::vector<seq_run> runs;
    uint64_t visible = 0;
    size_t ordinal = 0;
  };
  void split_run(block& b, size_t i, uint64_t k);
  void maybe_split(block& b);
  where origin_pos(const dot& d, bool is_left) const;

  std::vector<std::unique_ptr<block>> blocks_;
  std::unordered_map<node_id, std::map<uint64_t, block*>> index_;
  uint64_t visible_ = 0;
  uint64_t items_ = 0;
};

}  // namespace rumor::crdt::detail
