#pragma once
// Internal to persistence/: the state of one open lmdb_store (lmdb_store.cpp: open, reads,
// quarantine; write_behind.cpp: commit, the materializer, log replay). Include only from
// persistence/*.cpp.

#include <lmdb.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <span>
#include <thread>

#include "persistence/data_dir.hpp"
#include "persistence/lmdb_store.hpp"
#include "persistence/lmdb_util.hpp"
#include "persistence/node_id.hpp"
#include "persistence/overlay.hpp"
#include "persistence/presence_filter.hpp"
#include "persistence/record_format.hpp"
#include "persistence/wal.hpp"

namespace rumor::persistence {

namespace detail {

constexpr const char* values_db = "values";
constexpr const char* deltas_db = "deltas";
constexpr const char* meta_db = "meta";
constexpr const char* quarantine_db = "quarantine";

// Key of a quarantine record: the record kind byte, then the record's key (value key, meta name,
// or 16-byte delta key). Also the in-memory map key, so quarantined() comes out in that order.
inline std::string quarantine_key(record_kind kind, std::string_view key) {
  std::string k(1, static_cast<char>(kind));
  k += key;
  return k;
}

// Rebuilds an entry from a quarantine record; nullopt if the record is malformed.
inline std::optional<quarantine_entry> parse_quarantine(std::string_view qkey, std::string_view reason) {
  if (qkey.empty()) return std::nullopt;
  quarantine_entry e;
  e.reason = std::string{reason};
  const auto kind = static_cast<uint8_t>(qkey[0]);
  const std::string_view rest = qkey.substr(1);
  switch (kind) {
    case static_cast<uint8_t>(record_kind::value):
      e.kind = record_kind::value;
      break;
    case static_cast<uint8_t>(record_kind::meta):
      e.kind = record_kind::meta;
      break;
    case static_cast<uint8_t>(record_kind::delta):
      if (rest.size() != delta_key_bytes) return std::nullopt;
      e.kind = record_kind::delta;
      e.origin = delta_key_origin(rest);
      e.seq = delta_key_seq(rest);
      return e;
    default:
      return std::nullopt;
  }
  e.key = std::string{rest};
  return e;
}

inline std::string_view as_view(const std::array<char, delta_key_bytes>& k) {
  return {k.data(), k.size()};
}

inline uint64_t round_up(uint64_t v, uint64_t unit) { return (v + unit - 1) / unit * unit; }

// LMDB's compile-time key limit (mdb_env_get_maxkeysize() of the Debian build).
constexpr std::size_t lmdb_max_key = 511;

}  // namespace detail


using namespace detail;

struct lmdb_store::impl {
  options opts;
  // Declared before env so that it is released after LMDB has closed (see ~impl).
  std::optional<data_dir_lock> lock;
  MDB_env* env = nullptr;
  MDB_dbi values{}, deltas{}, meta{}, quarantine{};
  uint64_t node_id = 0;
  uint64_t page_bytes = 4096;
  uint64_t max_map = 0;  // opts.max_map_bytes rounded down to pages (never below the open size)

  // Serializes commits, debug writes and map growth: the one writer.
  std::mutex write_mu;
  std::atomic<uint64_t> map_bytes{0};
  // Shared by every read transaction; exclusive only while mdb_env_set_mapsize runs, which LMDB
  // allows only when no transaction of this process is active.
  mutable std::shared_mutex remap_mu;
  // Read transactions kept for reuse (reset, renewed by the next read): a point read then costs
  // no allocation and no search of LMDB's reader table. At most read_pool_max are kept; ~impl
  // aborts them before the environment closes.
  mutable std::mutex read_pool_mu;
  mutable std::vector<MDB_txn*> read_pool;
  static constexpr std::size_t read_pool_max = 8;

  // Quarantine: the truth in memory, mirrored into the "quarantine" sub-database by the next
  // commit (reads cannot write).
  mutable std::mutex q_mu;
  mutable std::map<std::string, quarantine_entry> q;  // by quarantine_key
  std::set<std::string> q_persisted;                  // keys present in the sub-database
  mutable std::atomic<std::size_t> q_size{0};         // == q.size(), read without q_mu

