#include "cmd_node.hpp"

#include <csignal>
#include <iostream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "actors/node.hpp"
#include "exit_codes.hpp"

namespace rumor::cli {

using actors::node;
using actors::node_config;

void block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int run_node(const node_options& o) {
  auto log = std::make_shared<spdlog::logger>("rumor", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  auto level = spdlog::level::from_str(o.log_level);
  if (level == spdlog::level::off && o.log_level != "off") {
    std::cerr << "rumor node: unknown --log-level '" << o.log_level
              << "' (use trace, debug, info, warn, error, critical or off)\n";
    return exit_usage;
  }
  log->set_level(level);
  log->flush_on(spdlog::level::info);

  node_config cfg;
  cfg.data_dir = o.data;
  cfg.listen = o.listen;
  cfg.advertise = o.advertise;
  cfg.seeds = o.join;
  cfg.cas_voters = o.cas_voters;
  cfg.cluster = o.cluster;
  if (o.durability == "durable") cfg.durability = persistence::durability::durable;
  else if (o.durability == "relaxed") cfg.durability = persistence::durability::relaxed;
  else {
    std::cerr << "rumor node: --durability must be durable or relaxed, not '" << o.durability << "'\n";
    return exit_usage;
  }
  cfg.write_behind_bytes = o.write_behind_mb << 20;
  cfg.gossip_interval_ms = o.gossip_interval_ms;
  cfg.fanout = o.fanout;
  cfg.log = log;

  auto started = node::start(cfg);
  if (!started) {
    std::cerr << "rumor node: cannot start: " << started.err().message << "\n";
    switch (started.err().code) {
      case errc::busy:
        std::cerr << "  (another process holds the port or the data directory; stop it or choose another)\n";
        return exit_unavailable;
      case errc::invalid_argument: return exit_usage;
      default: return exit_error;
    }
  }
  auto& n = **started;
  log->info("node {:016x} serving on {}; data in {}; Ctrl-C or SIGTERM stops it", n.id(), n.address(), o.data);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  log->info("{}: leaving the cluster and stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
  n.stop();
  log->info("stopped");
  return exit_ok;
}

}  // namespace rumor::cli
