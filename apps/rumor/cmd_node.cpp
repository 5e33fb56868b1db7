#include "cmd_node.hpp"

#include <csignal>
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <systemd/sd-daemon.h>
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
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

namespace {

// The [node] log-level of the config file `path`; an error message when it cannot be read or the
// level is unknown; nullopt level when the file does not set it.
struct reloaded {
  std::optional<spdlog::level::level_enum> level;
  std::string problem;
};

reloaded reread_log_level(const std::string& path) {
  reloaded out;
  try {
    for (const auto& item : CLI::ConfigTOML().from_file(path)) {
      if (item.parents != std::vector<std::string>{"node"} || (item.name != "log-level" && item.name != "log_level"))
        continue;
      std::string v = item.inputs.empty() ? "" : item.inputs.front();
      auto level = spdlog::level::from_str(v);
      if (level == spdlog::level::off && v != "off") {
        out.problem = "unknown log-level '" + v + "'";
        return out;
      }
      out.level = level;
    }
  } catch (const std::exception& e) {
    out.problem = e.what();
  }
  return out;
}

}  // namespace

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
  cfg.max_frame_bytes = o.max_frame_kb << 10;
  cfg.gossip_interval_ms = o.gossip_interval_ms;
  cfg.fanout = o.fanout;
  cfg.replica.log_retain_deltas = o.log_retain_deltas;
  cfg.log = log;
  cfg.http = o.http;
  cfg.tls = security::tls_files{o.tls_ca, o.tls_cert, o.tls_key};
  cfg.client_token_file = o.client_token_file;

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

  sd_notifyf(0, "READY=1\nSTATUS=serving on %s", n.address().c_str());

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  int sig = 0;
  while (true) {
    sigwait(&set, &sig);
    if (sig != SIGHUP) break;
    sd_notify(0, "RELOADING=1");
    const bool has_credentials = cfg.tls.enabled() || !cfg.client_token_file.empty();
    if (has_credentials) {
      if (auto r = n.reload_credentials(); !r)
        log->warn("SIGHUP: cannot reload the TLS files or client tokens: {}; the old ones stay in use", r.err().message);
      else
        log->info("SIGHUP: TLS files and client tokens re-read; new connections use them");
    }
    if (o.config_file.empty()) {
      if (!has_credentials) log->info("SIGHUP: nothing to reload (no --config file)");
      sd_notify(0, "READY=1");
      continue;
    }
    auto r = reread_log_level(o.config_file);
    if (!r.problem.empty())
      log->warn("SIGHUP: cannot reload '{}': {}; settings unchanged", o.config_file, r.problem);
    else if (!r.level)
      log->info("SIGHUP: '{}' sets no log-level; settings unchanged", o.config_file);
    else {
      log->set_level(*r.level);
      log->info("SIGHUP: log level {} (from '{}')", spdlog::level::to_string_view(*r.level), o.config_file);
    }
    sd_notify(0, "READY=1");
  }
  sd_notify(0, "STOPPING=1");
  log->info("{}: leaving the cluster and stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
  n.stop();
  log->info("stopped");
  return exit_ok;
}

}  // namespace rumor::cli
