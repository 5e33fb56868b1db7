#pragma once
// rumor::persistence::wal — the write-ahead log of lmdb_store: an LMDB environment of its own
// (<dir>/wal.mdb, MDB_NOSUBDIR) holding one framed record per commit group under its log sequence
// number (u64 big-endian key, appended with MDB_APPEND). Its own environment so that appends
// (the acknowledgement path) never wait for the materializer's large transactions in data.mdb:
// LMDB has one writer per environment. Layout: persistence/FORMAT.md, "Write-ahead log".
//
// Thread safety: append/erase_through/sync/recreate_if_larger from one writer thread at a time;
// scan, last_lsn and usage from any thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "persistence/options.hpp"

namespace rumor::persistence {

class wal {
 public:
  // Opens (creating unless read_only) <dir>/wal.mdb. The caller holds the directory lock.
  // Errors: io_error, corrupt (not an LMDB file), not_found (read_only and no log: callers treat
  // it as an empty log).
  static result<std::unique_ptr<wal>> open(const options& opts);
  ~wal();
  wal(const wal&) = delete;
  wal& operator=(const wal&) = delete;

  // In one transaction: erases every record with lsn <= erase_through, then appends `payload`
  // framed under `lsn`. Durable (fsynced) when it returns ok in durability::durable mode.
  // REQUIRES: lsn > every lsn appended before. Errors (nothing changed): map_full (the log's map
  // cannot grow to options.max_map_bytes), io_error.
  status append(uint64_t lsn, std::string_view payload, uint64_t erase_through);
  // Erases every record with lsn <= erase_through.
  status erase_through(uint64_t lsn);
  // Calls visit(lsn, payload) for every record with lsn > after, in order, until it returns
  // false. A record that fails its checksum stops the scan with errc::corrupt naming it.
  status scan(uint64_t after, const std::function<bool(uint64_t, std::string_view)>& visit) const;
  // The highest lsn in the log (0 when empty).
  result<uint64_t> last_lsn() const;
  // Records in the log and bytes of its map in use.
  result<std::pair<uint64_t, uint64_t>> usage() const;
  status sync();
  // Replaces the log file by a new, empty one when it is larger than `bytes` and holds no record
  // past `through` (every record it holds is in the B-trees: nothing is lost, even by a crash in
  // the middle, as a missing log opens as an empty one). The directory is fsynced after the new
  // file is created, so that records appended to it later cannot lose their file to a power
  // failure. Returns whether it did. REQUIRES: the caller is the log's writer (no append or erase
  // at the same time); readers wait meanwhile. An error leaves the log unusable (every later
  // call fails with it) until the store is reopened.
  result<bool> recreate_if_larger(uint64_t bytes, uint64_t through);

 private:
  struct impl;
  explicit wal(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace rumor::persistence
