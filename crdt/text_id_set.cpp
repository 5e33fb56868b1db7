#include <algorithm>

#include "crdt/text.hpp"

namespace rumor::crdt {

std::vector<std::pair<uint64_t, uint64_t>> text_id_set::add(node_id n, uint64_t first, uint64_t last) {
  std::vector<std::pair<uint64_t, uint64_t>> fresh;
  if (first >= last) return fresh;
  auto& m = sets_[n];
  // The gaps of [first, last) not covered by the intervals are what is new.
  uint64_t at = first;
  auto it = m.upper_bound(first);
  if (it != m.begin()) {
    auto prev = std::prev(it);
    if (prev->second > at) at = std::min(prev->second, last);
  }
  for (auto j = it; j != m.end() && j->first < last && at < last; ++j) {
    if (j->first > at) fresh.emplace_back(at, j->first);
    at = std::max(at, std::min(j->second, last));
  }
  if (at < last) fresh.emplace_back(at, last);
  if (fresh.empty()) return fresh;
  // Merge [first, last) with every interval it touches.
  uint64_t lo = first, hi = last;
  auto j = m.upper_bound(first);
  if (j != m.begin() && std::prev(j)->second >= first) --j;
  while (j != m.end() && j->first <= last) {
    lo = std::min(lo, j->first);
    hi = std::max(hi, j->second);
    j = m.erase(j);
  }
  m.emplace(lo, hi);
  return fresh;
}

bool text_id_set::contains(const dot& d) const {
  auto s = sets_.find(d.node);
  if (s == sets_.end()) return false;
  auto it = s->second.upper_bound(d.counter);
  if (it == s->second.begin()) return false;
  --it;
  return d.counter < it->second;
}

std::vector<std::pair<uint64_t, uint64_t>> text_id_set::overlap(node_id n, uint64_t first, uint64_t last) const {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  auto s = sets_.find(n);
  if (s == sets_.end() || first >= last) return out;
  auto it = s->second.upper_bound(first);
  if (it != s->second.begin()) --it;
  for (; it != s->second.end() && it->first < last; ++it) {
    uint64_t a = std::max(it->first, first), b = std::min(it->second, last);
    if (a < b) out.emplace_back(a, b);
  }
  return out;
}

size_t text_id_set::interval_count() const noexcept {
  size_t n = 0;
  for (const auto& [node, m] : sets_) n += m.size();
  return n;
}

}  // namespace rumor::crdt
