#pragma once
// rumor::persistence data directory handling: creating a missing directory and claiming it for
// one store at a time with an flock(2) on <dir>/LOCK. The lock is taken before LMDB opens the
// environment, because LMDB must not open one environment twice in a process, and it makes a
// second process fail fast with a clear error instead of sharing the writer.

#include <string>

#include "base/result.hpp"

namespace rumor::persistence {

// Makes sure `dir` is an existing directory.
// If it is missing and `create` is true, creates it (only the last component; the parent must
// exist). Errors: invalid_argument (empty path, or the path exists and is not a directory),
// not_found (missing and !create), io_error (cannot be created: parent missing, not writable...).
status prepare_data_dir(const std::string& dir, bool create);

// An exclusive flock on <dir>/LOCK, released on destruction (and by the kernel if the process
// dies, so a crash never leaves a stale lock). The file holds the owner's pid, for messages only.
// Locks are per open file: a second acquire() in the same process fails too.
class data_dir_lock {
 public:
  // Takes the lock. `writable` false: opens LOCK read-only and does not create it or write the pid.
  // Errors: busy (held by another store; the message names the directory and the pid in LOCK),
  // not_found (!writable and no LOCK file: no store here), io_error (cannot create LOCK: the
  // directory is not writable, or any other OS error).
  static result<data_dir_lock> acquire(const std::string& dir, bool writable);

  data_dir_lock(data_dir_lock&& other) noexcept;
  data_dir_lock& operator=(data_dir_lock&& other) noexcept;
  data_dir_lock(const data_dir_lock&) = delete;
  data_dir_lock& operator=(const data_dir_lock&) = delete;
  ~data_dir_lock();

 private:
  explicit data_dir_lock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace rumor::persistence
