#include "persistence/lmdb_store.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>

#include "persistence/lmdb_store_impl.hpp"
#include "persistence/node_id.hpp"
#include "persistence/record_format.hpp"

namespace rumor::persistence {

// ---- lmdb_store ---------------------------------------------------------------------------

lmdb_store::lmdb_store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
lmdb_store::~lmdb_store() {
  // Persist quarantine reports found since the last commit, so they survive a restart. Best
  // effort: a failure here only loses reports, which the next read of the record re-creates.
  impl& d = *impl_;
  d.stop_materializer();  // materializes what the layers hold, unless materialization fails
  if (d.opts.read_only) return;
  if (d.log && d.checkpoint_lsn > d.log_erased) (void)d.log->erase_through(d.checkpoint_lsn);
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
  auto log = wal::open(o);
  if (log) p->log = std::move(*log);
  else if (!(o.read_only && log.err().code == errc::not_found)) return log.err();
  p->start_presence_build();  // beside the replay: built by the time the replica counts its keys
  if (auto s = p->replay(); !s) return s.err();
  p->start_materializer();
  return std::unique_ptr<lmdb_store>(new lmdb_store(std::move(p)));
}

const options& lmdb_store::opts() const { return impl_->opts; }

bool lmdb_store::presence_filter_built() const { return impl_->present.built(); }

result<std::optional<std::string>> lmdb_store::get_value(std::string_view key) const {
  if (auto s = check_key(key, "key"); !s) return s.err();
  return impl_->get_record(record_kind::value, key);
}

std::vector<result<std::optional<std::string>>> lmdb_store::get_values(std::span<const std::string> keys) const {
  const impl& d = *impl_;
  std::vector<result<std::optional<std::string>>> out(keys.size(), std::optional<std::string>{});
  std::vector<std::size_t> below;  // keys no layer knows: read from the B-trees
  std::shared_lock ol(d.ov_mu);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (auto s = check_key(keys[i], "key"); !s) {
      out[i] = s.err();
      continue;
    }
    const auto a = d.layered(record_kind::value, keys[i]);
    if (a.s == overlay::state::present) out[i] = std::optional<std::string>{std::string{a.bytes}};
    else if (a.s == overlay::state::unknown && d.present.may_hold(keys[i])) below.push_back(i);
  }
  if (below.empty()) return out;
  // In key order through one cursor: keys that are neighbours in the B-tree (a user key's types
  // are, replication/value_layout.hpp) cost one descent from the root, not one each. The cursor
  // sits on the first record >= the key asked; only a key past it needs a new descent.
  std::sort(below.begin(), below.end(), [&](std::size_t x, std::size_t y) { return keys[x] < keys[y]; });
  const status st = d.read([&](MDB_txn* txn) -> status {
    lmdb::cursor_guard cur;
    if (const int rc = mdb_cursor_open(txn, d.values, cur.out()); rc != 0) return d.lmdb_error(rc, "open cursor");
    MDB_val k{}, v{};
    bool positioned = false, at_end = false;
    const std::size_t none = keys.size();
    std::size_t prev = none;
    for (std::size_t i : below) {
      const std::string& key = keys[i];
      if (prev != none && keys[prev] == key) {  // asked twice: the same answer
        out[i] = out[prev];
        continue;
      }
      prev = i;
      if (at_end) continue;  // every later key is past the last record: absent (as initialized)
      if (!positioned || lmdb::to_view(k) < std::string_view{key}) {
        k = lmdb::to_val(key);
        const int rc = mdb_cursor_get(cur.get(), &k, &v, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND) {
          at_end = true;
          continue;
        }
        if (rc != 0) {
          out[i] = d.lmdb_error(rc, "read");
          positioned = false;
          continue;
        }
        positioned = true;
      }
      if (lmdb::to_view(k) != std::string_view{key}) continue;  // the cursor is past it: absent
      out[i] = d.unframe_disk(record_kind::value, key, v);
      const int rc = mdb_cursor_get(cur.get(), &k, &v, MDB_NEXT);
      if (rc == MDB_NOTFOUND) at_end = true;
      else if (rc != 0) positioned = false;
    }
    return {};
  });
  if (!st)
    for (std::size_t i : below) out[i] = st.err();
  return out;
}

