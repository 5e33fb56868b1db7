#pragma once
// Messages between the actors of one rumor node (never sent over the network; CAF's
// "unsafe" local message types). Who sends what:
//
//   node API / transport --call-------------> replica actor   a client request + reply callback
//   transport -----------peer_message-------> replica actor   a decoded peer message
//   replica actor -------(send_atom, outbox)> transport       peer messages to deliver
//   transport -----------cas_peer_message---> replica actor   a decoded compare-and-set lane message
//   replica actor -------(send_atom, cas_outbox_msg)> transport  lane messages to deliver
//   replica actor -------storage_batches----> storage actor   write batches to commit, in order
//   storage actor -------storage_result-----> replica actor   which batches are durable / failed
//
// Contracts: the replica actor calls `reply` exactly once per call (possibly much later, e.g.
// after a majority write), and `on_event` for every change a watch matches, until the watch is
// cancelled (unwatch with the same request id) — both from the replica actor's thread, so they
// must be quick and must not block on the node.

#include <cstdint>
#include <functional>
#include <vector>

#include <caf/all.hpp>

#include "base/error.hpp"
#include "client/client_messages.hpp"
#include "replication/cas_messages.hpp"
#include "replication/messages.hpp"
#include "replication/outgoing.hpp"
#include "replication/replica.hpp"
#include "http/metrics.hpp"

namespace rumor::actors {

using send_atom = caf::atom_constant<caf::atom("rsend")>;
using tick_atom = caf::atom_constant<caf::atom("rtick")>;
using stop_atom = caf::atom_constant<caf::atom("rstop")>;
using flush_atom = caf::atom_constant<caf::atom("rflush")>;
using drain_atom = caf::atom_constant<caf::atom("rdrain")>;
using client_out_atom = caf::atom_constant<caf::atom("rcliout")>;
using connect_atom = caf::atom_constant<caf::atom("rconnect")>;
// replica actor -> storage actor, a request: does the store take writes again (after a commit
// failed because it was full)? The storage actor commits a small meta record and answers
// ok_atom, or the error (as a string: caf::error cannot carry ours).
using probe_atom = caf::atom_constant<caf::atom("rprobe")>;
using metrics_atom = caf::atom_constant<caf::atom("rmetrics")>;
using reload_atom = caf::atom_constant<caf::atom("rreload")>;  // transport: new credentials (SIGHUP)

struct call {
  // Who asks: the transport's connection id for a client connection, a node-API-unique id for
  // embedded callers. Watches are identified by (session, request id), so every caller may
  // number its requests from 1; when a session ends its owner sends unwatch for its watches.
  uint64_t session = 0;
  client::request req;
  std::function<void(client::response)> reply;
  std::function<void(client::event)> on_event;  // watches only; may be empty otherwise
};

// The requests the transport read from one client connection at once, in arrival order: one
// message per burst, not one per request. The replica actor handles them in order and answers
// with (client_out_atom, session, frames) messages to `transport`, each holding every response
// and event of one of its steps for that connection.
struct client_burst {
  uint64_t session = 0;
  caf::actor transport;
  std::vector<client::request> requests;
};

struct peer_message {
  replication::node_id from = 0;
  replication::message msg;
};

struct outbox_msg {
  replication::outbox messages;
};

struct cas_peer_message {
  replication::node_id from = 0;
  replication::cas_message msg;
};

struct cas_envelope {
  replication::node_id to = 0;
  std::string address;  // the member's address when known (empty: the transport's last known)
  replication::cas_message msg;
};

struct cas_outbox_msg {
  std::vector<cas_envelope> messages;
};

// Batch ids are numbered per lane: 0 = the replica (CRDT keys), 1 = the compare-and-set lane.
// The storage actor commits batches of both lanes together and reports each lane separately.
// `generation`: the incarnation of the lane's state machine that made the batches. Once a batch
// of a lane fails, the storage actor commits no other batch of that generation or an older one:
// they were built on top of the failed one (the lane rebuilds its state machine from the store
// and moves to the next generation).
struct storage_batches {
  std::vector<replication::pending_batch> batches;
  uint8_t lane = 0;
  uint64_t generation = 0;
};

struct storage_result {
  uint8_t lane = 0;
  uint64_t last_committed = 0;  // every batch id <= this that was sent is durable
  std::optional<error> failure;  // set: the batch after last_committed failed with this error
  uint64_t failed_batch = 0;
};

}  // namespace rumor::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rumor::actors::call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rumor::actors::client_burst)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rumor::actors::peer_message)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rumor::actors::outbox_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rumor::actors::cas_peer_message)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rumor::actors::cas_outbox_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rumor::actors::storage_batches)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rumor::actors::storage_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rumor::http::node_metrics)