  // ---- write-behind (write_behind.cpp; FORMAT.md "Write-behind") ---------------------------
  // Record counts (values, deltas, meta).
  struct counts {
    int64_t values = 0, deltas = 0, meta = 0;
    void add(const overlay::effect& e);
  };
  std::unique_ptr<wal> log;  // null for read-only opens of a directory without one
  // One in-memory layer: the writes of a run of log records.
  struct layer {
    layer() = default;
    layer(const overlay& previous, std::size_t limit) : o(previous, limit) {}
    overlay o;
    uint64_t lsn = 0;  // the last log record applied to it
    // Set (under ov_mu) when the materializer starts on the layer: from then on the B-trees may
    // hold part of it.
    mutable std::atomic<bool> in_flight{false};
  };
  // Guards active, sealed, disk_counts, last_lsn and checkpoint_lsn. Point reads hold it shared
  // for the whole read; scans only while they take their snapshot (scan_snapshot), then read
  // without it, so a visitor never blocks a commit. Commits and the materializer hold it
  // exclusively (never during a data.mdb write transaction).
  mutable std::shared_mutex ov_mu;
  mutable std::shared_ptr<layer> active = std::make_shared<layer>();  // commits apply here
  // Sealed layers, oldest first: immutable, shared with running scans. The materializer writes
  // them out and drops them; a scan over a large range seals the active layer to pin it.
  mutable std::vector<std::shared_ptr<const layer>> sealed;
  // The B-trees' record counts as of the last materialization (they change only with one).
  counts disk_counts;
  // Held while a layer's counting state changes (overlay::count): by current_counts, and by the
  // materializer while it counts the layers it is about to write.
  mutable std::mutex count_mu;
  // The materializer finishes counting its layers before writing them only when at most this
  // many records are left to count (see materialize_once).
  static constexpr std::size_t precount_limit = 8192;
  uint64_t last_lsn = 0;        // highest lsn appended to the log
  uint64_t checkpoint_lsn = 0;  // the B-trees hold every record up to it (meta log_applied)
  std::atomic<uint64_t> layer_bytes{0};   // bytes of all layers
  std::atomic<uint64_t> active_bytes{0};  // bytes of the active layer
  std::atomic<bool> trim_pending{false};   // a round kept freed pages for reuse (materialize_once)
  uint64_t log_erased = 0;  // the log holds no record <= it (commit thread only)
  std::string log_buf;      // the commit thread's encoding buffer

  std::mutex commit_mu;  // one committer at a time
  // Materializer coordination: wb_mu guards the fields below; wake signals the materializer,
  // room signals writers waiting for the layers to shrink and flush() callers.
  std::mutex wb_mu;
  std::condition_variable wake, room;
  bool stopping = false;
  bool flush_wanted = false;
  std::optional<error> wb_error;  // the last materialization's failure, until one succeeds
  uint64_t materializations = 0;
  uint64_t last_materialize_ms = 0;   // duration of the last successful one
  std::thread materializer;
  // Which value keys the B-trees may hold (presence_filter.hpp): every put of a value through
  // apply_op (and debug_put_raw) adds its key; build_presence() adds what the B-trees held at
  // open, in a thread of its own started before the log replay (presence_builder, joined by
  // stop_materializer), and marks it built.
  presence_filter present;
  std::thread presence_builder;
  void start_presence_build();
  // Adds every value key of the B-trees to `present` (a few keys per microsecond, in read
  // transactions of 64Ki keys each), then marks it built. Stops early, leaving the filter
  // unbuilt (every read goes to the B-trees), when the store closes or a read fails.
  void build_presence();

