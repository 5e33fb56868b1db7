#pragma once
// Messages of the linearizable compare-and-set lane (cas.hpp, CAS.md): single-decree Paxos per
// key in the style of CASPaxos (Rystsov 2018), as plain C++ values. Like messages.hpp these are
// what the state machine consumes and produces; an encoding (wire.capnp) is the caller's business.
//
// Every message names its key and the ballot of the proposal it belongs to. A proposer matches
// answers by (key, ballot): ballots are unique per proposer attempt, so no extra round id is
// needed.

#include <compare>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "crdt/dot.hpp"

namespace rumor::replication {

using crdt::node_id;

// A CAS register's value: bytes, or nullopt for "absent" (never written, or deleted).
using cas_value = std::optional<std::string>;

// A Paxos ballot (proposal number): totally ordered by counter, then node id. Each proposer uses
// only ballots with its own node id and never uses one twice (cas.hpp: the counter reservation
// survives restarts), so equal ballots always come from one attempt of one proposer.
// The zero ballot {0, 0} is "none" (below every real ballot; real ballots have counter >= 1).
struct ballot {
  uint64_t counter = 0;
  node_id node = 0;
  bool is_zero() const noexcept { return counter == 0 && node == 0; }
  friend auto operator<=>(const ballot&, const ballot&) = default;
  friend bool operator==(const ballot&, const ballot&) = default;
};

// Every accepted value carries its lineage: the ballots that created it and its predecessors
// (origin ballots of the last state transitions of the register), newest first, at most
// cas_max_lineage of them. A proposal that only writes the current value back (reads, failed cas)
// keeps the lineage; one that sets a new value prepends its own ballot. A proposer uses it to tell
// whether its own earlier, unconfirmed accept took effect (cas.hpp, CAS.md "At most once").
inline constexpr size_t cas_max_lineage = 8;

// Phase 1a, proposer -> acceptor: "promise to ignore ballots below `b`, and tell me what you
// accepted last".
struct cas_prepare {
  std::string key;
  ballot b;
  friend bool operator==(const cas_prepare&, const cas_prepare&) = default;
};

// Phase 1b, acceptor -> proposer: promised `b` (durably). `accepted` is the ballot of the last
// proposal it accepted for the key (zero: none), `value` and `lineage` that proposal's.
struct cas_promise {
  std::string key;
  ballot b;
  ballot accepted;
  cas_value value;
  std::vector<ballot> lineage;
  friend bool operator==(const cas_promise&, const cas_promise&) = default;
};

// Phase 2a, proposer -> acceptor: "accept `value` (with `lineage`) at ballot `b`". With a
// non-zero `next` (a later ballot of the same proposer), an acceptor that accepts also promises
// `next` — phase 1 of the proposer's next operation on the key, piggybacked (CAS.md, "One round
// trip"): once a quorum accepted, that operation may start with its accept.
struct cas_accept {
  std::string key;
  ballot b;
  cas_value value;
  std::vector<ballot> lineage;
  ballot next;
  friend bool operator==(const cas_accept&, const cas_accept&) = default;
};

// Phase 2b, acceptor -> proposer: accepted (durably) the proposal of ballot `b`.
struct cas_accepted {
  std::string key;
  ballot b;
  friend bool operator==(const cas_accepted&, const cas_accepted&) = default;
};

// Acceptor -> proposer: refused the prepare or accept of ballot `b` because it has promised the
// higher ballot `promised`. The proposer retries above it.
struct cas_nack {
  std::string key;
  ballot b;
  ballot promised;
  friend bool operator==(const cas_nack&, const cas_nack&) = default;
};

using cas_message = std::variant<cas_prepare, cas_promise, cas_accept, cas_accepted, cas_nack>;

// The number of lane message kinds, and each kind's name by its index in `cas_message`.
inline constexpr std::size_t cas_message_kinds = std::variant_size_v<cas_message>;
inline constexpr const char* cas_message_kind_names[] = {"cas_prepare", "cas_promise", "cas_accept", "cas_accepted",
                                                         "cas_nack"};
static_assert(std::size(cas_message_kind_names) == cas_message_kinds);
inline const char* kind_name(const cas_message& m) { return cas_message_kind_names[m.index()]; }

// The key a message is about.
inline const std::string& cas_key(const cas_message& m) {
  return std::visit([](const auto& x) -> const std::string& { return x.key; }, m);
}

}  // namespace rumor::replication
