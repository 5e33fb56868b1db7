#pragma once
// rumor::persistence::store — the narrow storage seam of a node. One store holds
//   values     key -> encoded CRDT state (the crdt codec's bytes, type tag included)
//   delta log  (origin node id, sequence) -> encoded delta, ordered by origin then sequence
//   meta       name -> bytes (version vector, HLC, membership, ... ; owned by the caller)
// plus the node's identity. Implementations: lmdb_store (on disk), memory_store (std::map, for
// simulations), faulty_store (wraps another store and injects faults, for tests).
//
// Writes: commit() applies a group of write_batches in one transaction: every operation of every
// batch, or none of them. In durability::durable mode a successful commit is on stable storage
// when commit() returns (one fsync per group, however many batches it holds: group commit). So
// acknowledge an update to anyone only after the commit holding it has returned ok.
//
// Errors are values. Every fallible call returns result<T>/status with an errc and a message
// naming the problem. A store that returned an error keeps working (a failed commit changed
// nothing, see commit()).
//
// Thread safety: reads (get_*, scan_*, quarantined, stats, node_id) may run concurrently from any
// threads, also concurrently with a commit; a read sees the state of one committed point in time
// and never blocks the writer (LMDB MVCC). commit() and sync() may be called from any thread but
// commits are meant to come from one writer (e.g. the storage actor); concurrent commits are
// serialized. Destroying a store requires that no call on it is running.
//
// Visitors given to scan_* run while the read snapshot is open: the views they receive are valid
// only during that call, and a visitor must not call into the same store.

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "persistence/key_range.hpp"
#include "persistence/options.hpp"
#include "persistence/write_batch.hpp"

namespace rumor::persistence {

enum class record_kind : uint8_t { value = 0, delta = 1, meta = 2 };

// A record that failed its checksum or decoding. It stays on disk untouched (for inspection) and
// is reported here until a commit overwrites or erases it (for deltas: re-appends or truncates
// it); reads of it return errc::corrupt, scans skip it.
struct quarantine_entry {
  record_kind kind = record_kind::value;
  std::string key;      // value key or meta name; empty for deltas
  uint64_t origin = 0;  // deltas only
  uint64_t seq = 0;     // deltas only
  std::string reason;   // e.g. "record checksum mismatch"
  friend bool operator==(const quarantine_entry&, const quarantine_entry&) = default;
};

struct store_stats {
  uint64_t values = 0;         // value records
  uint64_t deltas = 0;         // delta-log records
  uint64_t meta_records = 0;   // caller meta records (reserved names excluded)
  uint64_t map_bytes = 0;      // current LMDB map size (0 for memory_store)
  uint64_t max_map_bytes = 0;  // the growth limit (options.max_map_bytes)
  uint64_t used_bytes = 0;     // bytes of the map in use (lmdb: pages up to the last used page)
  // Write-behind (lmdb_store; 0 elsewhere): committed but not yet materialized into the B-trees.
  uint64_t write_behind_bytes = 0;    // in-memory layers (estimate; bounded by options)
  uint64_t write_behind_records = 0;  // records they hold
  uint64_t log_lsn = 0;               // last log record appended (one per commit group)
  uint64_t checkpoint_lsn = 0;        // last log record materialized (log_lsn - it = backlog)
  uint64_t log_bytes = 0;             // bytes of wal.mdb in use
  uint64_t materializations = 0;      // since open
  uint64_t last_materialize_ms = 0;   // duration of the last one
  std::string write_behind_error;     // the materializer's last failure, until one succeeds
};

// Return true to continue, false to stop the scan.
using record_visitor = std::function<bool(std::string_view key, std::string_view bytes)>;
using delta_visitor = std::function<bool(uint64_t seq, std::string_view delta)>;

class store {
 public:
  virtual ~store() = default;
  store() = default;
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  // Applies every batch of `group`, in order, in one atomic transaction.
  // Returns ok iff all of it is committed (and, in durable mode, synced).
  // Errors (the store is then unchanged, except where noted):
  //   invalid_argument/too_large  a batch breaks validate() (write_batch.hpp); or the store is
  //                               read-only
  //   map_full   the group does not fit even at options.max_map_bytes (lmdb_store: space freed
  //              by commit N becomes reusable from commit N + 2 on, as LMDB keeps the previous
  //              snapshot intact)
  //   too_large  the group is too big for one LMDB transaction (split it)
  //   io_error   the OS failed. NOTE: if the failure came from the final fsync the group may
  //              still be visible and durable — the outcome is unknown, but never partial. Treat
  //              such an update as not acknowledged and let replication re-deliver it.
  // An empty group is a no-op that returns ok.
  virtual status commit(std::span<const write_batch> group) = 0;
  status commit(const write_batch& batch) {
    return commit(std::span<const write_batch>{&batch, 1});
  }