  // Applies `op` to the active layer. REQUIRES: ov_mu held exclusively.
  void apply_to_active(const write_op& op);
  // Reads the log past checkpoint_lsn into the active layer (open). Errors: the log's.
  status replay();
  // Idle (every log record materialized): recreates a log file grown past options.log_shrink_bytes
  // empty (wal::recreate_if_larger). Skipped while a commit runs.
  void shrink_log();
  void start_materializer();
  // Stops the materializer and the presence filter's builder (if running) and joins them.
  void stop_materializer();
  void run_materializer();
  // One round: seals the active layer, writes every sealed layer (merged, key-sorted) into the
  // B-trees with the checkpoint in one transaction, then drops them. After a failure the layers
  // stay and the next round takes them again with whatever was sealed since.
  status materialize_once();
  // What materializing `todo` (sealed layers, oldest first) writes: truncations, delta appends,
  // values and meta, each in key order, the newest layer deciding each record. The operations
  // view the layers' bytes: valid while `todo` lives.
  static std::vector<write_op> plan_materialization(const std::vector<std::shared_ptr<const layer>>& todo);
  // Writes `plan` into data.mdb with meta log_applied = checkpoint (in the last of its
  // transactions), growing the map as needed.
  status commit_main(std::span<const write_op> plan, uint64_t checkpoint);
  // One data.mdb transaction of commit_main (with the checkpoint when given).
  status commit_chunk(std::span<const write_op> ops, std::optional<uint64_t> checkpoint);
  // Operations per materialization transaction (see commit_main).
  static constexpr std::size_t materialize_chunk = 4096;
  // Waits until every group committed before the call is materialized. Errors: the
  // materializer's failure.
  status flush();
  // The B-trees' record counts (reserved meta excluded). REQUIRES: txn is a transaction of env.
  counts count_disk(MDB_txn* txn) const;
  // Layers to look through, newest first.
  using layer_stack = std::span<const layer* const>;
  // Per origin, the highest delta seq the B-trees hold in one read transaction (0: none),
  // filled as origins are asked about (see visible_in).
  using last_seqs = std::map<uint64_t, uint64_t>;
  // Returns true iff the record is visible through `below` and then the B-trees. A value key the
  // presence filter rules out, and a delta above its origin's highest seq in the B-trees (with
  // `last`: remembered per origin for txn), are answered without a B-tree lookup.
  bool visible_in(MDB_txn* txn, layer_stack below, record_kind kind, std::string_view key, uint64_t origin = 0,
                  uint64_t seq = 0, last_seqs* last = nullptr) const;
  // The highest seq of `origin`'s deltas in the B-trees (0: none). REQUIRES: txn of env.
  uint64_t last_delta_seq(MDB_txn* txn, uint64_t origin) const;
  // Deltas of `origin` with seq <= up_to visible through `below` and then the B-trees.
  int64_t visible_deltas_in(MDB_txn* txn, layer_stack below, uint64_t origin, uint64_t up_to) const;
  struct below_view;
  // The record counts of the visible state: disk_counts plus every layer's effect (FORMAT.md,
  // "Record counts"). Costs a B-tree lookup per record not counted before. Errors: LMDB's.
  // values_only: only `values` is counted (the others are left 0), and only value records are
  // asked about.
  result<counts> current_counts(bool values_only = false) const;
  // Beyond this many records to ask about, current_counts seals the active layer rather than
  // count it with commits held off.
  static constexpr std::size_t count_under_lock = 4096;

  ~impl() {
    stop_materializer();
    for (MDB_txn* t : read_pool) mdb_txn_abort(t);
    read_pool.clear();
    if (env != nullptr) mdb_env_close(env);
  }

  const std::string& dir() const { return opts.dir; }

  error lmdb_error(int rc, std::string_view what) const { return lmdb::to_error(rc, what, dir()); }

  MDB_dbi dbi_of(record_kind kind) const {
    switch (kind) {
      case record_kind::value:
        return values;
      case record_kind::delta:
        return deltas;
      case record_kind::meta:
        return meta;
    }
    return values;
  }

  // ---- quarantine -------------------------------------------------------------------------

  void note_corrupt(quarantine_entry e, std::string_view raw_key) const {
    const std::string qk = quarantine_key(e.kind, raw_key);
    std::lock_guard lk(q_mu);
    q[qk] = std::move(e);
    q_size.store(q.size());
  }

  // A healthy read of a quarantined key means a commit repaired it after a racing read had
  // quarantined it: drop the stale entry.
  void note_healthy(record_kind kind, std::string_view raw_key) const {
    if (q_size.load() == 0) return;
    std::lock_guard lk(q_mu);
    q.erase(quarantine_key(kind, raw_key));
    q_size.store(q.size());
  }

  // ---- reads ------------------------------------------------------------------------------

