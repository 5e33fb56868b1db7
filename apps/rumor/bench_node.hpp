#pragma once
// bench_node: one child `rumor node` process of a bench scenario, on 127.0.0.1 at a free port,
// with its data directory and log under the run's temp dir. Stopped only by its own PID
// (SIGTERM, or SIGKILL); the destructor SIGKILLs and reaps it if it still runs, and the child
// gets PR_SET_PDEATHSIG so it dies with the bench too.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench_context.hpp"

namespace rumor::cli::bench {

struct rss_info {
  uint64_t rss_kb = 0, anon_kb = 0, file_kb = 0;
};

class node_proc {
 public:
  // A node named `name` (data in ctx.dir(name)); not started yet.
  node_proc(const context& ctx, const std::string& name);
  ~node_proc();
  node_proc(const node_proc&) = delete;
  node_proc& operator=(const node_proc&) = delete;

  // Starts the process (joining `seeds`) and waits until it accepts a client connection.
  // Throws timeout (scenario deadline) or std::runtime_error (the process exited: its log tail).
  void start(const std::vector<std::string>& seeds = {}, const std::vector<std::string>& extra = {});
  // SIGTERM (graceful: leaves the cluster) and waits for the exit (SIGKILL after 20 s).
  void stop();
  // Sends SIGTERM without waiting (stop() then waits).
  void signal_stop();
  // SIGKILL and reap (a crash: stays a member).
  void kill_hard();

  std::string durability;  // --durability; empty: the bench's --durability

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  const std::string& address() const { return address_; }
  const std::string& data_dir() const { return data_; }
  uint16_t port() const { return port_; }
  rss_info rss() const;
  // The last lines of its log (for error messages).
  std::string log_tail() const;

 private:
  const context& ctx_;
  std::string name_, address_, data_, log_;
  uint16_t port_ = 0;
  pid_t pid_ = 0;
};

// SIGTERM to all of them at once, then waits for each (bounded).
void stop_all(const std::vector<node_proc*>& nodes);


}  // namespace rumor::cli::bench
