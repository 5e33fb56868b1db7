#include "persistence/bench_bare_lmdb.hpp"

#include <lmdb.h>

#include <chrono>

namespace rumor::persistence::bench {

result<run_result> bare_lmdb_puts(const std::string& dir, std::size_t per_commit,
                                  std::string_view value, double seconds, bool nosync) {
  auto fail = [&](int rc, const char* what) {
    return error{errc::io_error, std::string{what} + ": " + mdb_strerror(rc)};
  };
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc != 0) return fail(rc, "mdb_env_create");
  struct closer {
    MDB_env* e;
    ~closer() { mdb_env_close(e); }
  } close_env{env};
  if ((rc = mdb_env_set_mapsize(env, uint64_t{16} << 30)) != 0) return fail(rc, "set_mapsize");
  if ((rc = mdb_env_open(env, dir.c_str(), nosync ? MDB_NOSYNC : 0, 0644)) != 0) {
    return fail(rc, "mdb_env_open");
  }
  MDB_dbi dbi{};
  {
    MDB_txn* txn = nullptr;
    if ((rc = mdb_txn_begin(env, nullptr, 0, &txn)) != 0) return fail(rc, "txn_begin");
    if ((rc = mdb_dbi_open(txn, nullptr, 0, &dbi)) != 0) {
      mdb_txn_abort(txn);
      return fail(rc, "dbi_open");
    }
    if ((rc = mdb_txn_commit(txn)) != 0) return fail(rc, "commit");
  }
  run_result r;
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    MDB_txn* txn = nullptr;
    if ((rc = mdb_txn_begin(env, nullptr, 0, &txn)) != 0) return fail(rc, "txn_begin");
    for (std::size_t i = 0; i < per_commit; ++i) {
      const std::string key = bench_key(r.updates + i);
      MDB_val k{key.size(), const_cast<char*>(key.data())};
      MDB_val v{value.size(), const_cast<char*>(value.data())};
      if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0) {
        mdb_txn_abort(txn);
        return fail(rc, "mdb_put");
      }
    }
    if ((rc = mdb_txn_commit(txn)) != 0) return fail(rc, "commit");
    r.updates += per_commit;
    ++r.commits;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace rumor::persistence::bench