  // A read transaction of the current state: a pooled one renewed, or a new one.
  // REQUIRES: remap_mu held (shared).
  int begin_read(MDB_txn** out) const {
    MDB_txn* t = nullptr;
    {
      std::lock_guard lk(read_pool_mu);
      if (!read_pool.empty()) {
        t = read_pool.back();
        read_pool.pop_back();
      }
    }
    if (t != nullptr) {
      if (mdb_txn_renew(t) == 0) {
        *out = t;
        return 0;
      }
      mdb_txn_abort(t);
    }
    return mdb_txn_begin(env, nullptr, MDB_RDONLY, out);
  }
  // Ends a read transaction of begin_read: reset and kept for reuse, or aborted.
  void end_read(MDB_txn* t) const {
    mdb_txn_reset(t);
    {
      std::lock_guard lk(read_pool_mu);
      if (read_pool.size() < read_pool_max) {
        read_pool.push_back(t);
        return;
      }
    }
    mdb_txn_abort(t);
  }
  // Runs f(txn) inside a read transaction of the current state.
  template <class F>
  auto read(F&& f) const -> decltype(f(static_cast<MDB_txn*>(nullptr))) {
    std::shared_lock lk(remap_mu);
    MDB_txn* t = nullptr;
    const int rc = begin_read(&t);
    if (rc != 0) return lmdb_error(rc, "begin read transaction");
    struct ender {
      const impl& d;
      MDB_txn* t;
      ~ender() { d.end_read(t); }
    } end{*this, t};
    return f(t);
  }

  // What one layer says about a record.
  static overlay::answer ask(const overlay& o, record_kind kind, std::string_view key, uint64_t origin, uint64_t seq) {
    return kind == record_kind::delta ? o.delta(origin, seq) : kind == record_kind::meta ? o.meta(key) : o.value(key);
  }
  // What the layers (active, then sealed newest first) say about a record. REQUIRES: ov_mu held.
  overlay::answer layered(record_kind kind, std::string_view key, uint64_t origin = 0, uint64_t seq = 0) const {
    if (auto a = ask(active->o, kind, key, origin, seq); a.s != overlay::state::unknown) return a;
    for (auto it = sealed.rbegin(); it != sealed.rend(); ++it)
      if (auto a = ask((*it)->o, kind, key, origin, seq); a.s != overlay::state::unknown) return a;
    return {};
  }
  void update_layer_bytes() {
    uint64_t b = active->o.bytes();
    for (const auto& l : sealed) b += l->o.bytes();
    active_bytes.store(active->o.bytes());
    layer_bytes.store(b);
  }
  // A scan's view of the layers: the active layer's records in the scanned range, copied, or
  // (when there are many) the active layer sealed; then the sealed layers, newest first.
  // REQUIRES: ov_mu held exclusively if `seal_if_large`, else shared.
  struct keyed_snapshot {
    std::vector<std::pair<std::string, std::optional<std::string>>> copied;  // sorted by key
    std::vector<std::shared_ptr<const layer>> layers;                         // newest first
  };
  // Returns false (and leaves `out` partial) if the active layer holds more than copy_limit
  // records in range and the caller must retry with ov_mu held exclusively to seal it.
  bool snapshot_keyed(record_kind kind, const key_range& range, bool may_seal, keyed_snapshot& out) const;
  struct delta_snapshot {
    std::vector<std::pair<uint64_t, std::string>> copied;  // the active layer's, by seq
    trunc_bound copied_truncated;                          // the active layer's bound
    std::vector<std::shared_ptr<const layer>> layers;      // newest first
    std::optional<uint64_t> page_end;  // set when the active layer holds more after it
  };
  // Copies at most copy_limit of the active layer's deltas of `origin` from from_seq on (see
  // scan_delta_range). REQUIRES: ov_mu held.
  void snapshot_deltas(uint64_t origin, uint64_t from_seq, delta_snapshot& out) const;
  // Seals the active layer (it becomes the newest sealed one). REQUIRES: ov_mu held exclusively.
  void seal_active() const;
  static constexpr std::size_t copy_limit = 256;
  status scan_keyed(record_kind kind, const key_range& range, const record_visitor& visit) const;
  status scan_delta_range(uint64_t origin, uint64_t from_seq, const delta_visitor& visit) const;
  // One page of scan_delta_range: sets next_page when the scan goes on in another.
  status scan_delta_page(uint64_t origin, uint64_t from_seq, const delta_visitor& visit,
                         std::optional<uint64_t>& next_page) const;

