#pragma once
// ew_flag: enable-wins flag (Almeida et al., delta-state CRDTs, §7.2, EWFlag). enable() adds a
// fresh dot (superseding the observed ones); disable() covers the observed dots. The flag is on iff
// some dot survives, so an enable concurrent with a disable wins.

#include "crdt/causal.hpp"
#include "crdt/dot_set.hpp"
#include "crdt/type_tag.hpp"

namespace rumor::crdt {

class ew_flag : public causal<dot_set> {
 public:
  static constexpr type_tag tag = type_tag::ew_flag;
  using causal::causal;

  ew_flag enable(node_id self);
  ew_flag disable();
  bool value() const noexcept { return !store_.empty(); }

  void join(const ew_flag& other) { join_parts(other.store_, other.ctx_); }

  friend bool operator==(const ew_flag&, const ew_flag&) = default;
};

}  // namespace rumor::crdt
