#include "persistence/lmdb_store.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>

#include "persistence/data_dir.hpp"
#include "persistence/lmdb_util.hpp"
#include "persistence/node_id.hpp"
#include "persistence/record_format.hpp"

namespace rumor::persistence {

namespace {

constexpr const char* values_db = "values";
constexpr const char* deltas_db = "deltas";
constexpr const char* meta_db = "meta";
constexpr const char* quarantine_db = "quarantine";

// Key of a quarantine record: the record kind byte, then the record's key (value key, meta name,
// or 16-byte delta key). Also the in-memory map key, so quarantined() comes out in that order.
std::string quarantine_key(record_kind kind, std::string_view key) {
  std::string k(1, static_cast<char>(kind));
  k += key;
  return k;
}

// Rebuilds an entry from a quarantine record; nullopt if the record is malformed.
std::optional<quarantine_entry> parse_quarantine(std::string_view qkey, std::string_view reason) {
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

std::string_view as_view(const std::array<char, delta_key_bytes>& k) {
  return {k.data(), k.size()};
}

uint64_t round_up(uint64_t v, uint64_t unit) { return (v + unit - 1) / unit * unit; }

// LMDB's compile-time key limit (mdb_env_get_maxkeysize() of the Debian build).
constexpr std::size_t lmdb_max_key = 511;


}  // namespace

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

  // Quarantine: the truth in memory, mirrored into the "quarantine" sub-database by the next
  // commit (reads cannot write).
  mutable std::mutex q_mu;
  mutable std::map<std::string, quarantine_entry> q;  // by quarantine_key
  std::set<std::string> q_persisted;                  // keys present in the sub-database
  mutable std::atomic<std::size_t> q_size{0};         // == q.size(), read without q_mu

  ~impl() {
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

  // Runs f(txn) inside a fresh read transaction.
  template <class F>
  auto read(F&& f) const -> decltype(f(static_cast<MDB_txn*>(nullptr))) {
    std::shared_lock lk(remap_mu);
    lmdb::txn_guard txn;
    const int rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, txn.out());
    if (rc != 0) return lmdb_error(rc, "begin read transaction");
    return f(txn.get());
  }

  result<std::optional<std::string>> get_record(record_kind kind, std::string_view key) const {
    return read([&](MDB_txn* txn) -> result<std::optional<std::string>> {
      MDB_val k = lmdb::to_val(key);
      MDB_val v{};
      const int rc = mdb_get(txn, dbi_of(kind), &k, &v);
      if (rc == MDB_NOTFOUND) return std::optional<std::string>{};
      if (rc != 0) return lmdb_error(rc, "read");
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
    });
  }