  // Reads a value or meta record from the B-trees. REQUIRES: txn is a read transaction of env.
  result<std::optional<std::string>> get_disk(MDB_txn* txn, record_kind kind, std::string_view key) const {
    MDB_val k = lmdb::to_val(key);
    MDB_val v{};
    const int rc = mdb_get(txn, dbi_of(kind), &k, &v);
    if (rc == MDB_NOTFOUND) return std::optional<std::string>{};
    if (rc != 0) return lmdb_error(rc, "read");
    return unframe_disk(kind, key, v);
  }
  // The payload of the record `v` stored under `key`, or corrupt (quarantined).
  result<std::optional<std::string>> unframe_disk(record_kind kind, std::string_view key, const MDB_val& v) const {
    auto payload = unframe_record(key, lmdb::to_view(v));
    if (!payload) {
      quarantine_entry e{kind, std::string{key}, 0, 0, payload.err().message};
      note_corrupt(e, key);
      return error{errc::corrupt,
                   std::string{kind == record_kind::meta ? "meta record '" : "value of key '"} +
                       std::string{key} + "' in '" + dir() + "' is corrupt (" +
                       payload.err().message + "); it is quarantined"};
    }
    note_healthy(kind, key);
    return std::optional<std::string>{std::string{*payload}};
  }

  result<std::optional<std::string>> get_record(record_kind kind, std::string_view key) const {
    std::shared_lock ol(ov_mu);
    if (auto a = layered(kind, key); a.s != overlay::state::unknown) {
      if (a.s == overlay::state::absent) return std::optional<std::string>{};
      return std::optional<std::string>{std::string{a.bytes}};
    }
    if (kind == record_kind::value && !present.may_hold(key)) return std::optional<std::string>{};
    return read([&](MDB_txn* txn) { return get_disk(txn, kind, key); });
  }

  status scan_range(record_kind kind, const key_range& range, const record_visitor& visit) const {
    return scan_keyed(kind, range, visit);
  }

  // ---- writes -----------------------------------------------------------------------------

  struct quarantine_snapshot {
    std::map<std::string, quarantine_entry> current;
    std::set<std::string> persisted;
  };

  quarantine_snapshot snapshot_quarantine() const {
    std::lock_guard lk(q_mu);
    return quarantine_snapshot{q, q_persisted};
  }

  // After a successful commit: the sub-database now holds snap.current minus healed.
  void finish_quarantine(const quarantine_snapshot& snap, const std::set<std::string>& healed) {
    std::lock_guard lk(q_mu);
    q_persisted.clear();
    for (const auto& [qk, e] : snap.current) {
      if (healed.count(qk) == 0) q_persisted.insert(qk);
    }
    for (const auto& qk : healed) q.erase(qk);
    q_size.store(q.size());
  }

  // Removes the quarantine record `qk` if the snapshot has it (the key was just rewritten).
  int heal(MDB_txn* txn, const quarantine_snapshot& snap, std::set<std::string>& healed,
           const std::string& qk) {
    if (snap.current.count(qk) == 0) return 0;
    healed.insert(qk);
    MDB_val k = lmdb::to_val(qk);
    const int rc = mdb_del(txn, quarantine, &k, nullptr);
    return rc == MDB_NOTFOUND ? 0 : rc;
  }

  static int put_framed(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::string_view data) {
    MDB_val k = lmdb::to_val(key);
    MDB_val v{record_header_bytes + data.size(), nullptr};
    const int rc = mdb_put(txn, dbi, &k, &v, MDB_RESERVE);
    if (rc != 0) return rc;
    frame_record_into(static_cast<char*>(v.mv_data), key, data);
    return 0;
  }

  // Cursors of one write transaction, one per sub-database, opened on first use. Puts in key
  // order through the same cursor mostly land on the leaf page of the put before, which LMDB's
  // cursor positioning checks first (no descent from the root, as mdb_put does for every key).
  // Closed before the transaction ends (the guards live inside write_txn's apply).
  struct put_cursors {
    lmdb::cursor_guard values, deltas, meta;
  };

  static int put_framed(MDB_txn* txn, MDB_dbi dbi, lmdb::cursor_guard& cur, std::string_view key,
                        std::string_view data) {
    if (cur.get() == nullptr) {
      if (const int rc = mdb_cursor_open(txn, dbi, cur.out()); rc != 0) return rc;
    }
    MDB_val k = lmdb::to_val(key);
    MDB_val v{record_header_bytes + data.size(), nullptr};
    const int rc = mdb_cursor_put(cur.get(), &k, &v, MDB_RESERVE);
    if (rc != 0) return rc;
    frame_record_into(static_cast<char*>(v.mv_data), key, data);
    return 0;
  }

  static int del(MDB_txn* txn, MDB_dbi dbi, std::string_view key) {
    MDB_val k = lmdb::to_val(key);
    const int rc = mdb_del(txn, dbi, &k, nullptr);
    return rc == MDB_NOTFOUND ? 0 : rc;
  }

