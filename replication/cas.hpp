#pragma once
// cas_node: the linearizable compare-and-set lane of one node as a pure, deterministic state
// machine — CASPaxos (Denis Rystsov, "CASPaxos: Replicated State Machines without logs", 2018):
// an independent single-decree Paxos register per key, where every operation is one Paxos round
// that reads the register's current value at a majority (prepare/promise) and writes f(value)
// back (accept/accepted). Design, persistence and a proof sketch: CAS.md.
//
// Every node runs an acceptor (answers any proposer) and a proposer (runs the operations of its
// local clients). Same style as replica.hpp (etcd raft's Step/Tick/Ready):
// Inputs:  cas() / write() / read() from local clients, receive() of peer messages, tick() with
//          the current time, committed() / commit_failed() for the write batches it asked for.
// Outputs: take_ready(): write batches to commit (in order), messages to send, client replies.
// It reads the store directly but never writes it. Every message and reply produced while a batch
// is uncommitted is held back until that batch (and every earlier one) is reported committed, so
// an acceptor never answers with a promise or acceptance that is not yet durable, and a proposer
// never sends a ballot whose counter reservation is not yet durable.
// Messages a node sends to itself (its proposer to its own acceptor and back) never leave it: they
// are delivered internally, after the same hold.
//
// CAS keys are their own keyspace, separate from the CRDT keys of replica.hpp (same key rules:
// validate_user_key). Values are opaque bytes, or absent.
//
// Membership: a fixed voter set per node (cas_config::voters); quorum = a majority of it. See
// set_voters() for the only safe way to change it.
//
// Thread safety: none; the owner serialises all calls.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "persistence/store.hpp"
#include "persistence/write_batch.hpp"
#include "replication/cas_messages.hpp"

namespace rumor::replication {

struct cas_config {
  // The acceptors whose majority decides (may include this node, or not). Every node of the lane
  // must be configured with the same list (see set_voters()).
  std::vector<node_id> voters;
  uint64_t timeout_ms = 2'000;      // default deadline of an operation (from its request)
  uint64_t retransmit_ms = 100;     // resend a phase's message to voters that have not answered
  uint64_t backoff_min_ms = 5;      // after a refused attempt, wait uniform in
  uint64_t backoff_max_ms = 200;    // [min, min(max, min * 2^attempts)] before the next
  uint32_t max_attempts = 16;       // attempts (ballots) per operation before giving up
  size_t max_value_bytes = 1 << 20;
  uint64_t ballot_block = 1024;     // ballot counters reserved durably per batch write
  // One round trip per operation while this node is the only proposer on a key: every accept
  // carries the ballot of this node's next operation on the key for the acceptors to promise,
  // and that operation starts with its accept (CAS.md, "One round trip").
  bool piggyback_prepare = true;
};

// A message to send to node `to` (never this node: those are delivered internally).
struct cas_outgoing {
  node_id to = 0;
  cas_message msg;
};

struct cas_batch {
  uint64_t id = 0;
  persistence::write_batch batch;
};

// The answer to one client request.
//   ok                    read: `value` is the current value; cas/write: applied, `value` is the
//                         new value (nullopt: deleted)
//   errc::conflict        cas whose expected value differed; `value` is the current value (the
//                         operation changed nothing)
//   errc::unavailable     NOT applied, certainly: no quorum answered before the deadline, or
//                         competing proposers won every attempt, or no voters are configured
//   errc::timeout         outcome UNKNOWN: an accept carrying the operation's new value was sent
//                         but not confirmed by a quorum; it may or may not take effect (at most
//                         once). A read may be retried freely; a cas by reading and deciding again.
//   errc::invalid_argument / too_large: a bad key or value; nothing was sent
struct cas_reply {
  uint64_t request = 0;
  status result;
  cas_value value;
};

struct cas_ready {
  std::vector<cas_batch> batches;        // commit in this order; report each with committed()
  std::vector<cas_outgoing> messages;
  std::vector<cas_reply> replies;
  bool empty() const noexcept { return batches.empty() && messages.empty() && replies.empty(); }
};

struct cas_stats {
  uint64_t attempts = 0;           // ballots started by this proposer
  uint64_t fast_attempts = 0;      // attempts that skipped phase 1 (a piggybacked promise)
  uint64_t retries = 0;            // attempts after a refused one
  uint64_t retransmits = 0;        // phase messages resent
  uint64_t ok = 0;
  uint64_t conflicts = 0;
  uint64_t unavailable = 0;
  uint64_t timeouts = 0;           // outcome-unknown replies
  uint64_t promises = 0;           // acceptor: promises given
  uint64_t accepts = 0;            // acceptor: proposals accepted
  uint64_t nacks = 0;              // acceptor: refusals
  uint64_t acceptor_errors = 0;    // acceptor: messages dropped on a store read/decode error
};

// What one acceptor has durably promised and accepted for one key.
struct acceptor_state {
  ballot promised;  // ignore prepares/accepts below this
  ballot accepted;  // the last accepted proposal (zero: none)
  cas_value value;  // its value
  std::vector<ballot> lineage;  // its lineage (cas_messages.hpp)
  friend bool operator==(const acceptor_state&, const acceptor_state&) = default;
};

// Persistence (meta records of the store; CAS.md "Persistent state"):
//   "cas/a/" + key  -> encode_acceptor_state(...)
//   "cas/ballot"    -> u64 LE: every ballot counter this node ever used is below it
std::string cas_acceptor_meta_name(std::string_view key);
inline constexpr std::string_view cas_ballot_meta_name = "cas/ballot";
std::string encode_acceptor_state(const acceptor_state& s);
// Errors: errc::corrupt (truncated, unknown format version, trailing bytes).
result<acceptor_state> decode_acceptor_state(std::string_view bytes);

class cas_node {
 public:
  // REQUIRES: `store` outlives the node; nothing else writes the "cas/" meta records.
  // This node's id is store.node_id().
  cas_node(const persistence::store& store, cas_config config, uint64_t rng_seed);

