#pragma once
// mv_register: multi-value register (Shapiro et al., 2011, MV-Register; causal form of Almeida et
// al., delta-state CRDTs, §7.2). A read returns every concurrent value ("siblings") plus a causal
// context. A write with that context supersedes exactly the values the context covers; writes
// concurrent with it survive as siblings. This is rumor's version-number concurrency: a
// *conditional* write (assign_if) fails with a conflict carrying the current siblings and context
// when anything was written since the caller's read, so the caller can merge and retry.

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "crdt/causal.hpp"
#include "crdt/dot_fun.hpp"
#include "crdt/type_tag.hpp"

namespace rumor::crdt {

// What a conditional write found instead of the context it expected.
struct mv_conflict {
  std::vector<std::string> siblings;
  dot_context context;
};

class mv_register : public causal<dot_fun<std::string>> {
 public:
  static constexpr type_tag tag = type_tag::mv_register;
  using causal::causal;

  // The concurrent values, in dot order (deterministic across replicas).
  std::vector<std::string> siblings() const;
  // The context to pass back to assign / assign_if: exactly the dots of the current siblings.
  dot_context read_context() const;

  // Writes `value` for `self`, superseding the values covered by `seen` (the context of an earlier
  // read); without `seen`, supersedes everything this replica holds. Dots in `seen` this replica
  // has never seen are ignored (they become siblings when they arrive), so a forged or stale
  // context can never hide future writes. Returns the delta.
  mv_register assign(node_id self, std::string_view value,
                     const std::optional<dot_context>& seen = std::nullopt);

  // Conditional write: succeeds (returning the delta) iff every current sibling is covered by
  // `seen`; otherwise changes nothing and returns the conflict.
  std::variant<mv_register, mv_conflict> assign_if(node_id self, std::string_view value,
                                                   const dot_context& seen);

  void join(const mv_register& other) { join_parts(other.store_, other.ctx_); }

  friend bool operator==(const mv_register&, const mv_register&) = default;
};

}  // namespace rumor::crdt
