#include "persistence/data_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace rumor::persistence {

namespace {

std::string os_error(int err) { return std::strerror(err); }

std::string parent_of(const std::string& dir) {
  std::string p = dir;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const auto slash = p.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return p.substr(0, slash);
}

}  // namespace

status prepare_data_dir(const std::string& dir, bool create) {
  if (dir.empty()) return error{errc::invalid_argument, "empty data directory path"};
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return error{errc::invalid_argument,
                   "data directory '" + dir + "' exists but is not a directory"};
    }
    return {};
  }
  const int err = errno;
  if (err != ENOENT) {
    return error{errc::io_error, "cannot use data directory '" + dir + "': " + os_error(err)};
  }
  if (!create) {
    return error{errc::not_found, "data directory '" + dir +
                                      "' does not exist (a read-only open does not create it)"};
  }
  if (::mkdir(dir.c_str(), 0755) == 0) return {};
  const int mk = errno;
  if (mk == EEXIST) return prepare_data_dir(dir, false);  // raced with another creator
  if (mk == ENOENT) {
    return error{errc::io_error, "cannot create data directory '" + dir + "': its parent '" +
                                     parent_of(dir) +
                                     "' does not exist (only the last path component is created)"};
  }
  return error{errc::io_error, "cannot create data directory '" + dir + "': " + os_error(mk)};
}

result<data_dir_lock> data_dir_lock::acquire(const std::string& dir, bool writable) {
  const std::string path = dir + "/LOCK";
  const int flags = (writable ? (O_RDWR | O_CREAT) : O_RDONLY) | O_CLOEXEC;
  const int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) {
    const int err = errno;
    if (!writable && err == ENOENT) {
      return error{errc::not_found, "no rumor store in '" + dir + "' (no LOCK file)"};
    }
    return error{errc::io_error,
                 "data directory '" + dir + "' is not writable: cannot create '" + path +
                     "': " + os_error(err) +
                     (writable ? " (open with options.read_only to only read a store)" : "")};
  }
  data_dir_lock lock{fd};
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      char buf[32] = {};
      const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
      std::string holder = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string{};
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
      return error{errc::busy, "data directory '" + dir + "' is in use by another open store" +
                                   (holder.empty() ? std::string{} : " (pid " + holder + ")") +
                                   "; only one store may open it at a time"};
    }
    return error{errc::io_error, "cannot lock '" + path + "': " + os_error(err)};
  }
  if (writable) {
    const std::string pid = std::to_string(::getpid()) + "\n";
    // Informational only: failures here do not matter for correctness.
    if (::ftruncate(fd, 0) == 0) {
      [[maybe_unused]] const ssize_t w = ::pwrite(fd, pid.data(), pid.size(), 0);
    }
  }
  return lock;
}

data_dir_lock::data_dir_lock(data_dir_lock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

data_dir_lock& data_dir_lock::operator=(data_dir_lock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

data_dir_lock::~data_dir_lock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace rumor::persistence
