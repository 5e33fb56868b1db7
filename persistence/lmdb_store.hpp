#pragma once
// rumor::persistence::lmdb_store — the on-disk store: one LMDB environment per data directory,
// with sub-databases "values", "deltas", "meta" and "quarantine" (layout: persistence/FORMAT.md),
// plus a write-ahead log environment (wal.mdb). Commits are acknowledged once appended to the
// log; a background thread of the store materializes them into the B-trees (FORMAT.md,
// "Write-behind"). This header exposes no LMDB type; only persistence/*.cpp include lmdb.h.
//
// Semantics are those of store (store.hpp). Specifics:
// - open() claims the directory with an flock on <dir>/LOCK before LMDB opens it: one open store
//   per directory across all processes (a second open, in this process or another, fails with
//   errc::busy).
// - Reads use their own short LMDB read transactions (MDB_NOTLS, so callers may hop threads).
//   Point reads and scans' snapshots hold the layers' lock shared for a moment; a commit holds
//   it exclusively while it applies its group to the active layer (memory only), so they wait on
//   each other only for that long. A scan's visitor runs without the lock: it never blocks a
//   commit. Map growth (the materializer's transaction hit MDB_MAP_FULL) waits for running reads
//   to finish, grows the map (doubling, up to options.max_map_bytes) and retries.
// - MDB_NORDAHEAD: no read-ahead, since stores are meant to exceed RAM and reads are random.
// - durability::relaxed sets MDB_NOSYNC (see options.hpp for what that can lose).

#include <memory>

#include "persistence/options.hpp"
#include "persistence/store.hpp"

namespace rumor::persistence {

class lmdb_store final : public store {
 public:
  // Opens (creating if needed) the store in opts.dir. Errors:
  //   invalid_argument  empty dir, dir is not a directory, initial_map_bytes == 0 or
  //                     max_map_bytes < initial_map_bytes
  //   io_error          dir cannot be created (parent missing) or is not writable, other OS errors
  //   not_found         read_only and there is no store in dir
  //   busy              another open store (any process) holds dir
  //   unsupported_version  the store has a format_version this build does not read
  //   corrupt           data.mdb is not an LMDB file, or the store's own records are damaged
  static result<std::unique_ptr<lmdb_store>> open(const options& opts);

  ~lmdb_store() override;  // closes LMDB, then releases the directory lock

  using store::commit;
  status commit(std::span<const write_batch> group) override;
  result<std::optional<std::string>> get_value(std::string_view key) const override;
  std::vector<result<std::optional<std::string>>> get_values(std::span<const std::string> keys) const override;
  status scan_values(const key_range& range, const record_visitor& visit) const override;
  status scan_deltas(uint64_t origin, uint64_t from_seq, const delta_visitor& visit) const override;
  result<std::optional<std::string>> get_meta(std::string_view name) const override;
  status scan_meta(const key_range& range, const record_visitor& visit) const override;
  uint64_t node_id() const override;
  std::vector<quarantine_entry> quarantined() const override;
  status sync() override;
  result<store_stats> stats() const override;
  result<store_stats> stats_uncounted() const override;
  result<uint64_t> value_count() const override;

  const options& opts() const;

  // Whether reads of absent value keys skip the B-trees yet (presence_filter.hpp): the filter is
  // built from the value table in the background after open; until then every such read goes
  // to the B-trees. For tests and diagnostics.
  bool presence_filter_built() const;

  // Waits until every group committed before the call is materialized into the B-trees (the
  // write-ahead log is then empty up to there). Errors: the materializer's failure (map_full,
  // io_error), which it retries in the background.
  status flush();

  // TEST ONLY — never call in production. Stores `bytes` verbatim (no framing, no checksum) as
  // record `key` of `kind` in one committed transaction, bypassing all validation: for deltas
  // `key` is the 16-byte delta_key(); for meta any name, reserved ones included. Lets tests
  // plant corrupt records and foreign format versions.
  status debug_put_raw(record_kind kind, std::string_view key, std::string_view bytes);

 private:
  struct impl;
  explicit lmdb_store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace rumor::persistence