  int truncate(MDB_txn* txn, uint64_t origin, uint64_t up_to, const quarantine_snapshot& snap,
               std::set<std::string>& healed) {
    if (!snap.current.empty()) {
      for (const auto& [qk, e] : snap.current) {
        if (e.kind == record_kind::delta && e.origin == origin && e.seq <= up_to) {
          if (const int rc = heal(txn, snap, healed, qk); rc != 0) return rc;
        }
      }
    }
    lmdb::cursor_guard cur;
    int rc = mdb_cursor_open(txn, deltas, cur.out());
    if (rc != 0) return rc;
    const auto start = delta_key(origin, 0);
    for (;;) {
      // Re-seek after every delete: simple and independent of cursor-after-delete subtleties.
      MDB_val k = lmdb::to_val(as_view(start));
      MDB_val v{};
      rc = mdb_cursor_get(cur.get(), &k, &v, MDB_SET_RANGE);
      if (rc == MDB_NOTFOUND) return 0;
      if (rc != 0) return rc;
      const std::string_view key = lmdb::to_view(k);
      if (key.size() != delta_key_bytes || delta_key_origin(key) != origin ||
          delta_key_seq(key) > up_to) {
        return 0;
      }
      rc = mdb_cursor_del(cur.get(), 0);
      if (rc != 0) return rc;
    }
  }

  // With `cursors`, puts go through them (see put_cursors); erasures never do.
  int apply_op(MDB_txn* txn, const write_op& op, const quarantine_snapshot& snap,
               std::set<std::string>& healed, put_cursors* cursors = nullptr) {
    const bool check_q = !snap.current.empty();
    auto put = [&](MDB_dbi dbi, lmdb::cursor_guard* cur, std::string_view key, std::string_view data) {
      return cursors != nullptr ? put_framed(txn, dbi, *cur, key, data) : put_framed(txn, dbi, key, data);
    };
    int rc = 0;
    switch (op.kind) {
      case op_kind::put_value:
      case op_kind::erase_value:
        if (op.kind == op_kind::put_value) present.add(op.key);  // before the commit (presence_filter.hpp)
        rc = op.kind == op_kind::put_value ? put(values, cursors ? &cursors->values : nullptr, op.key, op.data)
                                           : del(txn, values, op.key);
        if (rc == 0 && check_q)
          rc = heal(txn, snap, healed, quarantine_key(record_kind::value, op.key));
        return rc;
      case op_kind::append_delta: {
        const auto k = delta_key(op.origin, op.seq);
        rc = put(deltas, cursors ? &cursors->deltas : nullptr, as_view(k), op.data);
        if (rc == 0 && check_q)
          rc = heal(txn, snap, healed, quarantine_key(record_kind::delta, as_view(k)));
        return rc;
      }
      case op_kind::truncate_deltas:
        return truncate(txn, op.origin, op.seq, snap, healed);
      case op_kind::put_meta:
      case op_kind::erase_meta:
        rc = op.kind == op_kind::put_meta ? put(meta, cursors ? &cursors->meta : nullptr, op.key, op.data)
                                          : del(txn, meta, op.key);
        if (rc == 0 && check_q)
          rc = heal(txn, snap, healed, quarantine_key(record_kind::meta, op.key));
        return rc;
    }
    return EINVAL;
  }

  // One attempt: the whole group in one write transaction (write_txn). With `checkpoint`, also
  // records meta log_applied = *checkpoint in the same transaction.
  int apply_group(std::span<const write_batch> group, const quarantine_snapshot& snap,
                  std::set<std::string>& healed, std::optional<uint64_t> checkpoint = std::nullopt) {
    return write_txn(snap, checkpoint, [&](MDB_txn* txn) {
      for (const write_batch& batch : group)
        for (std::size_t i = 0; i < batch.size(); ++i)
          if (const int rc = apply_op(txn, batch.op(i), snap, healed); rc != 0) return rc;
      return 0;
    });
  }

  // apply_group for operations that are not in a write_batch (the materializer's plan, in key
  // order per sub-database: its puts go through put_cursors).
  int apply_ops(std::span<const write_op> ops, const quarantine_snapshot& snap, std::set<std::string>& healed,
                std::optional<uint64_t> checkpoint) {
    return write_txn(snap, checkpoint, [&](MDB_txn* txn) {
      put_cursors cursors;
      for (const write_op& op : ops)
        if (const int rc = apply_op(txn, op, snap, healed, &cursors); rc != 0) return rc;
      return 0;
    });
  }