  // Reads the ballot reservation. Call once, before anything else. Errors: store read errors,
  // errc::corrupt for a malformed record.
  status load();

  // Linearizable compare-and-set: if the key's value equals `expected` (nullopt: absent) set it to
  // `desired` (nullopt: delete). Replies as cas_reply says. timeout_ms 0: config.timeout_ms.
  void cas(uint64_t request, std::string_view key, cas_value expected, cas_value desired,
           uint64_t now_ms, uint64_t timeout_ms = 0);
  // Unconditional linearizable write (nullopt: delete).
  void write(uint64_t request, std::string_view key, cas_value desired, uint64_t now_ms,
             uint64_t timeout_ms = 0);
  // Linearizable read: a full round that writes the current value back (as CASPaxos does), so the
  // value returned is chosen, never a minority's leftover.
  void read(uint64_t request, std::string_view key, uint64_t now_ms, uint64_t timeout_ms = 0);

  void receive(node_id from, const cas_message& m, uint64_t now_ms);
  // Expires deadlines, starts retries whose backoff has passed, retransmits.
  void tick(uint64_t now_ms);

  // The batch `batch_id` from ready.batches is durable. REQUIRES: batches are reported in order.
  void committed(uint64_t batch_id);
  // The batch failed: memory is ahead of the store; the node refuses further input (failed()) and
  // the owner must build a new cas_node from the store.
  void commit_failed(uint64_t batch_id, const error& e);
  bool failed() const noexcept { return failed_; }

  cas_ready take_ready();

  // Replaces the voter set. Attempts running with another list are abandoned and start again
  // toward the new one at the next tick, with a new ballot (late answers to the old ballot are
  // ignored). A placeholder id that never answers (an address not yet resolved to a member) can
  // be replaced by the member's id this way: no majority of the old set is ever reached without
  // the other voters, so it intersects every majority of the new one.
  // SAFE ONLY under this rule (CAS.md, "Membership"): the new set differs from the current one
  // by exactly one node added or removed, every node of the lane makes the same change, and the
  // next change waits until every node has applied this one and every attempt started under the
  // older set has ended (an operation deadline after the last node switched). Then every majority
  // of the old set intersects every majority of the new, which is all Paxos needs. The state
  // machine cannot check the rule across nodes; the operator (or a later, automated
  // reconfiguration) must follow it.
  void set_voters(std::vector<node_id> voters);
  const std::vector<node_id>& voters() const noexcept { return config_.voters; }

  node_id id() const noexcept { return self_; }
  const cas_stats& stats() const noexcept { return stats_; }
  // Operations accepted from clients and not yet answered.
  size_t pending() const noexcept;
  // This node's acceptor state for `key`, including not yet committed changes.
  result<acceptor_state> acceptor(std::string_view key) const;

