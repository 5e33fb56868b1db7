#pragma once
// Dots: unique event identifiers (node id, per-node counter), as in dotted version vectors
// (Preguiça et al., "Dotted Version Vectors", 2012) and delta-state CRDTs (Almeida et al., 2018).

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace rumor::crdt {

// A node's identity: random 64-bit, created once and persisted (never 0 for a real node).
using node_id = uint64_t;

// One event of one node. Counters start at 1; {n, 0} is "no event".
struct dot {
  node_id node = 0;
  uint64_t counter = 0;

  friend constexpr auto operator<=>(const dot&, const dot&) = default;
};

struct dot_hash {
  size_t operator()(const dot& d) const noexcept {
    return std::hash<uint64_t>{}(d.node * 0x9E3779B97F4A7C15ull ^ d.counter);
  }
};

}  // namespace rumor::crdt
