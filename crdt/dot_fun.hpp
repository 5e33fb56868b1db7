#pragma once
// dot_fun<V>: the DotFun dot store of Almeida et al. (§7.1): a map from dots to immutable values.
// A value written at a dot never changes, so for a dot present on both sides the values are equal.
// Join with contexts keeps a dot iff both sides have it or the other side has not seen it.
// Used by the counters (one live dot per node carrying that node's running total), lww_register and
// mv_register.

#include <algorithm>
#include <utility>
#include <vector>

#include "crdt/dot.hpp"
#include "crdt/dot_context.hpp"

namespace rumor::crdt {

template <class V>
class dot_fun {
 public:
  using entry = std::pair<dot, V>;

  dot_fun() = default;
  // Builds from entries in any order; for a repeated dot the first entry wins.
  explicit dot_fun(std::vector<entry> entries) : entries_(std::move(entries)) {
    std::stable_sort(entries_.begin(), entries_.end(),
                     [](const entry& a, const entry& b) { return a.first < b.first; });
    entries_.erase(std::unique(entries_.begin(), entries_.end(),
                               [](const entry& a, const entry& b) { return a.first == b.first; }),
                   entries_.end());
  }

  bool empty() const noexcept { return entries_.empty(); }
  size_t size() const noexcept { return entries_.size(); }
  const std::vector<entry>& entries() const noexcept { return entries_; }

  const V* find(const dot& d) const noexcept {
    auto it = lower(d);
    return (it != entries_.end() && it->first == d) ? &it->second : nullptr;
  }

  // REQUIRES: d not present.
  void insert(const dot& d, V v) { entries_.insert(lower(d), entry{d, std::move(v)}); }

  template <class F>
  void for_each_dot(F&& f) const {
    for (const auto& e : entries_) f(e.first);
  }

  // *this := store part of (*this, mine) ⊔ (other, theirs).
  void join(const dot_context& mine, const dot_fun& other, const dot_context& theirs) {
    std::vector<entry> out;
    out.reserve(entries_.size() + other.entries_.size());
    auto a = entries_.begin();
    auto b = other.entries_.begin();
    while (a != entries_.end() || b != other.entries_.end()) {
      if (b == other.entries_.end() || (a != entries_.end() && a->first < b->first)) {
        if (!theirs.contains(a->first)) out.push_back(std::move(*a));
        ++a;
      } else if (a == entries_.end() || b->first < a->first) {
        if (!mine.contains(b->first)) out.push_back(*b);
        ++b;
      } else {
        out.push_back(std::move(*a));
        ++a;
        ++b;
      }
    }
    entries_ = std::move(out);
  }

  // *this := *this \ ctx.
  void filter(const dot_context& ctx) {
    std::erase_if(entries_, [&](const entry& e) { return ctx.contains(e.first); });
  }

  friend bool operator==(const dot_fun&, const dot_fun&) = default;

 private:
  typename std::vector<entry>::const_iterator lower(const dot& d) const {
    return std::lower_bound(entries_.begin(), entries_.end(), d,
                            [](const entry& e, const dot& x) { return e.first < x; });
  }
  typename std::vector<entry>::iterator lower(const dot& d) {
    return std::lower_bound(entries_.begin(), entries_.end(), d,
                            [](const entry& e, const dot& x) { return e.first < x; });
  }

  std::vector<entry> entries_;  // sorted by dot, unique
};

}  // namespace rumor::crdt
