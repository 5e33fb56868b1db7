#include "crdt/version_vector.hpp"

#include <algorithm>
#include <limits>

namespace rumor::crdt {

namespace {
auto find_node(const std::vector<version_vector::entry>& v, node_id n) {
  return std::lower_bound(v.begin(), v.end(), n,
                          [](const version_vector::entry& e, node_id x) { return e.first < x; });
}
}  // namespace

uint64_t version_vector::get(node_id n) const noexcept {
  auto it = find_node(entries_, n);
  return (it != entries_.end() && it->first == n) ? it->second : 0;
}

void version_vector::set(node_id n, uint64_t counter) {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), n,
                             [](const entry& e, node_id x) { return e.first < x; });
  if (it != entries_.end() && it->first == n) {
    if (counter == 0)
      entries_.erase(it);
    else
      it->second = counter;
  } else if (counter != 0) {
    entries_.insert(it, {n, counter});
  }
}

void version_vector::raise(node_id n, uint64_t counter) {
  if (counter > get(n)) set(n, counter);
}

void version_vector::merge(const version_vector& other) {
  if (other.entries_.empty()) return;
  std::vector<entry> out;
  out.reserve(entries_.size() + other.entries_.size());
  auto a = entries_.begin();
  auto b = other.entries_.begin();
  while (a != entries_.end() || b != other.entries_.end()) {
    if (b == other.entries_.end() || (a != entries_.end() && a->first < b->first)) {
      out.push_back(*a++);
    } else if (a == entries_.end() || b->first < a->first) {
      out.push_back(*b++);
    } else {
      out.emplace_back(a->first, std::max(a->second, b->second));
      ++a;
      ++b;
    }
  }
  entries_ = std::move(out);
}

bool version_vector::leq(const version_vector& other) const noexcept {
  for (const auto& [n, c] : entries_)
    if (c > other.get(n)) return false;
  return true;
}

version_vector::order version_vector::compare(const version_vector& other) const noexcept {
  bool le = leq(other);
  bool ge = other.leq(*this);
  if (le && ge) return order::equal;
  if (le) return order::before;
  if (ge) return order::after;
  return order::concurrent;
}

uint64_t version_vector::total() const noexcept {
  uint64_t sum = 0;
  for (const auto& e : entries_) {
    if (sum > std::numeric_limits<uint64_t>::max() - e.second) return std::numeric_limits<uint64_t>::max();
    sum += e.second;
  }
  return sum;
}

}  // namespace rumor::crdt
