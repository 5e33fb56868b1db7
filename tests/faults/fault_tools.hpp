#pragma once
// fault_tools: pieces the real-fault tests share besides the network lab — a small tmpfs to fill,
// libfaketime for a skewed clock, and the client requests and status reads they issue.
// Every wait is bounded by the caller's timeouts; mounts are undone by their owner's destructor.

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "client/connection.hpp"

namespace rumor::test {

// A tmpfs of `mib` MiB mounted at `dir` for the life of this object (root only: else mounted is
// false and why says so).
struct small_fs {
  std::string dir;
  bool mounted = false;
  std::string why;
  small_fs(std::string d, unsigned mib) : dir(std::move(d)) {
    std::filesystem::create_directories(dir);
    if (::geteuid() != 0) {
      why = "needs root (mounts a tmpfs)";
      return;
    }
    std::string opts = "size=" + std::to_string(mib) + "m,mode=0700";
    if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0) {
      why = std::string("mount tmpfs: ") + std::strerror(errno);
      return;
    }
    mounted = true;
  }
  small_fs(const small_fs&) = delete;
  small_fs& operator=(const small_fs&) = delete;
  ~small_fs() {
    if (mounted) ::umount2(dir.c_str(), MNT_DETACH);
  }
};

// Writes 1 MiB blocks to `path` until the file system refuses (at most `max_mib`); returns the
// MiB written (0 also when the file cannot be created).
inline size_t fill_ballast(const std::string& path, size_t max_mib) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::string block(1 << 20, 'x');
  size_t n = 0;
  for (; n < max_mib; ++n)
    if (std::fwrite(block.data(), 1, block.size(), f) != block.size() || std::fflush(f) != 0) break;
  std::fclose(f);
  return n;
}

// libfaketime's multithreaded library, or nullptr where it is not installed.
inline const char* faketime_lib() {
  for (const char* p : {"/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
                        "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1", "/usr/lib/faketime/libfaketimeMT.so.1"})
    if (::access(p, R_OK) == 0) return p;
  return nullptr;
}

// The environment of a node whose wall clock runs `offset` (libfaketime syntax, e.g. "+1h") ahead;
// monotonic clocks stay true. REQUIRES: faketime_lib().
inline std::vector<std::string> skewed_clock_env(const std::string& offset) {
  return {std::string("LD_PRELOAD=") + faketime_lib(), "FAKETIME=" + offset, "FAKETIME_DONT_FAKE_MONOTONIC=1"};
}

// An update of `key` by `op` on a value of `type`, as a request (local consistency); the caller
// fills the operation's argument.
inline client::request update_request(const std::string& key, client::op_kind op, crdt::type_tag type,
                                      const std::function<void(client::update&)>& argument) {
  client::update u;
  u.key = key;
  u.op = op;
  u.type = type;
  argument(u);
  client::request r;
  r.body = std::move(u);
  return r;
}

inline client::request register_set(const std::string& key, const std::string& value) {
  return update_request(key, client::op_kind::register_set, crdt::type_tag::lww_register,
                        [&](client::update& u) { u.value = value; });
}

inline client::request counter_add(const std::string& key, int64_t amount) {
  return update_request(key, client::op_kind::counter_add, crdt::type_tag::pn_counter,
                        [&](client::update& u) { u.amount = amount; });
}

// The node's status, or nullopt when it does not answer within `timeout_ms`.
inline std::optional<client::node_status> status_of(client::connection& c, uint64_t timeout_ms = 5000) {
  client::request req;
  req.body = client::status{};
  auto r = c.call(req, timeout_ms);
  if (!r || r->code != errc::ok || !r->node) return std::nullopt;
  return r->node;
}

}  // namespace rumor::test
