#pragma once
// dot_set: the DotSet dot store of Almeida et al. ("Delta State Replicated Data Types", §7.1):
// a set of dots, interpreted together with a dot_context. Join with contexts:
//   (s, c) ⊔ (s', c') = ((s ∩ s') ∪ (s \ c') ∪ (s' \ c), c ∪ c')
// Used directly by ew_flag and as the per-element store of or_set.

#include <algorithm>
#include <vector>

#include "crdt/dot.hpp"
#include "crdt/dot_context.hpp"

namespace rumor::crdt {

class dot_set {
 public:
  dot_set() = default;
  explicit dot_set(std::vector<dot> dots) : dots_(std::move(dots)) {
    std::sort(dots_.begin(), dots_.end());
    dots_.erase(std::unique(dots_.begin(), dots_.end()), dots_.end());
  }

  bool empty() const noexcept { return dots_.empty(); }
  size_t size() const noexcept { return dots_.size(); }
  bool contains(const dot& d) const noexcept { return std::binary_search(dots_.begin(), dots_.end(), d); }
  const std::vector<dot>& dots() const noexcept { return dots_; }

  void insert(const dot& d) {
    auto it = std::lower_bound(dots_.begin(), dots_.end(), d);
    if (it == dots_.end() || *it != d) dots_.insert(it, d);
  }

  template <class F>
  void for_each_dot(F&& f) const {
    for (const dot& d : dots_) f(d);
  }

  // *this := store part of (*this, mine) ⊔ (other, theirs). `mine` is the context of *this before
  // the join.
  void join(const dot_context& mine, const dot_set& other, const dot_context& theirs) {
    std::vector<dot> out;
    out.reserve(dots_.size() + other.dots_.size());
    auto a = dots_.begin();
    auto b = other.dots_.begin();
    while (a != dots_.end() || b != other.dots_.end()) {
      if (b == other.dots_.end() || (a != dots_.end() && *a < *b)) {
        if (!theirs.contains(*a)) out.push_back(*a);
        ++a;
      } else if (a == dots_.end() || *b < *a) {
        if (!mine.contains(*b)) out.push_back(*b);
        ++b;
      } else {
        out.push_back(*a);
        ++a;
        ++b;
      }
    }
    dots_ = std::move(out);
  }

  // *this := *this \ ctx (join with an empty store whose context is `ctx`).
  void filter(const dot_context& ctx) {
    std::erase_if(dots_, [&](const dot& d) { return ctx.contains(d); });
  }

  friend bool operator==(const dot_set&, const dot_set&) = default;

 private:
  std::vector<dot> dots_;  // sorted, unique
};

}  // namespace rumor::crdt
