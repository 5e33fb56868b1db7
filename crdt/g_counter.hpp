#pragma once
// g_counter: grow-only counter (Shapiro et al., "A comprehensive study of CRDTs", 2011), in its
// causal form (the "causal counter" of Almeida et al., delta-state CRDTs, §7.2): each node keeps one
// live dot whose value is that node's running total; an increment replaces the node's dot with a
// new one. value() is the sum of live dots. Being causal, it can be reset by a context (removal
// from an or_map, key deletion) without tombstones.

#include <cstdint>

#include "base/result.hpp"
#include "crdt/causal.hpp"
#include "crdt/dot_fun.hpp"
#include "crdt/type_tag.hpp"

namespace rumor::crdt {

class g_counter : public causal<dot_fun<uint64_t>> {
 public:
  static constexpr type_tag tag = type_tag::g_counter;
  using causal::causal;

  // Adds `n` to the contribution of `self`; returns the delta. errc::overflow when the node's
  // total would exceed 2^64-1 (nothing changes then).
  result<g_counter> increment(node_id self, uint64_t n = 1);

  // Sum of every node's total, saturating at 2^64-1.
  uint64_t value() const noexcept;

  void join(const g_counter& other) { join_parts(other.store_, other.ctx_); }

  friend bool operator==(const g_counter&, const g_counter&) = default;
};

}  // namespace rumor::crdt
