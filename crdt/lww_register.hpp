#pragma once
// lww_register: last-writer-wins register ordered by hybrid logical clock timestamps (Kulkarni et
// al., 2014), ties broken by writer node id (Shapiro et al., 2011, LWW-Register). Causal form: each
// write supersedes every write its replica has seen (so a causally later write always wins); writes
// that are concurrent all stay in the store and read() returns the one with the greatest
// (timestamp, node id, counter). Concurrent entries are dropped by the next write that sees them.

#include <optional>
#include <string>
#include <string_view>

#include "crdt/causal.hpp"
#include "crdt/dot_fun.hpp"
#include "crdt/hlc.hpp"
#include "crdt/type_tag.hpp"

namespace rumor::crdt {

struct lww_entry {
  hlc_timestamp timestamp;
  std::string value;
  friend bool operator==(const lww_entry&, const lww_entry&) = default;
};

class lww_register : public causal<dot_fun<lww_entry>> {
 public:
  static constexpr type_tag tag = type_tag::lww_register;
  using causal::causal;

  // Writes `value` at HLC time `ts` on behalf of `self`; returns the delta. Callers take `ts` from
  // the node's hlc_clock, which has observed every timestamp merged here, so ts exceeds them.
  lww_register assign(node_id self, hlc_timestamp ts, std::string_view value);

  // The winning value; nullopt when never written (or reset).
  std::optional<std::string> read() const;
  // Timestamp of the winning write (0 when empty).
  hlc_timestamp timestamp() const;

  void join(const lww_register& other) { join_parts(other.store_, other.ctx_); }

  friend bool operator==(const lww_register&, const lww_register&) = default;

 private:
  const dot_fun<lww_entry>::entry* winner() const;
};

}  // namespace rumor::crdt