  // Returns the encoded CRDT stored under `key`, or nullopt if there is none.
  // Errors: invalid_argument (empty key), too_large (key longer than max_key_bytes),
  // corrupt (the record failed verification; it is quarantined), io_error.
  virtual result<std::optional<std::string>> get_value(std::string_view key) const = 0;

  // get_value of each of `keys`, answered in order, each as get_value answers it (a corrupt or
  // unreadable record fails its own answer only). For a few related keys (a user key's types):
  // lmdb_store reads them at one moment, under one lock and one read transaction, by point
  // look-ups (no ordering of the write-behind layers, as a scan needs).
  virtual std::vector<result<std::optional<std::string>>> get_values(std::span<const std::string> keys) const {
    std::vector<result<std::optional<std::string>>> out;
    out.reserve(keys.size());
    for (const auto& k : keys) out.push_back(get_value(k));
    return out;
  }

  // Calls visit(key, encoded) for every value whose key lies in `range`, in key order, until
  // visit returns false. Corrupt records are skipped and quarantined (see quarantined()).
  virtual status scan_values(const key_range& range, const record_visitor& visit) const = 0;

  // Calls visit(seq, delta) for the deltas of `origin` with seq >= from_seq, in sequence order,
  // until visit returns false. Corrupt records are skipped and quarantined.
  virtual status scan_deltas(uint64_t origin, uint64_t from_seq,
                             const delta_visitor& visit) const = 0;

  // Returns the meta record `name`, or nullopt. Errors as get_value; reserved names
  // (record_format.hpp) are invalid_argument.
  virtual result<std::optional<std::string>> get_meta(std::string_view name) const = 0;

  // Calls visit(name, bytes) for the caller's meta records in `range` (reserved names excluded).
  virtual status scan_meta(const key_range& range, const record_visitor& visit) const = 0;

  // The node's identity: random, never 0, created when the store was first created and the
  // same after every reopen.
  virtual uint64_t node_id() const = 0;

  // The records found corrupt so far and not yet overwritten, in (kind, key) order.
  virtual std::vector<quarantine_entry> quarantined() const = 0;

  // Makes every commit so far durable (in durable mode each commit already is; then it is cheap).
  virtual status sync() = 0;

  virtual result<store_stats> stats() const = 0;
  // stats() without the record counts (values, deltas and meta_records are 0): what a frequent
  // status asks for. Counting is exact and incremental, but costs a look-up per record written
  // since the last count (lmdb_store); the rest is a few reads of state kept anyway.
  virtual result<store_stats> stats_uncounted() const { return stats(); }
  // stats().values alone: what a replica counts its keys from when it loads. lmdb_store counts
  // only the value records written since the last count for it (after a crash, the replayed
  // log's), not the delta and meta records too.
  virtual result<uint64_t> value_count() const {
    auto s = stats();
    if (!s) return s.err();
    return s->values;
  }
};

}  // namespace rumor::persistence