  // One write transaction: the quarantine mirrored, apply(txn), then the checkpoint if given.
  // Returns 0 or the LMDB/OS code; on failure nothing was committed.
  template <class Apply>
  int write_txn(const quarantine_snapshot& snap, std::optional<uint64_t> checkpoint, Apply&& apply) {
    lmdb::txn_guard txn;
    int rc = mdb_txn_begin(env, nullptr, 0, txn.out());
    if (rc != 0) return rc;
    if ((rc = mirror_quarantine(txn.get(), snap)) != 0) return rc;
    if ((rc = apply(txn.get())) != 0) return rc;
    if (checkpoint && (rc = put_framed(txn.get(), meta, meta_log_applied, encode_u64_le(*checkpoint))) != 0) return rc;
    return txn.commit();
  }

  // Mirrors the in-memory quarantine into its sub-database (first in every write transaction;
  // rewrites after it may delete entries again).
  int mirror_quarantine(MDB_txn* txn, const quarantine_snapshot& snap) {
    int rc = 0;
    for (const auto& [qk, e] : snap.current) {
      if (snap.persisted.count(qk) != 0) continue;
      MDB_val k = lmdb::to_val(qk);
      MDB_val v = lmdb::to_val(e.reason);
      if ((rc = mdb_put(txn, quarantine, &k, &v, 0)) != 0) return rc;
    }
    for (const auto& qk : snap.persisted) {
      if (snap.current.count(qk) != 0) continue;
      if ((rc = del(txn, quarantine, qk)) != 0) return rc;
    }
    return 0;
  }

  // Grows the map towards max_map. REQUIRES: write_mu held, no write transaction active.
  status grow(uint64_t hint_bytes, std::size_t ops, std::size_t bytes) {
    const uint64_t cur = map_bytes.load();
    if (cur >= max_map) {
      return error{errc::map_full, "commit of " + std::to_string(ops) + " operations (" +
                                       std::to_string(bytes) +
                                       " bytes) does not fit: the map of '" + dir() +
                                       "' is at its maximum of " + std::to_string(max_map) +
                                       " bytes (options.max_map_bytes); the store is unchanged"};
    }
    uint64_t target = cur > max_map / 2 ? max_map : cur * 2;
    if (hint_bytes < max_map && target < cur + 2 * hint_bytes) target = cur + 2 * hint_bytes;
    if (target > max_map) target = max_map;
    std::unique_lock lk(remap_mu);  // waits for running reads
    const int rc = mdb_env_set_mapsize(env, target);
    if (rc != 0) return lmdb_error(rc, "grow map to " + std::to_string(target) + " bytes");
    MDB_envinfo info{};
    mdb_env_info(env, &info);
    map_bytes.store(info.me_mapsize);
    return {};
  }

  // ---- open -------------------------------------------------------------------------------