  status scan_range(record_kind kind, const key_range& range, const record_visitor& visit) const {
    return read([&](MDB_txn* txn) -> status {
      lmdb::cursor_guard cur;
      int rc = mdb_cursor_open(txn, dbi_of(kind), cur.out());
      if (rc != 0) return lmdb_error(rc, "open cursor");
      MDB_val k{};
      MDB_val v{};
      if (range.from.empty()) {
        rc = mdb_cursor_get(cur.get(), &k, &v, MDB_FIRST);
      } else {
        // LMDB rejects over-long search keys; a prefix of the bound finds the same position,
        // and the loop skips keys still below `from`.
        const std::string_view from = std::string_view{range.from}.substr(0, lmdb_max_key);
        k = lmdb::to_val(from);
        rc = mdb_cursor_get(cur.get(), &k, &v, MDB_SET_RANGE);
      }
      for (; rc == 0; rc = mdb_cursor_get(cur.get(), &k, &v, MDB_NEXT)) {
        const std::string_view key = lmdb::to_view(k);
        if (range.past_end(key)) break;
        if (key < std::string_view{range.from}) continue;
        if (kind == record_kind::meta && is_reserved_meta_name(key)) continue;
        auto payload = unframe_record(key, lmdb::to_view(v));
        if (!payload) {
          note_corrupt(quarantine_entry{kind, std::string{key}, 0, 0, payload.err().message}, key);
          continue;
        }
        if (!visit(key, *payload)) return {};
      }
      if (rc != MDB_NOTFOUND && rc != 0) return lmdb_error(rc, "scan");
      return {};
    });
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

  int apply_op(MDB_txn* txn, const write_op& op, const quarantine_snapshot& snap,
               std::set<std::string>& healed) {
    const bool check_q = !snap.current.empty();
    int rc = 0;
    switch (op.kind) {
      case op_kind::put_value:
      case op_kind::erase_value:
        rc = op.kind == op_kind::put_value ? put_framed(txn, values, op.key, op.data)
                                           : del(txn, values, op.key);
        if (rc == 0 && check_q)
          rc = heal(txn, snap, healed, quarantine_key(record_kind::value, op.key));
        return rc;
      case op_kind::append_delta: {
        const auto k = delta_key(op.origin, op.seq);
        rc = put_framed(txn, deltas, as_view(k), op.data);
        if (rc == 0 && check_q)
          rc = heal(txn, snap, healed, quarantine_key(record_kind::delta, as_view(k)));
        return rc;
      }
      case op_kind::truncate_deltas:
        return truncate(txn, op.origin, op.seq, snap, healed);
      case op_kind::put_meta:
      case op_kind::erase_meta:
        rc = op.kind == op_kind::put_meta ? put_framed(txn, meta, op.key, op.data)
                                          : del(txn, meta, op.key);
        if (rc == 0 && check_q)
          rc = heal(txn, snap, healed, quarantine_key(record_kind::meta, op.key));
        return rc;
    }
    return EINVAL;
  }

  // One attempt: the whole group in one write transaction. Returns 0 or the LMDB/OS code; on
  // failure nothing was committed.
  int apply_group(std::span<const write_batch> group, const quarantine_snapshot& snap,
                  std::set<std::string>& healed) {
    lmdb::txn_guard txn;
    int rc = mdb_txn_begin(env, nullptr, 0, txn.out());
    if (rc != 0) return rc;
    // Mirror the in-memory quarantine first; rewrites below may delete entries again.
    for (const auto& [qk, e] : snap.current) {
      if (snap.persisted.count(qk) != 0) continue;
      MDB_val k = lmdb::to_val(qk);
      MDB_val v = lmdb::to_val(e.reason);
      if ((rc = mdb_put(txn.get(), quarantine, &k, &v, 0)) != 0) return rc;
    }
    for (const auto& qk : snap.persisted) {
      if (snap.current.count(qk) != 0) continue;
      if ((rc = del(txn.get(), quarantine, qk)) != 0) return rc;
    }
    for (const write_batch& batch : group) {
      for (std::size_t i = 0; i < batch.size(); ++i) {
        if ((rc = apply_op(txn.get(), batch.op(i), snap, healed)) != 0) return rc;
      }
    }
    return txn.commit();
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
      if (version != store_format_version) {
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

// ---- lmdb_store ---------------------------------------------------------------------------

lmdb_store::lmdb_store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
lmdb_store::~lmdb_store() {
  // Persist quarantine reports found since the last commit, so they survive a restart. Best
  // effort: a failure here only loses reports, which the next read of the record re-creates.
  impl& d = *impl_;
  if (d.opts.read_only) return;
  std::lock_guard wl(d.write_mu);
  const auto snap = d.snapshot_quarantine();
  bool differs = snap.current.size() != snap.persisted.size();
  for (const auto& [qk, e] : snap.current) differs = differs || snap.persisted.count(qk) == 0;
  if (!differs) return;
  std::set<std::string> healed;
  if (d.apply_group({}, snap, healed) == 0) d.finish_quarantine(snap, healed);
}

result<std::unique_ptr<lmdb_store>> lmdb_store::open(const options& o) {
  if (o.dir.empty()) return error{errc::invalid_argument, "options.dir is empty"};
  if (o.initial_map_bytes == 0 || o.max_map_bytes < o.initial_map_bytes) {
    return error{errc::invalid_argument,
                 "need 0 < options.initial_map_bytes <= options.max_map_bytes (got " +
                     std::to_string(o.initial_map_bytes) + " and " +
                     std::to_string(o.max_map_bytes) + ")"};
  }
  if (auto s = prepare_data_dir(o.dir, !o.read_only); !s) return s.err();
  auto lock = data_dir_lock::acquire(o.dir, !o.read_only);
  if (!lock) return lock.err();
  if (o.read_only) {
    struct stat st {};
    if (::stat((o.dir + "/data.mdb").c_str(), &st) != 0) {
      return error{errc::not_found, "no rumor store in '" + o.dir + "' (no data.mdb)"};
    }
  }

  auto p = std::make_unique<impl>();
  p->opts = o;
  p->lock.emplace(std::move(*lock));
  const long page = ::sysconf(_SC_PAGESIZE);
  p->page_bytes = page > 0 ? static_cast<uint64_t>(page) : 4096;

  int rc = mdb_env_create(&p->env);
  if (rc != 0) {
    p->env = nullptr;
    return p->lmdb_error(rc, "create LMDB environment");
  }
  const uint64_t initial = round_up(o.initial_map_bytes, p->page_bytes);
  if ((rc = mdb_env_set_maxdbs(p->env, 4)) != 0) return p->lmdb_error(rc, "set max dbs");
  if ((rc = mdb_env_set_mapsize(p->env, initial)) != 0) return p->lmdb_error(rc, "set map size");
  unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
  if (o.mode == durability::relaxed) flags |= MDB_NOSYNC;
  if (o.read_only) flags |= MDB_RDONLY;
  rc = mdb_env_open(p->env, o.dir.c_str(), flags, 0644);
  if (rc == MDB_INVALID) {
    return error{errc::corrupt, "'" + o.dir + "/data.mdb' is not an LMDB database"};
  }
  if (rc == EACCES || rc == EROFS || rc == EPERM) {
    return error{errc::io_error, "data directory '" + o.dir +
                                     "' is not writable: " + mdb_strerror(rc) +
                                     " (open with options.read_only to only read a store)"};
  }
  if (rc != 0) return p->lmdb_error(rc, "open LMDB environment");

  if (auto s = p->setup(); !s) return s.err();
  MDB_envinfo info{};
  mdb_env_info(p->env, &info);
  p->map_bytes.store(info.me_mapsize);
  const uint64_t max_rounded = o.max_map_bytes / p->page_bytes * p->page_bytes;
  p->max_map = max_rounded > info.me_mapsize ? max_rounded : info.me_mapsize;
  return std::unique_ptr<lmdb_store>(new lmdb_store(std::move(p)));
}

const options& lmdb_store::opts() const { return impl_->opts; }

status lmdb_store::commit(std::span<const write_batch> group) {
  impl& d = *impl_;
  if (d.opts.read_only) {
    return error{errc::invalid_argument, "store '" + d.dir() + "' is open read-only"};
  }
  if (auto s = validate(group); !s) return s;
  std::size_t ops = 0;
  std::size_t bytes = 0;
  for (const write_batch& b : group) {
    ops += b.size();
    bytes += b.bytes();
  }
  if (ops == 0) return {};
  // Per-record overhead estimate for the growth hint: header + LMDB node + page slack.
  const uint64_t hint = bytes + ops * (record_header_bytes + 32);
  std::lock_guard wl(d.write_mu);
  for (;;) {
    const auto snap = d.snapshot_quarantine();
    std::set<std::string> healed;
    const int rc = d.apply_group(group, snap, healed);
    if (rc == 0) {
      d.finish_quarantine(snap, healed);
      return {};
    }
    if (rc == MDB_MAP_FULL) {
      if (auto g = d.grow(hint, ops, bytes); !g) return g;
      continue;  // retry the whole group in a new transaction
    }
    if (rc == MDB_TXN_FULL) {
      return error{errc::too_large, "commit of " + std::to_string(ops) + " operations (" +
                                        std::to_string(bytes) + " bytes) in '" + d.dir() +
                                        "' exceeds one LMDB transaction; split the group"};
    }
    return d.lmdb_error(rc, "commit of " + std::to_string(group.size()) + " batches");
  }
}

result<std::optional<std::string>> lmdb_store::get_value(std::string_view key) const {
  if (auto s = check_key(key, "key"); !s) return s.err();
  return impl_->get_record(record_kind::value, key);
}

status lmdb_store::scan_values(const key_range& range, const record_visitor& visit) const {
  return impl_->scan_range(record_kind::value, range, visit);
}

status lmdb_store::scan_deltas(uint64_t origin, uint64_t from_seq,
                               const delta_visitor& visit) const {
  const impl& d = *impl_;
  return d.read([&](MDB_txn* txn) -> status {
    lmdb::cursor_guard cur;
    int rc = mdb_cursor_open(txn, d.deltas, cur.out());
    if (rc != 0) return d.lmdb_error(rc, "open cursor");
    const auto start = delta_key(origin, from_seq);
    MDB_val k = lmdb::to_val(as_view(start));
    MDB_val v{};
    for (rc = mdb_cursor_get(cur.get(), &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur.get(), &k, &v, MDB_NEXT)) {
      const std::string_view key = lmdb::to_view(k);
      if (key.size() != delta_key_bytes || delta_key_origin(key) != origin) break;
      const uint64_t seq = delta_key_seq(key);
      auto payload = unframe_record(key, lmdb::to_view(v));
      if (!payload) {
        d.note_corrupt(quarantine_entry{record_kind::delta, {}, origin, seq, payload.err().message},
                       key);
        continue;
      }
      if (!visit(seq, *payload)) return {};
    }
    if (rc != MDB_NOTFOUND && rc != 0) return d.lmdb_error(rc, "scan deltas");
    return {};
  });
}

result<std::optional<std::string>> lmdb_store::get_meta(std::string_view name) const {
  if (auto s = check_meta_name(name); !s) return s.err();
  return impl_->get_record(record_kind::meta, name);
}

status lmdb_store::scan_meta(const key_range& range, const record_visitor& visit) const {
  return impl_->scan_range(record_kind::meta, range, visit);
}

uint64_t lmdb_store::node_id() const { return impl_->node_id; }

std::vector<quarantine_entry> lmdb_store::quarantined() const {
  std::lock_guard lk(impl_->q_mu);
  std::vector<quarantine_entry> out;
  out.reserve(impl_->q.size());
  for (const auto& [qk, e] : impl_->q) out.push_back(e);
  return out;
}

status lmdb_store::sync() {
  impl& d = *impl_;
  if (d.opts.read_only) return {};
  std::shared_lock lk(d.remap_mu);
  const int rc = mdb_env_sync(d.env, 1);
  if (rc != 0) return d.lmdb_error(rc, "sync");
  return {};
}

result<store_stats> lmdb_store::stats() const {
  const impl& d = *impl_;
  return d.read([&](MDB_txn* txn) -> result<store_stats> {
    store_stats s;
    MDB_stat st{};
    int rc = 0;
    if ((rc = mdb_stat(txn, d.values, &st)) != 0) return d.lmdb_error(rc, "stat values");
    s.values = st.ms_entries;
    if ((rc = mdb_stat(txn, d.deltas, &st)) != 0) return d.lmdb_error(rc, "stat deltas");
    s.deltas = st.ms_entries;
    if ((rc = mdb_stat(txn, d.meta, &st)) != 0) return d.lmdb_error(rc, "stat meta");
    s.meta_records = st.ms_entries;
    for (std::string_view reserved : {meta_format_version, meta_node_id}) {
      MDB_val k = lmdb::to_val(reserved);
      MDB_val v{};
      if (mdb_get(txn, d.meta, &k, &v) == 0 && s.meta_records > 0) --s.meta_records;
    }
    MDB_envinfo info{};
    mdb_env_info(d.env, &info);
    MDB_stat es{};
    mdb_env_stat(d.env, &es);
    s.map_bytes = info.me_mapsize;
    s.max_map_bytes = d.max_map;
    s.used_bytes = (static_cast<uint64_t>(info.me_last_pgno) + 1) * es.ms_psize;
    return s;
  });
}

status lmdb_store::debug_put_raw(record_kind kind, std::string_view key, std::string_view bytes) {
  impl& d = *impl_;
  if (d.opts.read_only) {
    return error{errc::invalid_argument, "store '" + d.dir() + "' is open read-only"};
  }
  std::lock_guard wl(d.write_mu);
  lmdb::txn_guard txn;
  int rc = mdb_txn_begin(d.env, nullptr, 0, txn.out());
  if (rc != 0) return d.lmdb_error(rc, "begin debug transaction");
  MDB_val k = lmdb::to_val(key);
  MDB_val v = lmdb::to_val(bytes);
  if ((rc = mdb_put(txn.get(), d.dbi_of(kind), &k, &v, 0)) != 0)
    return d.lmdb_error(rc, "debug put");
  if ((rc = txn.commit()) != 0) return d.lmdb_error(rc, "debug commit");
  return {};
}

}  // namespace rumor::persistence
