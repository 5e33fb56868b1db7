#pragma once
// storage actor: the node's only writer of its store, on a thread of its own (spawned detached,
// so an fsync never stalls the scheduler's workers or the network).
//
// Receives storage_batches from the replica actor and commits them with group commit: batches
// that arrive while a commit is running are committed together in the next one (one
// transaction, one fsync). After each commit it sends the replica actor storage_result: every
// batch up to last_committed is durable, or the group starting at failed_batch failed (nothing of
// it was applied: store::commit is all or nothing). After a failure, batches of the failed lane
// of that generation or older are dropped, never committed (storage_batches::generation): they
// were built on the state the failed batch would have made.
//
// probe_atom (a request): commits a small meta record (`probe/space`) after what is queued, and
// answers ok or the error: the replica actor asks it while writes are refused for a full disk.
//
// stop_atom: commits what is queued, syncs (relaxed mode), replies ok to the sender and quits.

#include <memory>

#include <caf/all.hpp>

#include "persistence/store.hpp"

namespace rumor::actors {

// REQUIRES: `store` stays valid until the actor has terminated.
caf::actor spawn_storage(caf::actor_system& sys, std::shared_ptr<persistence::store> store, caf::actor replica);

}  // namespace rumor::actors
