#pragma once
// rumor::persistence::options — how a store is opened.

#include <cstdint>
#include <string>

namespace rumor::persistence {

// When a commit counts as done.
enum class durability : uint8_t {
  // Default. commit() returns only after the transaction is on stable storage (fsync). Nothing
  // acknowledged is lost, not even on power loss.
  durable,
  // commit() does not fsync (LMDB MDB_NOSYNC); sync() flushes. A process crash (kill -9) loses
  // nothing: committed pages are in the OS page cache. A power loss or kernel crash loses the
  // commits since the last sync() — whole commits, never part of one — PROVIDED the filesystem
  // preserves write order: that is LMDB's documented condition for MDB_NOSYNC, and without it
  // such a crash can damage the B-tree (record checksums catch damaged records, not damaged
  // tree pages). Use durable unless losing the last moments on power loss is acceptable.
  relaxed,
};

struct options {
  // The data directory. open() creates it if it is missing and its parent exists (never its
  // parents). It holds data.mdb, lock.mdb (LMDB) and LOCK (one process at a time).
  std::string dir;
  durability mode = durability::durable;
  // The LMDB map starts at this size (rounded up to whole pages) and doubles when full, up to
  // max_map_bytes; a commit that does not fit even then fails with errc::map_full. The map is
  // virtual address space; the file grows only as pages are written. An existing store whose
  // map is already larger keeps its size. max_map_bytes == initial_map_bytes disables growth.
  uint64_t initial_map_bytes = uint64_t{64} << 20;  // 64 MiB
  uint64_t max_map_bytes = uint64_t{256} << 30;     // 256 GiB
  // Open for reading only: the directory and the store must already exist; commit() fails
  // with errc::invalid_argument. Still takes the directory's LOCK (exclusive), because LMDB
  // must not open the same environment twice in one process.
  bool read_only = false;

  // Write-behind (lmdb_store; FORMAT.md "Write-behind"). A commit is done once its group is
  // appended to the write-ahead log (wal.mdb; fsynced in durable mode); the B-trees of data.mdb
  // are updated from in-memory layers by a background thread in large key-sorted transactions.
  // Reads see every commit at once. Memory for the layers is bounded by write_behind_bytes: a
  // commit that would exceed it waits for the materializer (back-pressure), or fails with the
  // materializer's error (map_full, io_error) while materialization is failing.
  uint64_t write_behind_bytes = uint64_t{256} << 20;  // 256 MiB
  // A materialization starts when the active layer holds this many bytes, ...
  uint64_t materialize_bytes = uint64_t{32} << 20;  // 32 MiB
  // ... or when it has held anything for this long (so an idle store drains its layers).
  uint64_t materialize_interval_ms = 1000;
  // When the store falls idle (every log record materialized) and the log file has grown past
  // this many bytes (a burst's backlog: LMDB files never shrink), the log is recreated empty.
  uint64_t log_shrink_bytes = uint64_t{8} << 20;  // 8 MiB
};

}  // namespace rumor::persistence
