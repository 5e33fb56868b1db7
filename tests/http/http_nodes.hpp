#pragma once
// Shared by the HTTP process tests: `rumor node` processes with an HTTP endpoint (processes.hpp
// starts and stops them, by PID), and a bounded shell command's output.

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <httplib.h>

#include "processes.hpp"

namespace rumor::test {

struct http_node {
  std::unique_ptr<node_process> proc;
  uint16_t http_port = 0;
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", http_port);
    c.set_connection_timeout(5);
    c.set_read_timeout(15);
    c.set_write_timeout(5);
    return c;
  }
};

// Starts node `name` of cluster `cluster` in `dir` with --http on a free port, joining `join`;
// `addr` empty: a free port; `extra`: more flags. A start that failed because a port it picked
// was taken in the meantime (free_port's race) is retried on fresh ports, at most 3 times.
inline http_node start_http_node(const temp_dir& dir, const std::string& cluster, const std::string& name,
                                 const std::vector<std::string>& join, std::string addr = {},
                                 const std::vector<std::string>& extra = {}) {
  const bool pick_addr = addr.empty();
  for (int attempt = 1;; ++attempt) {
    http_node n;
    n.http_port = free_port();
    if (pick_addr) addr = "127.0.0.1:" + std::to_string(free_port());
    n.proc = std::make_unique<node_process>(RUMOR_BINARY, addr, dir.path + "/" + name, dir.path + "/" + name + ".log");
    std::vector<std::string> flags = {"--cluster", cluster, "--gossip-interval-ms", "50",
                                      "--http", "127.0.0.1:" + std::to_string(n.http_port)};
    flags.insert(flags.end(), extra.begin(), extra.end());
    for (const auto& j : join) {
      flags.push_back("--join");
      flags.push_back(j);
    }
    if (n.proc->start(flags)) return n;
    const bool retry = attempt < 3 && n.proc->port_was_taken();
    MESSAGE(name << " did not start (attempt " << attempt << (retry ? "; a port was taken, retrying" : "") << ")");
    REQUIRE_MESSAGE(retry, name << " did not start");
  }
}

// Runs `cmd` through the shell (the caller bounds it, e.g. with `timeout`); returns its stdout
// and sets `status` to pclose's status.
inline std::string run_shell(const std::string& cmd, int& status) {
  std::string out;
  FILE* f = ::popen(cmd.c_str(), "r");
  REQUIRE(f != nullptr);
  char buf[65536];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  status = ::pclose(f);
  return out;
}

}  // namespace rumor::test