  status setup() {
    const bool ro = opts.read_only;
    const unsigned create = ro ? 0U : static_cast<unsigned>(MDB_CREATE);
    lmdb::txn_guard txn;
    int rc = mdb_txn_begin(env, nullptr, ro ? MDB_RDONLY : 0, txn.out());
    if (rc != 0) return lmdb_error(rc, "begin setup transaction");

    rc = mdb_dbi_open(txn.get(), meta_db, create, &meta);
    if (rc == MDB_NOTFOUND) return error{errc::not_found, "no rumor store in '" + dir() + "'"};
    if (rc != 0) return lmdb_error(rc, "open sub-database meta");

    bool fresh = false;
    MDB_val k = lmdb::to_val(meta_format_version);
    MDB_val v{};
    rc = mdb_get(txn.get(), meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
      MDB_dbi probe{};
      const int prc = mdb_dbi_open(txn.get(), values_db, 0, &probe);
      if (prc == 0 || ro) {
        return error{errc::corrupt, "'" + dir() +
                                        "' holds an LMDB environment without a format_version "
                                        "record; refusing to open it as a rumor store"};
      }
      if (prc != MDB_NOTFOUND) return lmdb_error(prc, "probe sub-database values");
      fresh = true;
    } else if (rc != 0) {
      return lmdb_error(rc, "read format_version");
    } else {
      if (v.mv_size != 4) {
        return error{errc::corrupt, "format_version record in '" + dir() + "' has " +
                                        std::to_string(v.mv_size) + " bytes, expected 4"};
      }
      const uint32_t version = decode_u32_le(lmdb::to_view(v));
      if (version == 1 && !ro) {
        // Version 1 is version 2 with an empty write-ahead log: migrating is recording 2.
        const std::string v2 = encode_u32_le(store_format_version);
        MDB_val vk = lmdb::to_val(meta_format_version);
        MDB_val vv = lmdb::to_val(v2);
        if ((rc = mdb_put(txn.get(), meta, &vk, &vv, 0)) != 0) return lmdb_error(rc, "migrate to format version 2");
      } else if (version != store_format_version && version != 1) {
        return error{errc::unsupported_version,
                     "data directory '" + dir() + "' has store format version " +
                         std::to_string(version) + "; this build of rumor reads version " +
                         std::to_string(store_format_version)};
      }
    }

    const std::pair<const char*, MDB_dbi*> dbs[] = {
        {values_db, &values}, {deltas_db, &deltas}, {quarantine_db, &quarantine}};
    for (const auto& [name, dbi] : dbs) {
      rc = mdb_dbi_open(txn.get(), name, create, dbi);
      if (rc == MDB_NOTFOUND) {
        return error{errc::corrupt,
                     "store in '" + dir() + "' lacks its sub-database '" + name + "'"};
      }
      if (rc != 0) return lmdb_error(rc, std::string{"open sub-database "} + name);
    }

    if (fresh) {
      node_id = random_node_id();
      const std::string version = encode_u32_le(store_format_version);
      MDB_val vk = lmdb::to_val(meta_format_version);
      MDB_val vv = lmdb::to_val(version);
      if ((rc = mdb_put(txn.get(), meta, &vk, &vv, 0)) != 0) return lmdb_error(rc, "create store");
      if ((rc = put_framed(txn.get(), meta, meta_node_id, encode_u64_le(node_id))) != 0) {
        return lmdb_error(rc, "create store");
      }
    } else {
      MDB_val nk = lmdb::to_val(meta_node_id);
      MDB_val nv{};
      rc = mdb_get(txn.get(), meta, &nk, &nv);
      if (rc == MDB_NOTFOUND) {
        return error{errc::corrupt, "store in '" + dir() + "' has no node_id record"};
      }
      if (rc != 0) return lmdb_error(rc, "read node_id");
      auto payload = unframe_record(meta_node_id, lmdb::to_view(nv));
      if (!payload || payload->size() != 8 || decode_u64_le(*payload) == 0) {
        return error{errc::corrupt,
                     "node_id record in '" + dir() + "' is damaged" +
                         (payload ? std::string{} : " (" + payload.err().message + ")")};
      }
      node_id = decode_u64_le(*payload);
      MDB_val ck = lmdb::to_val(meta_log_applied);
      MDB_val cv{};
      rc = mdb_get(txn.get(), meta, &ck, &cv);
      if (rc == 0) {
        auto c = unframe_record(meta_log_applied, lmdb::to_view(cv));
        if (!c || c->size() != 8) {
          return error{errc::corrupt, "log_applied record in '" + dir() + "' is damaged; the write-ahead "
                                      "log cannot be replayed from a known point"};
        }
        checkpoint_lsn = decode_u64_le(*c);
      } else if (rc != MDB_NOTFOUND) {
        return lmdb_error(rc, "read log_applied");
      }
      if (auto s = load_quarantine(txn.get()); !s) return s;
    }
    if ((rc = txn.commit()) != 0) return lmdb_error(rc, "commit setup transaction");
    return {};
  }

  status load_quarantine(MDB_txn* txn) {
    lmdb::cursor_guard cur;
    int rc = mdb_cursor_open(txn, quarantine, cur.out());
    if (rc != 0) return lmdb_error(rc, "open cursor");
    MDB_val k{};
    MDB_val v{};
    for (rc = mdb_cursor_get(cur.get(), &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur.get(), &k, &v, MDB_NEXT)) {
      const std::string qk{lmdb::to_view(k)};
      auto e = parse_quarantine(qk, lmdb::to_view(v));
      if (!e) continue;  // unreadable report: drop it (it is only a report)
      q.emplace(qk, std::move(*e));
      q_persisted.insert(qk);
    }
    if (rc != MDB_NOTFOUND) return lmdb_error(rc, "load quarantine");
    q_size.store(q.size());
    return {};
  }
};

}  // namespace rumor::persistence