status lmdb_store::scan_values(const key_range& range, const record_visitor& visit) const {
  return impl_->scan_range(record_kind::value, range, visit);
}

status lmdb_store::scan_deltas(uint64_t origin, uint64_t from_seq,
                               const delta_visitor& visit) const {
  return impl_->scan_delta_range(origin, from_seq, visit);
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
  if (d.log) {
    if (auto s = d.log->sync(); !s) return s;
  }
  std::shared_lock lk(d.remap_mu);
  const int rc = mdb_env_sync(d.env, 1);
  if (rc != 0) return d.lmdb_error(rc, "sync");
  return {};
}

status lmdb_store::flush() { return impl_->flush(); }

result<store_stats> lmdb_store::stats() const {
  auto counted = impl_->current_counts();
  if (!counted) return counted.err();
  auto s = stats_uncounted();
  if (!s) return s;
  s->values = static_cast<uint64_t>(std::max<int64_t>(0, counted->values));
  s->deltas = static_cast<uint64_t>(std::max<int64_t>(0, counted->deltas));
  s->meta_records = static_cast<uint64_t>(std::max<int64_t>(0, counted->meta));
  return s;
}

result<uint64_t> lmdb_store::value_count() const {
  auto counted = impl_->current_counts(true);
  if (!counted) return counted.err();
  return static_cast<uint64_t>(std::max<int64_t>(0, counted->values));
}

result<store_stats> lmdb_store::stats_uncounted() const {
  const impl& d = *impl_;
  store_stats s;
  {
    std::shared_lock ol(d.ov_mu);
    s.write_behind_bytes = d.active->o.bytes();
    s.write_behind_records = d.active->o.records();
    for (const auto& l : d.sealed) {
      s.write_behind_bytes += l->o.bytes();
      s.write_behind_records += l->o.records();
    }
    s.log_lsn = d.last_lsn;
    s.checkpoint_lsn = d.checkpoint_lsn;
  }
  {
    std::lock_guard wl(const_cast<impl&>(d).wb_mu);
    s.materializations = d.materializations;
    s.last_materialize_ms = d.last_materialize_ms;
    if (d.wb_error) s.write_behind_error = d.wb_error->message;
  }
  MDB_envinfo info{};
  MDB_stat es{};
  {
    // mdb_env_info reads the meta pages through the map: never while the materializer remaps it
    // (grow). A segfault in a status call under a growing map (rumor bench catchup) came from here.
    std::shared_lock lk(d.remap_mu);
    mdb_env_info(d.env, &info);
    mdb_env_stat(d.env, &es);
  }
  s.map_bytes = info.me_mapsize;
  s.max_map_bytes = d.max_map;
  s.used_bytes = (static_cast<uint64_t>(info.me_last_pgno) + 1) * es.ms_psize;
  if (d.log) {
    if (auto u = d.log->usage()) s.log_bytes = u->second;
  }
  return s;
}

status lmdb_store::debug_put_raw(record_kind kind, std::string_view key, std::string_view bytes) {
  impl& d = *impl_;
  if (d.opts.read_only) {
    return error{errc::invalid_argument, "store '" + d.dir() + "' is open read-only"};
  }
  // Planted below the layers: make sure none of them hides it.
  if (auto f = d.flush(); !f) return f;
  std::lock_guard wl(d.write_mu);
  lmdb::txn_guard txn;
  int rc = mdb_txn_begin(d.env, nullptr, 0, txn.out());
  if (rc != 0) return d.lmdb_error(rc, "begin debug transaction");
  MDB_val k = lmdb::to_val(key);
  MDB_val v = lmdb::to_val(bytes);
  if (kind == record_kind::value) d.present.add(key);
  if ((rc = mdb_put(txn.get(), d.dbi_of(kind), &k, &v, 0)) != 0)
    return d.lmdb_error(rc, "debug put");
  if ((rc = txn.commit()) != 0) return d.lmdb_error(rc, "debug commit");
  return {};
}

}  // namespace rumor::persistence
