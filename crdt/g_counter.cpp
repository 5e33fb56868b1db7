#include "crdt/g_counter.hpp"

#include <limits>
#include <vector>

namespace rumor::crdt {

result<g_counter> g_counter::increment(node_id self, uint64_t n) {
  uint64_t base = 0;
  std::vector<dot> superseded;
  for (const auto& [d, v] : store_.entries()) {
    if (d.node != self) continue;
    base = std::max(base, v);
    superseded.push_back(d);
  }
  if (n > std::numeric_limits<uint64_t>::max() - base)
    return error{errc::overflow, "g_counter increment would overflow 2^64-1"};
  dot d = ctx_.next_dot(self);
  superseded.push_back(d);
  dot_fun<uint64_t> s;
  s.insert(d, base + n);
  g_counter delta{std::move(s), dot_context::of(superseded)};
  join(delta);
  return delta;
}

uint64_t g_counter::value() const noexcept {
  uint64_t sum = 0;
  for (const auto& [d, v] : store_.entries()) {
    if (v > std::numeric_limits<uint64_t>::max() - sum) return std::numeric_limits<uint64_t>::max();
    sum += v;
  }
  return sum;
}

}  // namespace rumor::crdt
