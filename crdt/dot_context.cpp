#include "crdt/dot_context.hpp"

#include <algorithm>

namespace rumor::crdt {

dot_context dot_context::of(std::span<const dot> dots) {
  std::vector<dot> cloud(dots.begin(), dots.end());
  return from_parts({}, std::move(cloud));
}

dot_context dot_context::from_parts(version_vector vv, std::vector<dot> cloud) {
  dot_context c;
  c.vv_ = std::move(vv);
  std::sort(cloud.begin(), cloud.end());
  cloud.erase(std::unique(cloud.begin(), cloud.end()), cloud.end());
  c.cloud_ = std::move(cloud);
  c.compact();
  return c;
}

bool dot_context::contains(const dot& d) const noexcept {
  if (vv_.contains(d)) return true;
  return std::binary_search(cloud_.begin(), cloud_.end(), d);
}

uint64_t dot_context::max_counter(node_id n) const noexcept {
  uint64_t m = vv_.get(n);
  // The last cloud dot of node n is its highest.
  auto it = std::lower_bound(cloud_.begin(), cloud_.end(), dot{n + 1, 0});
  if (n == std::numeric_limits<node_id>::max()) it = cloud_.end();
  if (it != cloud_.begin()) {
    const dot& last = *std::prev(it);
    if (last.node == n) m = std::max(m, last.counter);
  }
  return m;
}

void dot_context::insert(const dot& d) {
  if (d.counter == 0 || contains(d)) return;
  uint64_t have = vv_.get(d.node);
  if (d.counter == have + 1) {
    vv_.set(d.node, d.counter);
    // Absorb cloud dots that became contiguous.
    auto it = std::lower_bound(cloud_.begin(), cloud_.end(), dot{d.node, d.counter + 1});
    uint64_t next = d.counter + 1;
    auto first = it;
    while (it != cloud_.end() && it->node == d.node && it->counter == next) {
      ++it;
      ++next;
    }
    if (it != first) {
      vv_.set(d.node, next - 1);
      cloud_.erase(first, it);
    }
    return;
  }
  cloud_.insert(std::lower_bound(cloud_.begin(), cloud_.end(), d), d);
}

void dot_context::join(const dot_context& other) {
  if (other.empty()) return;
  vv_.merge(other.vv_);
  if (!other.cloud_.empty()) {
    std::vector<dot> merged;
    merged.reserve(cloud_.size() + other.cloud_.size());
    std::set_union(cloud_.begin(), cloud_.end(), other.cloud_.begin(), other.cloud_.end(),
                   std::back_inserter(merged));
    cloud_ = std::move(merged);
  }
  compact();
}

void dot_context::compact() {
  if (cloud_.empty()) return;
  std::vector<dot> keep;
  keep.reserve(cloud_.size());
  size_t i = 0;
  while (i < cloud_.size()) {
    node_id n = cloud_[i].node;
    uint64_t top = vv_.get(n);
    size_t j = i;
    for (; j < cloud_.size() && cloud_[j].node == n; ++j) {
      const dot& d = cloud_[j];
      if (d.counter <= top) continue;               // covered
      if (d.counter == top + 1) { top = d.counter; continue; }  // contiguous: absorb
      keep.push_back(d);
    }
    vv_.set(n, top);
    i = j;
  }
  cloud_ = std::move(keep);
}

dot_context dot_context::intersect(const dot_context& other) const {
  version_vector vv;
  for (const auto& [n, c] : vv_.entries()) {
    uint64_t o = other.vv_.get(n);
    if (o) vv.set(n, std::min(c, o));
  }
  std::vector<dot> cloud;
  for (const dot& d : cloud_)
    if (other.contains(d)) cloud.push_back(d);
  for (const dot& d : other.cloud_)
    if (contains(d)) cloud.push_back(d);
  return from_parts(std::move(vv), std::move(cloud));
}

bool dot_context::leq(const dot_context& other) const {
  for (const auto& [n, c] : vv_.entries()) {
    uint64_t o = other.vv_.get(n);
    if (o >= c) continue;
    // Dots o+1..c must all be in other's cloud.
    auto it = std::lower_bound(other.cloud_.begin(), other.cloud_.end(), dot{n, o + 1});
    for (uint64_t k = o + 1; k <= c; ++k, ++it)
      if (it == other.cloud_.end() || *it != dot{n, k}) return false;
  }
  for (const dot& d : cloud_)
    if (!other.contains(d)) return false;
  return true;
}

uint64_t dot_context::dot_count() const noexcept {
  uint64_t n = vv_.total();
  if (n > std::numeric_limits<uint64_t>::max() - cloud_.size()) return std::numeric_limits<uint64_t>::max();
  return n + cloud_.size();
}

std::vector<node_id> dot_context::nodes() const {
  std::vector<node_id> out;
  for (const auto& [n, c] : vv_.entries()) out.push_back(n);
  for (const dot& d : cloud_) out.push_back(d.node);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace rumor::crdt
