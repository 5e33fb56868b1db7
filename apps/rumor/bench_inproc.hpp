#pragma once
// bench_inproc: one replication::replica over a persistence::memory_store in this process, with
// batches committed at once (no fsync, no network) — the CRDT + replication state machine alone,
// as tests/replication/sim.hpp drives it. For the `local` (in memory) and `wire` scenarios.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "client/client_messages.hpp"
#include "persistence/memory_store.hpp"
#include "replication/messages.hpp"
#include "replication/replica.hpp"

namespace rumor::cli::bench {

class inproc_replica {
 public:
  inproc_replica();

  // Submits `u` (as the node's replica actor would: plan_update, then replica::update) without
  // draining. Returns false if planning failed.
  bool submit(const client::update& u, uint64_t now_ms);
  // Commits every batch the replica asked for, reports it committed, and collects replies.
  // Returns the number of successful replies; delta log records appended are kept in
  // last_deltas() (cleared on each drain) when keep_deltas is set.
  uint64_t drain();

  bool keep_deltas = false;
  const std::vector<replication::delta_entry>& last_deltas() const { return deltas_; }
  uint64_t failed_replies() const { return failed_; }
  const std::string& first_error() const { return first_error_; }

 private:
  std::unique_ptr<persistence::memory_store> store_;
  std::unique_ptr<replication::replica> rep_;
  uint64_t next_request_ = 1;
  uint64_t failed_ = 0;
  std::string first_error_;
  std::vector<replication::delta_entry> deltas_;
};

}  // namespace rumor::cli::bench
