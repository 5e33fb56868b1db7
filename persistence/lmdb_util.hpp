#pragma once
// Internal to persistence/: small RAII and conversion helpers over the LMDB C API.
// Not part of the store interface; include only from persistence/*.cpp.

#include <lmdb.h>

#include <string>
#include <string_view>

#include "base/result.hpp"

namespace rumor::persistence::lmdb {

inline MDB_val to_val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};  // LMDB does not write through keys
}

inline std::string_view to_view(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

// Maps an LMDB/OS return code to an error: MDB_MAP_FULL -> map_full, MDB_TXN_FULL -> too_large,
// MDB_CORRUPTED/MDB_PAGE_NOTFOUND/MDB_INVALID -> corrupt, MDB_VERSION_MISMATCH ->
// unsupported_version, MDB_READERS_FULL -> busy, anything else -> io_error. The message reads
// "<what> in '<dir>': <mdb_strerror>".
error to_error(int rc, std::string_view what, std::string_view dir);

// Aborts the transaction on scope exit unless it was committed or released.
class txn_guard {
 public:
  txn_guard() = default;
  explicit txn_guard(MDB_txn* t) : txn_(t) {}
  txn_guard(const txn_guard&) = delete;
  txn_guard& operator=(const txn_guard&) = delete;
  ~txn_guard() { abort(); }
  MDB_txn* get() const { return txn_; }
  MDB_txn** out() {
    abort();
    return &txn_;
  }
  void abort() {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
    txn_ = nullptr;
  }
  // Commits; the guard no longer owns the transaction either way (LMDB frees it).
  int commit() {
    MDB_txn* t = txn_;
    txn_ = nullptr;
    return mdb_txn_commit(t);
  }

 private:
  MDB_txn* txn_ = nullptr;
};

class cursor_guard {
 public:
  cursor_guard() = default;
  cursor_guard(const cursor_guard&) = delete;
  cursor_guard& operator=(const cursor_guard&) = delete;
  ~cursor_guard() {
    if (cur_ != nullptr) mdb_cursor_close(cur_);
  }
  MDB_cursor* get() const { return cur_; }
  MDB_cursor** out() { return &cur_; }

 private:
  MDB_cursor* cur_ = nullptr;
};

}  // namespace rumor::persistence::lmdb
