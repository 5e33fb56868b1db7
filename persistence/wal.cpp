#include "persistence/wal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include <algorithm>
#include <mutex>
#include <shared_mutex>

#include "persistence/lmdb_util.hpp"
#include "persistence/record_format.hpp"

namespace rumor::persistence {

namespace {

std::array<char, 8> lsn_key(uint64_t lsn) {
  std::array<char, 8> k{};
  for (int i = 7; i >= 0; --i, lsn >>= 8) k[static_cast<std::size_t>(i)] = static_cast<char>(lsn & 0xff);
  return k;
}

uint64_t lsn_of(std::string_view k) {
  uint64_t v = 0;
  for (char c : k) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

std::string_view view(const std::array<char, 8>& k) { return {k.data(), k.size()}; }

}  // namespace

struct wal::impl {
  options opts;
  std::string path;
  MDB_env* env = nullptr;
  MDB_dbi dbi{};
  uint64_t max_map = 0;
  mutable std::shared_mutex remap_mu;  // exclusive only while the map grows

  ~impl() { close_env(); }
  std::optional<error> broken;  // recreate_if_larger failed: the log is unusable
  error lmdb_error(int rc, std::string_view what) const { return lmdb::to_error(rc, what, path); }

  // Opens (creating unless read-only) the environment at `path`.
  status open_env() {
    const options& o = opts;
    int rc = mdb_env_create(&env);
    if (rc != 0) {
      env = nullptr;
      return lmdb_error(rc, "create the write-ahead log environment");
    }
    const uint64_t initial = std::min<uint64_t>(o.initial_map_bytes, o.max_map_bytes);
    if ((rc = mdb_env_set_mapsize(env, initial)) != 0) return lmdb_error(rc, "set map size");
    unsigned flags = MDB_NOSUBDIR | MDB_NOTLS | MDB_NORDAHEAD;
    if (o.mode == durability::relaxed) flags |= MDB_NOSYNC;
    if (o.read_only) flags |= MDB_RDONLY;
    rc = mdb_env_open(env, path.c_str(), flags, 0644);
    if (rc == MDB_INVALID) return error{errc::corrupt, "'" + path + "' is not an LMDB database"};
    if (rc != 0) return lmdb_error(rc, "open the write-ahead log");
    MDB_envinfo info{};
    mdb_env_info(env, &info);
    max_map = std::max<uint64_t>(o.max_map_bytes, info.me_mapsize);
    lmdb::txn_guard txn;
    if ((rc = mdb_txn_begin(env, nullptr, o.read_only ? MDB_RDONLY : 0, txn.out())) != 0)
      return lmdb_error(rc, "begin log setup transaction");
    if ((rc = mdb_dbi_open(txn.get(), nullptr, 0, &dbi)) != 0) return lmdb_error(rc, "open the log database");
    if ((rc = txn.commit()) != 0) return lmdb_error(rc, "commit log setup transaction");
    return {};
  }

  void close_env() {
    if (env != nullptr) mdb_env_close(env);
    env = nullptr;
  }

  int erase_upto(MDB_txn* txn, uint64_t through) const {
    if (through == 0) return 0;
    lmdb::cursor_guard cur;
    int rc = mdb_cursor_open(txn, dbi, cur.out());
    if (rc != 0) return rc;
    MDB_val k{}, v{};
    for (rc = mdb_cursor_get(cur.get(), &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur.get(), &k, &v, MDB_FIRST)) {
      if (lsn_of(lmdb::to_view(k)) > through) return 0;
      if ((rc = mdb_cursor_del(cur.get(), 0)) != 0) return rc;
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
  }

  // Runs f(cursor) on a cursor of a fresh read transaction of the log.
  template <class F>
  auto with_cursor(F&& f) const -> decltype(f(static_cast<MDB_cursor*>(nullptr))) {
    std::shared_lock lk(remap_mu);
    if (broken) return *broken;
    lmdb::txn_guard txn;
    int rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, txn.out());
    if (rc != 0) return lmdb_error(rc, "begin log read");
    lmdb::cursor_guard cur;
    if ((rc = mdb_cursor_open(txn.get(), dbi, cur.out())) != 0) return lmdb_error(rc, "open log cursor");
    return f(cur.get());
  }

