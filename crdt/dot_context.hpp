#pragma once
// dot_context: the causal context of a delta-state CRDT — the set of every event (dot) a replica
// has seen, stored compactly as a version vector plus a "dot cloud" of events that are not yet
// contiguous (Almeida, Shoker, Baquero, "Delta State Replicated Data Types", JPDC 2018, §6;
// Preguiça et al., dotted version vectors).
//
// Canonical form (kept by every mutating call, so == compares sets): no cloud dot is covered by
// the version vector, and no cloud dot is the next counter of its node in the version vector.
//
// Thread safety: a plain value; no internal synchronisation.

#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "crdt/dot.hpp"
#include "crdt/version_vector.hpp"

namespace rumor::crdt {

class dot_context {
 public:
  dot_context() = default;

  // Returns a context holding exactly `dots` (any order, duplicates allowed).
  static dot_context of(std::span<const dot> dots);

  // Returns true iff `d` has been seen.
  bool contains(const dot& d) const noexcept;

  // Highest counter of `n` seen (in the version vector or the cloud); 0 if none.
  uint64_t max_counter(node_id n) const noexcept;

  // The dot a replica `n` uses for its next event: {n, max_counter(n) + 1}. Does not record it.
  dot next_dot(node_id n) const noexcept { return {n, max_counter(n) + 1}; }

  // Records `d` as seen (keeps canonical form).
  void insert(const dot& d);

  // Set union with `other` (keeps canonical form).
  void join(const dot_context& other);

  // Returns the set intersection of *this and `other`.
  dot_context intersect(const dot_context& other) const;

  // Returns true iff every dot of *this is in `other`.
  bool leq(const dot_context& other) const;

  // Number of dots in the set, saturating at UINT64_MAX.
  uint64_t dot_count() const noexcept;

  // Calls f(dot) for every dot in the set, in (node, counter) order.
  // REQUIRES: dot_count() is small enough to enumerate (callers check it first).
  template <class F>
  void for_each_dot(F&& f) const {
    auto cloud = cloud_.begin();
    for (const auto& [n, c] : vv_.entries()) {
      for (; cloud != cloud_.end() && cloud->node < n; ++cloud) f(*cloud);
      for (uint64_t i = 1; i <= c; ++i) f(dot{n, i});
      for (; cloud != cloud_.end() && cloud->node == n; ++cloud) f(*cloud);
    }
    for (; cloud != cloud_.end(); ++cloud) f(*cloud);
  }

  bool empty() const noexcept { return vv_.empty() && cloud_.empty(); }
  // The nodes with a dot in the set, ascending, once each.
  std::vector<node_id> nodes() const;
  const version_vector& compact_part() const noexcept { return vv_; }
  const std::vector<dot>& cloud() const noexcept { return cloud_; }

  // Builds a context from raw parts (e.g. decoded bytes) and brings it to canonical form.
  // REQUIRES: no dot with counter 0 in `cloud`.
  static dot_context from_parts(version_vector vv, std::vector<dot> cloud);

  friend bool operator==(const dot_context&, const dot_context&) = default;

 private:
  void compact();

  version_vector vv_;
  std::vector<dot> cloud_;  // sorted, unique, canonical (see above)
};

}  // namespace rumor::crdt
