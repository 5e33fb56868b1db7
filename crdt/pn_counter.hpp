#pragma once
// pn_counter: increment/decrement counter (Shapiro et al., 2011), causal form as g_counter: each
// node's live dot carries the node's running totals of increments (p) and decrements (n).
// value() = Σp − Σn, clamped to int64.

#include <cstdint>

#include "base/result.hpp"
#include "crdt/causal.hpp"
#include "crdt/dot_fun.hpp"
#include "crdt/type_tag.hpp"

namespace rumor::crdt {

struct pn_entry {
  uint64_t p = 0;
  uint64_t n = 0;
  friend bool operator==(const pn_entry&, const pn_entry&) = default;
};

class pn_counter : public causal<dot_fun<pn_entry>> {
 public:
  static constexpr type_tag tag = type_tag::pn_counter;
  using causal::causal;

  // Adds `by` (negative: subtracts) to the counter on behalf of `self`; returns the delta.
  // errc::overflow when the node's increment or decrement total would exceed 2^64-1.
  result<pn_counter> add(node_id self, int64_t by);
  result<pn_counter> increment(node_id self, uint64_t n = 1);
  result<pn_counter> decrement(node_id self, uint64_t n = 1);

  // Σp − Σn, clamped to [INT64_MIN, INT64_MAX].
  int64_t value() const noexcept;

  void join(const pn_counter& other) { join_parts(other.store_, other.ctx_); }

  friend bool operator==(const pn_counter&, const pn_counter&) = default;

 private:
  result<pn_counter> change(node_id self, uint64_t inc, uint64_t dec);
};

}  // namespace rumor::crdt