  template <class F>
  status write(F&& f, std::size_t hint) {
    for (;;) {
      int rc = 0;
      {
        std::shared_lock lk(remap_mu);
        if (broken) return *broken;
        lmdb::txn_guard txn;
        rc = mdb_txn_begin(env, nullptr, 0, txn.out());
        if (rc != 0) return lmdb_error(rc, "begin log transaction");
        rc = f(txn.get());
        if (rc == 0) rc = txn.commit();
        if (rc == 0) return {};
      }
      if (rc != MDB_MAP_FULL) return lmdb_error(rc, "append to the write-ahead log");
      MDB_envinfo info{};
      mdb_env_info(env, &info);
      const uint64_t cur = info.me_mapsize;
      if (cur >= max_map) {
        return error{errc::map_full, "the write-ahead log '" + path + "' is full at its maximum map of " +
                                         std::to_string(max_map) + " bytes (options.max_map_bytes); the store is unchanged"};
      }
      uint64_t target = cur > max_map / 2 ? max_map : cur * 2;
      if (target < cur + 2 * hint) target = std::min<uint64_t>(max_map, cur + 2 * hint);
      std::unique_lock lk(remap_mu);
      if ((rc = mdb_env_set_mapsize(env, target)) != 0) return lmdb_error(rc, "grow the write-ahead log's map");
    }
  }
};

wal::wal(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
wal::~wal() = default;

result<std::unique_ptr<wal>> wal::open(const options& o) {
  auto p = std::make_unique<impl>();
  p->opts = o;
  p->path = o.dir + "/wal.mdb";
  if (o.read_only && ::access(p->path.c_str(), F_OK) != 0) {
    return error{errc::not_found, "no write-ahead log in '" + o.dir + "'"};
  }
  if (auto s = p->open_env(); !s) return s.err();
  return std::unique_ptr<wal>(new wal(std::move(p)));
}

status wal::append(uint64_t lsn, std::string_view payload, uint64_t erase_through) {
  impl& d = *impl_;
  const auto key = lsn_key(lsn);
  return d.write(
      [&](MDB_txn* txn) {
        int rc = d.erase_upto(txn, erase_through);
        if (rc != 0) return rc;
        MDB_val k = lmdb::to_val(view(key));
        MDB_val v{record_header_bytes + payload.size(), nullptr};
        if ((rc = mdb_put(txn, d.dbi, &k, &v, MDB_APPEND | MDB_RESERVE)) != 0) return rc;
        frame_record_into(static_cast<char*>(v.mv_data), view(key), payload);
        return 0;
      },
      payload.size() + 4096);
}

status wal::erase_through(uint64_t lsn) {
  impl& d = *impl_;
  return d.write([&](MDB_txn* txn) { return d.erase_upto(txn, lsn); }, 4096);
}

status wal::scan(uint64_t after, const std::function<bool(uint64_t, std::string_view)>& visit) const {
  const impl& d = *impl_;
  return d.with_cursor([&](MDB_cursor* cur) -> status {
    const auto start = lsn_key(after + 1);
    MDB_val k = lmdb::to_val(view(start)), v{};
    int rc = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      const std::string_view key = lmdb::to_view(k);
      const uint64_t lsn = lsn_of(key);
      auto payload = unframe_record(key, lmdb::to_view(v));
      if (!payload) {
        return error{errc::corrupt, "write-ahead log record " + std::to_string(lsn) + " in '" + d.path +
                                        "' is damaged (" + payload.err().message +
                                        "); the updates it holds cannot be replayed"};
      }
      if (!visit(lsn, *payload)) return {};
    }
    if (rc != MDB_NOTFOUND) return d.lmdb_error(rc, "scan the write-ahead log");
    return {};
  });
}

result<uint64_t> wal::last_lsn() const {
  const impl& d = *impl_;
  return d.with_cursor([&](MDB_cursor* cur) -> result<uint64_t> {
    MDB_val k{}, v{};
    const int rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (rc == MDB_NOTFOUND) return uint64_t{0};
    if (rc != 0) return d.lmdb_error(rc, "read the log's last record");
    return lsn_of(lmdb::to_view(k));
  });
}

result<std::pair<uint64_t, uint64_t>> wal::usage() const {
  const impl& d = *impl_;
  std::shared_lock lk(d.remap_mu);
  if (d.broken) return *d.broken;
  lmdb::txn_guard txn;
  int rc = mdb_txn_begin(d.env, nullptr, MDB_RDONLY, txn.out());
  if (rc != 0) return d.lmdb_error(rc, "begin log read");
  MDB_stat st{};
  if ((rc = mdb_stat(txn.get(), d.dbi, &st)) != 0) return d.lmdb_error(rc, "stat the log");
  MDB_envinfo info{};
  mdb_env_info(d.env, &info);
  return std::pair<uint64_t, uint64_t>{st.ms_entries, (info.me_last_pgno + 1) * uint64_t{st.ms_psize}};
}

status wal::sync() {
  impl& d = *impl_;
  if (d.opts.read_only) return {};
  std::shared_lock lk(d.remap_mu);
  if (d.broken) return *d.broken;
  if (const int rc = mdb_env_sync(d.env, 1); rc != 0) return d.lmdb_error(rc, "sync the write-ahead log");
  return {};
}

result<bool> wal::recreate_if_larger(uint64_t bytes, uint64_t through) {
  impl& d = *impl_;
  if (d.opts.read_only) return false;
  struct stat sb{};
  if (::stat(d.path.c_str(), &sb) != 0 || static_cast<uint64_t>(sb.st_size) <= bytes) return false;
  auto last = last_lsn();
  if (!last) return last.err();
  if (*last > through) return false;  // a record the B-trees may lack
  std::unique_lock lk(d.remap_mu);
  if (d.broken) return *d.broken;
  d.close_env();
  auto fail = [&](error e) -> error {
    d.close_env();
    d.broken = error{e.code, "the write-ahead log '" + d.path + "' could not be recreated (" + e.message +
                                 "); reopen the store"};
    return *d.broken;
  };
  const std::string lock_path = d.path + "-lock";
  // lmdb_error maps an errno as it maps LMDB's codes (io_error, with the system's message).
  if (::unlink(d.path.c_str()) != 0 && errno != ENOENT) return fail(d.lmdb_error(errno, "unlink the old log"));
  (void)::unlink(lock_path.c_str());
  if (auto s = d.open_env(); !s) return fail(s.err());
  // The new file's directory entry must be durable before a record in it is acknowledged.
  const int dfd = ::open(d.opts.dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd < 0) return fail(d.lmdb_error(errno, "open the log's directory"));
  const int rc = ::fsync(dfd) == 0 ? 0 : errno;
  ::close(dfd);
  if (rc != 0) return fail(d.lmdb_error(rc, "fsync the log's directory"));
  return true;
}

}  // namespace rumor::persistence
