#pragma once
// cas_lane: the replica actor's host for the linearizable compare-and-set lane (replication/cas.hpp,
// replication/CAS.md). It owns the lane's state machine, turns client cas / lget requests into
// its operations and its replies into client responses, maps the configured voter addresses to
// node ids through the gossip membership, and rebuilds the state machine from the store when a
// commit fails. No CAF in here: the actor feeds it inputs and carries out take_effects().
//
// Voters. The lane is enabled by a fixed list of voter addresses (`rumor node --cas-voters`), the
// same on every node; quorum is a majority of that list's length. A voter address maps to the id
// of the member advertising it (or this node's id for its own address). An address with no
// member yet maps to a placeholder id that never answers: it counts in the quorum size and never
// in a quorum, so a placeholder turning into a real id cannot break quorum intersection (every
// majority of the old list holds only real ids, all in the new list). An address whose node id
// changes (a voter wiped and rejoined) is a change of one voter and must follow CAS.md's
// one-at-a-time rule.
//
// Thread safety: none; used by the replica actor only.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/actor_messages.hpp"
#include "base/result.hpp"
#include "client/client_messages.hpp"
#include "persistence/store.hpp"
#include "replication/cas.hpp"
#include "replication/membership.hpp"

namespace rumor::actors {

class cas_lane {
 public:
  using reply_fn = std::function<void(client::response)>;

  struct effects {
    std::vector<replication::pending_batch> batches;  // lane-1 batches for the storage actor, in order
    std::vector<cas_envelope> messages;               // for the transport
  };

  // `voters` empty: the lane is disabled and every request is answered with unavailable.
  // REQUIRES: `store` outlives the lane.
  cas_lane(const persistence::store& store, std::vector<std::string> voters, replication::cas_config cfg,
           uint64_t rng_seed);

  // Reads the lane's durable state. Errors as cas_node::load().
  status load();
  bool enabled() const noexcept { return !addresses_.empty(); }
  size_t voter_count() const noexcept { return addresses_.size(); }  // the configured voters

  // Re-maps the voter addresses to ids. Returns a description of the new voter set when it
  // changed (for the log), nullopt otherwise.
  std::optional<std::string> resolve(const replication::membership& members, replication::node_id self,
                                     const std::string& self_address);

  // A client request whose body is client::cas or client::lget; `reply` is called exactly once.
  void submit(const client::request& req, reply_fn reply, uint64_t now_ms);
  void receive(replication::node_id from, const replication::cas_message& m, uint64_t now_ms);
  void tick(uint64_t now_ms);

  // Every lane batch with id <= `last` is durable.
  void committed(uint64_t last);
  // Batch `batch` failed: answers every pending request (outcome unknown) and rebuilds the
  // state machine from the store. Returns an error when the store cannot be read back.
  status commit_failed(uint64_t batch, const error& e, uint64_t now_ms);
  // The incarnation of the state machine (1, then one more per commit_failed): the batches of
  // take_effects belong to it (storage_batches::generation).
  uint64_t generation() const noexcept { return generation_; }
  // The node stops: answers every pending request (outcome unknown).
  void stop();

  // Carries out replies (calls the reply functions) and returns what the actor must send.
  // `members` supplies the addresses of the message targets.
  effects take_effects(const replication::membership& members);

  size_t pending() const noexcept { return calls_.size(); }
  const replication::cas_stats& stats() const noexcept { return node_->stats(); }
  const std::vector<replication::node_id>& voters() const noexcept { return node_->voters(); }

 private:
  struct waiting {
    uint64_t client_id;
    std::string key;
    reply_fn reply;
  };
  void fail_pending(const error& e);

  const persistence::store& store_;
  std::vector<std::string> addresses_;
  replication::cas_config cfg_;
  uint64_t seed_;
  std::unique_ptr<replication::cas_node> node_;
  std::unordered_map<uint64_t, waiting> calls_;  // lane request id -> caller
  uint64_t next_request_ = 1;
  uint64_t last_reported_ = 0;  // lane batch ids reported to node_
  uint64_t batch_base_ = 0;     // lane batch id = node_'s batch id + batch_base_ (node_ restarts at 1)
  uint64_t last_sent_ = 0;      // highest lane batch id handed out
  uint64_t generation_ = 1;
};

}  // namespace rumor::actors
