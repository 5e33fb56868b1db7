#pragma once
// version_vector: per node, the highest counter such that every event 1..counter of that node is
// known. Size is O(nodes). Used as the compact part of a dot_context and by replication to say
// "what I have applied" (Parker et al., 1983; Almeida et al. for the delta-CRDT use).

#include <cstdint>
#include <utility>
#include <vector>

#include "crdt/dot.hpp"

namespace rumor::crdt {

class version_vector {
 public:
  using entry = std::pair<node_id, uint64_t>;

  version_vector() = default;

  // Returns the counter recorded for `n` (0 when absent).
  uint64_t get(node_id n) const noexcept;

  // Sets the counter of `n`; a counter of 0 removes the entry.
  void set(node_id n, uint64_t counter);

  // Raises the counter of `n` to at least `counter`.
  void raise(node_id n, uint64_t counter);

  // Returns true iff event `d` is covered (d.counter <= get(d.node)).
  bool contains(const dot& d) const noexcept { return d.counter != 0 && d.counter <= get(d.node); }

  // Pointwise maximum.
  void merge(const version_vector& other);

  // Returns true iff every entry of *this is <= the matching entry of `other`.
  bool leq(const version_vector& other) const noexcept;

  enum class order { equal, before, after, concurrent };
  // Causal order of *this relative to `other`.
  order compare(const version_vector& other) const noexcept;

  bool empty() const noexcept { return entries_.empty(); }
  size_t size() const noexcept { return entries_.size(); }
  // Entries sorted by node id, counters > 0.
  const std::vector<entry>& entries() const noexcept { return entries_; }

  // Sum of all counters, saturating at UINT64_MAX (the number of events covered).
  uint64_t total() const noexcept;

  friend bool operator==(const version_vector&, const version_vector&) = default;

 private:
  std::vector<entry> entries_;  // sorted by node, no zero counters
};

}  // namespace rumor::crdt
