#include "crdt/pn_counter.hpp"

#include <limits>
#include <vector>

namespace rumor::crdt {

result<pn_counter> pn_counter::add(node_id self, int64_t by) {
  if (by >= 0) return change(self, static_cast<uint64_t>(by), 0);
  // -INT64_MIN does not fit int64; compute the magnitude in unsigned arithmetic.
  return change(self, 0, uint64_t{0} - static_cast<uint64_t>(by));
}

result<pn_counter> pn_counter::increment(node_id self, uint64_t n) { return change(self, n, 0); }
result<pn_counter> pn_counter::decrement(node_id self, uint64_t n) { return change(self, 0, n); }

result<pn_counter> pn_counter::change(node_id self, uint64_t inc, uint64_t dec) {
  pn_entry base;
  std::vector<dot> superseded;
  for (const auto& [d, v] : store_.entries()) {
    if (d.node != self) continue;
    base.p = std::max(base.p, v.p);
    base.n = std::max(base.n, v.n);
    superseded.push_back(d);
  }
  constexpr uint64_t max = std::numeric_limits<uint64_t>::max();
  if (inc > max - base.p || dec > max - base.n)
    return error{errc::overflow, "pn_counter change would overflow this node's 2^64-1 total"};
  dot d = ctx_.next_dot(self);
  superseded.push_back(d);
  dot_fun<pn_entry> s;
  s.insert(d, pn_entry{base.p + inc, base.n + dec});
  pn_counter delta{std::move(s), dot_context::of(superseded)};
  join(delta);
  return delta;
}

int64_t pn_counter::value() const noexcept {
  __int128 sum = 0;
  for (const auto& [d, v] : store_.entries()) sum += static_cast<__int128>(v.p) - static_cast<__int128>(v.n);
  if (sum > std::numeric_limits<int64_t>::max()) return std::numeric_limits<int64_t>::max();
  if (sum < std::numeric_limits<int64_t>::min()) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(sum);
}

}  // namespace rumor::crdt
