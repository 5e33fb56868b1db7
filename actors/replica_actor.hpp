#pragma once
// replica actor: drives one replication::replica (the pure protocol state machine) with real
// time, the transport and the storage actor. Thin by design: every decision is the replica's;
// this actor feeds it inputs (client bursts and calls, peer messages, ticks, commit results) and
// carries out its outputs (batches to the storage actor, messages to the transport, replies to
// callers, changes to watchers) after every input. The responses and events of one step for a
// client connection leave as one message to the transport (not one per request); embedded
// callers' `call`s are answered through their callbacks.
//
// Lifecycle: spawn_replica_actor() → (init) from the node once transport and storage exist →
// running → (stop_atom, bool leave): leaves the cluster if `leave`, waits (bounded) for queued
// commits and the goodbye messages, stops transport and storage, answers and quits.
//
// Storage failure: when a commit fails, the replica's memory is ahead of its store; the actor
// fails the calls that were waiting on it (errc::unavailable, nothing acknowledged), builds a new
// replica from the store and carries on. Acknowledged updates were committed, so none is lost.

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "persistence/store.hpp"
#include "replication/cas.hpp"
#include "replication/replica.hpp"

namespace rumor::actors {

struct replica_actor_config {
  std::shared_ptr<persistence::store> store;  // REQUIRED; shared with the storage actor
  std::string address;                        // this node's peer address
  replication::replica_config replica;
  std::vector<std::string> seeds;
  // The compare-and-set lane (cas_lane.hpp): voter addresses (empty: disabled) and settings.
  std::vector<std::string> cas_voters;
  replication::cas_config cas;
  uint64_t rng_seed = 0;
  // A graceful stop first hands this node's own updates to its live peers (replica::hand_off),
  // for at most this long, then leaves.
  uint64_t leave_handoff_ms = 5000;
  std::shared_ptr<spdlog::logger> log;        // REQUIRED
  std::shared_ptr<std::atomic<uint8_t>> readiness;  // REQUIRED; rumor::readiness values
  // A client response whose frame would be larger is answered with errc::too_large instead (a
  // client refuses frames over its limit, 64 MiB): read such a value in pages (client::get view).
  size_t max_response_bytes = size_t{64} << 20;
  std::string security = "none";  // what status says of who may connect (client::node_status::security)
  // Milliseconds since the Unix epoch; empty = wall_clock_ms. Tests inject the test
  // coordinator's clock so that timers and protocol time advance together.
  std::function<uint64_t()> clock;
};

// The message that starts a spawned replica actor: the loaded replica and its peers.
struct replica_init {
  std::shared_ptr<replication::replica> rep;  // load()ed, not started
  caf::actor transport;
  caf::actor storage;
  std::string address;  // the bound peer address (known once the transport listens)
};

caf::actor spawn_replica_actor(caf::actor_system& sys, replica_actor_config cfg);

// Milliseconds since the Unix epoch (the physical clock the HLC follows).
uint64_t wall_clock_ms();

}  // namespace rumor::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rumor::actors::replica_init)
