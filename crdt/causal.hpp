#pragma once
// causal<Store>: a dot store plus its dot_context — the shape shared by every rumor CRDT
// ("causal CRDTs", Almeida et al., "Delta State Replicated Data Types", JPDC 2018, §7).
//
// Conventions shared by every type built on it:
// - A mutator applies to *this and returns the delta: a value of the same type holding only what
//   changed (new dots, and a context covering exactly the dots it supersedes). join(delta) into any
//   replica that has seen the state the delta was made from gives the mutated state.
// - join() is commutative, associative and idempotent over whole states and deltas alike.
// - Deltas must reach a replica in per-origin order (or be joined as full states) for intermediate
//   reads to be exact; in any order the final state is the same.
// - Invariant: every dot of the store is in the context.

#include <utility>

#include "crdt/dot_context.hpp"

namespace rumor::crdt {

template <class Store>
class causal {
 public:
  using store_type = Store;

  causal() = default;
  // REQUIRES: every dot of `s` is in `c`.
  causal(Store s, dot_context c) : store_(std::move(s)), ctx_(std::move(c)) {}

  const Store& store() const noexcept { return store_; }
  const dot_context& context() const noexcept { return ctx_; }
  // True iff this is the bottom element (nothing ever written or seen).
  bool is_bottom() const noexcept { return store_.empty() && ctx_.empty(); }

  friend bool operator==(const causal&, const causal&) = default;

 protected:
  void join_parts(const Store& s, const dot_context& c) {
    store_.join(ctx_, s, c);
    ctx_.join(c);
  }

  Store store_;
  dot_context ctx_;
};

}  // namespace rumor::crdt