 private:
  enum class op_kind : uint8_t { read, cas, write };
  enum class phase : uint8_t { idle, preparing, accepting };
  struct op {
    uint64_t request = 0;
    op_kind kind = op_kind::read;
    cas_value expected;
    cas_value desired;
    uint64_t deadline = 0;
    uint32_t attempts = 0;
    phase ph = phase::idle;
    uint64_t retry_at = 0;      // idle: start the next attempt at or after
    uint64_t last_send = 0;
    ballot b;                   // the current attempt's ballot
    std::vector<node_id> voters;  // the current attempt's voter set
    std::set<node_id> acks;     // promises (preparing) / acceptances (accepting) this phase
    std::set<node_id> nacks;    // refusals this phase
    ballot highest;             // preparing: highest accepted ballot among the promises
    cas_value highest_value;
    std::vector<ballot> highest_lineage;
    cas_value proposed;         // accepting: the value sent
    std::vector<ballot> proposed_lineage;
    bool conflict = false;      // accepting: the outcome is a conflict (nothing changes)
    cas_value reply_value;      // accepting: the value to report once a quorum accepted
    std::vector<ballot> effects;  // ballots whose accept carried this operation's effect
    ballot next;                // accepting: the ballot the acceptors promise on accepting (zero: none)
  };
  // A key whose phase 1 for ballot `b` is done: a quorum accepted `accepted` (value, lineage)
  // and promised `b` in the same step, so `value` is the register's current value as of `b`.
  struct prepared {
    ballot b;
    ballot accepted;
    cas_value value;
    std::vector<ballot> lineage;
    std::vector<node_id> voters;
  };
  struct held {
    uint64_t batch_id;
    std::vector<cas_outgoing> messages;
    std::vector<cas_reply> replies;
  };

  // step plumbing
  void finish_step();
  void end_step();
  void pump();
  void release(std::vector<cas_outgoing>& messages, std::vector<cas_reply>& replies);
  void send(node_id to, cas_message m);
  void reply_now(cas_reply r);
  void dispatch(node_id from, const cas_message& m);

  // acceptor
  result<acceptor_state> load_state(std::string_view key) const;
  std::optional<acceptor_state> acceptor_input(const std::string& key, const ballot& b);
  void persist_state(const std::string& key, const acceptor_state& s);
  void on_prepare(node_id from, const cas_prepare& m);
  void on_accept(node_id from, const cas_accept& m);

  // proposer
  void submit(uint64_t request, std::string_view key, op_kind kind, cas_value expected,
              cas_value desired, uint64_t timeout_ms);
  op* active(const std::string& key, const ballot& b, phase ph);
  size_t quorum(const op& o) const noexcept { return o.voters.size() / 2 + 1; }
  ballot next_ballot();
  void note_ballot(const ballot& b) noexcept;
  void start_attempt(const std::string& key, op& o);
  void broadcast(const std::string& key, op& o, bool only_missing);
  void decide(const std::string& key, op& o);
  void refused(const std::string& key, op& o);
  // Answers the front op of `key` and starts the next queued one.
  void complete(const std::string& key, status s, cas_value v);
  void on_promise(node_id from, const cas_promise& m);
  void on_accepted(node_id from, const cas_accepted& m);
  void on_nack(node_id from, const cas_nack& m);
  void expire(const std::string& key, std::deque<op>& q);
  std::string no_quorum(const std::string& key, const op& o) const;

  const persistence::store& store_;
  cas_config config_;
  node_id self_;
  std::mt19937_64 rng_;
  uint64_t now_ms_ = 0;

  // proposer
  std::map<std::string, std::deque<op>, std::less<>> ops_;  // per key, FIFO; front is running
  std::map<std::string, prepared, std::less<>> prepared_;   // keys whose next attempt may skip phase 1
  uint64_t counter_ = 0;    // last ballot counter used
  uint64_t seen_ = 0;       // highest ballot counter seen from anyone
  uint64_t reserved_ = 0;   // counters below this may be used (durable once committed)

  // acceptor: states changed by uncommitted batches (key -> state, batch id)
  std::map<std::string, std::pair<acceptor_state, uint64_t>, std::less<>> dirty_;

  // uncommitted effects
  persistence::write_batch cur_;
  std::vector<cas_outgoing> step_messages_;
  std::vector<cas_reply> step_replies_;
  std::deque<held> in_flight_;
  std::deque<cas_message> loop_;  // released messages addressed to this node
  uint64_t next_batch_id_ = 1;
  bool in_step_ = false;

  cas_ready ready_;
  bool failed_ = false;
  cas_stats stats_;
};

}  // namespace rumor::replication
