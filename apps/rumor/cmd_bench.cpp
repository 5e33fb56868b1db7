#include "cmd_bench.hpp"

#include <stdlib.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>

#include "bench_scenarios.hpp"
#include "exit_codes.hpp"

namespace rumor::cli {

namespace {

const std::vector<std::pair<std::string, std::function<void(bench::context&)>>>& scenario_table() {
  static const std::vector<std::pair<std::string, std::function<void(bench::context&)>>> t = {
      {"local", bench::run_local},       {"wire", bench::run_wire},     {"replicate", bench::run_replicate},
      {"disseminate", bench::run_disseminate}, {"insync", bench::run_insync}, {"catchup", bench::run_catchup},
      {"memory", bench::run_memory},     {"cas", bench::run_cas},       {"collections", bench::run_collections},
      {"text", bench::run_text}};
  return t;
}

// Sizes a --quick run uses unless the flag was given explicitly.
struct explicit_flags {
  CLI::Option *updates, *local_updates, *keys, *samples, *nodes, *insync_window, *timeout, *cas_ops;
  CLI::Option *collection_sizes, *collection_ops, *map_fields;
};
explicit_flags g_flags{};

std::string load1() {
  std::ifstream f("/proc/loadavg");
  std::string s;
  f >> s;
  return s;
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

}  // namespace

CLI::App* add_bench_command(CLI::App& app, bench::options& o) {
  auto* b = app.add_subcommand("bench", "measure rumor with real node processes on 127.0.0.1: "
                                        "local, wire, replicate, disseminate, insync, catchup, memory, cas, collections, text");
  b->add_option("scenarios", o.scenarios, "scenarios to run (default: all)");
  b->add_option("--json", o.json, "write every figure with its parameters to FILE");
  b->add_option("--plot", o.plot, "draw dissemination latency and catch-up progress into FILE.png (gnuplot)");
  b->add_flag("--quick", o.quick, "small sizes (finishes in about 2 minutes); explicit size flags still win");
  g_flags.updates = b->add_option("--updates", o.updates, "replicate / catchup / durable local updates")->capture_default_str();
  g_flags.local_updates = b->add_option("--local-updates", o.local_updates, "in-memory local updates")->capture_default_str();
  g_flags.keys = b->add_option("--keys", o.keys, "memory keys; insync's large size")->capture_default_str();
  b->add_option("--insync-small", o.insync_small, "insync's small size")->capture_default_str();
  g_flags.insync_window = b->add_option("--insync-window-ms", o.insync_window_ms, "in-sync traffic counting window")->capture_default_str();
  g_flags.cas_ops = b->add_option("--cas-ops", o.cas_ops, "cas operations per client setting")->capture_default_str();
  g_flags.samples = b->add_option("--samples", o.samples, "disseminate samples per cluster size")->capture_default_str();
  g_flags.nodes = b->add_option("--nodes", o.nodes, "disseminate cluster sizes, e.g. --nodes 8,16")->delimiter(',')->capture_default_str();
  b->add_option("--window", o.window, "pipelined requests in flight per client connection")->check(CLI::Range(uint64_t{1}, uint64_t{100'000}))->capture_default_str();
  b->add_option("--durability", o.durability, "the node processes' durability (local runs both)")
      ->check(CLI::IsMember({"durable", "relaxed"}))->capture_default_str();
  b->add_option("--gossip-interval-ms", o.gossip_interval_ms, "the node processes' anti-entropy period")->capture_default_str();
  b->add_option("--fanout", o.fanout, "the node processes' push fanout")->capture_default_str();
  g_flags.timeout = b->add_option("--scenario-timeout", o.scenario_timeout_s, "seconds each scenario may take before it is aborted")->capture_default_str();
  g_flags.collection_sizes = b->add_option("--collection-sizes", o.collection_sizes,
                                           "collections: set sizes, e.g. --collection-sizes 1000,1000000")
                                 ->delimiter(',')
                                 ->capture_default_str();
  g_flags.collection_ops = b->add_option("--collection-ops", o.collection_ops,
                                         "collections: adds (and as many removes) measured per size")
                               ->capture_default_str();
  g_flags.map_fields = b->add_option("--map-fields", o.map_fields,
                                     "collections: or_map sizes in fields, e.g. --map-fields 1000,100000 (0: no map)")
                           ->delimiter(',')
                           ->capture_default_str();
  b->add_option("--collection-watch", o.collection_watch,
                "collections: a watch of the collections open on B meanwhile: with set changes (changes), of whole values "
                "(whole, as clients before set changes), or none")
      ->check(CLI::IsMember({"none", "changes", "whole"}))
      ->capture_default_str();
  b->add_flag("--tls", o.tls, "nodes and clients speak TLS 1.3 (a throwaway CA in the temp dir; compare with a run without)");
  b->add_option("--trace", o.text_trace, "text: replay this sequential editing trace (editing-traces JSON, may be gzipped)")
      ->check(CLI::ExistingFile);
  b->add_option("--text-node-patches", o.text_node_patches,
                "text: the trace's first N patches also go through a node process as pipelined splices (0: none)")
      ->capture_default_str();
  b->add_option("--concurrent", o.text_concurrent, "text: replay this concurrent editing trace across one replica per agent")
      ->check(CLI::ExistingFile);
  b->add_flag("--keep-tmp", o.keep_tmp, "keep the temp dir (node logs, data) for inspection");
  b->add_flag("--observe", o.observe,
              "replicate: run the nodes with --http and, every second, scrape each one's /metrics and poll it as an "
              "open dashboard does (the cost of watching a cluster)");
  return b;
}

int run_bench(bench::options o, const std::string& self) {
  const auto& table = scenario_table();
  for (const auto& s : o.scenarios) {
    bool known = false;
    for (auto& [name, fn] : table) known |= name == s;
    if (!known) {
      std::string names;
      for (auto& [name, fn] : table) names += " " + name;
      std::cerr << "rumor bench: unknown scenario '" << s << "'; choose from:" << names << "\n";
      return exit_usage;
    }
  }
  if (o.quick) {
    if (!g_flags.updates || !g_flags.updates->count()) o.updates = 20'000;
    if (!g_flags.local_updates || !g_flags.local_updates->count()) o.local_updates = 200'000;
    if (!g_flags.keys || !g_flags.keys->count()) o.keys = 20'000;
    if (!g_flags.samples || !g_flags.samples->count()) o.samples = 8;
    if (!g_flags.cas_ops || !g_flags.cas_ops->count()) o.cas_ops = 300;
    if (!g_flags.nodes || !g_flags.nodes->count()) o.nodes = {4};
    if (!g_flags.insync_window || !g_flags.insync_window->count()) o.insync_window_ms = 3'000;
    if (!g_flags.timeout || !g_flags.timeout->count()) o.scenario_timeout_s = 60;
    if (!g_flags.collection_sizes || !g_flags.collection_sizes->count()) o.collection_sizes = {1'000, 10'000};
    if (!g_flags.collection_ops || !g_flags.collection_ops->count()) o.collection_ops = 200;
    if (!g_flags.map_fields || !g_flags.map_fields->count()) o.map_fields = {1'000};
  }
  if (o.collection_sizes.empty() || o.collection_ops == 0 ||
      std::find(o.collection_sizes.begin(), o.collection_sizes.end(), uint64_t{0}) != o.collection_sizes.end()) {
    std::cerr << "rumor bench: --collection-sizes and --collection-ops must be positive\n";
    return exit_usage;
  }
  if (o.nodes.empty() || o.samples == 0 || o.updates == 0 || o.cas_ops == 0 || o.keys == 0 || o.insync_small == 0 || o.gossip_interval_ms == 0) {
    std::cerr << "rumor bench: --nodes, --samples, --updates, --keys, --insync-small and --gossip-interval-ms must be positive\n";
    return exit_usage;
  }
  for (size_t n : o.nodes)
    if (n < 2 || n > 64) {
      std::cerr << "rumor bench: --nodes sizes must be between 2 and 64\n";
      return exit_usage;
    }

  std::string base = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp";
  std::string tmpl = base + "/rumor-bench-XXXXXX";
  if (!::mkdtemp(tmpl.data())) {
    std::cerr << "rumor bench: cannot create a temp dir under " << base << "\n";
    return exit_error;
  }
  bench::install_interrupt_handler();
  bench::report rep;
  utsname u{};
  ::uname(&u);
  std::string args;
  for (auto& s : o.scenarios) args += s + " ";
  rep.set_run_info({{"started_utc", utc_now()}, {"host", u.nodename}, {"kernel", u.release},
                    {"cpus", std::to_string(::sysconf(_SC_NPROCESSORS_ONLN))}, {"load1_at_start", load1()},
                    {"scenarios", args.empty() ? "all" : args}, {"quick", o.quick ? "true" : "false"},
                    {"updates", std::to_string(o.updates)}, {"local_updates", std::to_string(o.local_updates)},
                    {"keys", std::to_string(o.keys)}, {"samples", std::to_string(o.samples)},
                    {"window", std::to_string(o.window)}, {"durability", o.durability}, {"tls", o.tls ? "true" : "false"},
                    {"scenario_timeout_s", std::to_string(o.scenario_timeout_s)}});
  std::cerr << "rumor bench: temp dir " << tmpl << "; load average " << load1() << " (2+ on a 2-core machine skews figures)\n";

  bench::context ctx(o, self, tmpl, rep);
  bool failed = false;
  for (auto& [name, fn] : table) {
    if (!o.scenarios.empty() && std::find(o.scenarios.begin(), o.scenarios.end(), name) == o.scenarios.end()) continue;
    if (bench::interrupted()) break;
    ctx.begin(name);
    ctx.progress("starting (time limit " + std::to_string(o.scenario_timeout_s) + " s)");
    double t0 = bench::now_ms();
    try {
      fn(ctx);
      ctx.progress("done in " + bench::fmt((bench::now_ms() - t0) / 1000) + " s");
    } catch (const bench::timeout& e) {
      failed = true;
      std::cerr << "rumor bench: " << name << " aborted: " << e.what() << "\n";
      rep.add_failure(name, e.what());
    } catch (const std::exception& e) {
      failed = true;
      std::cerr << "rumor bench: " << name << " failed: " << e.what() << "\n";
      rep.add_failure(name, e.what());
    }
  }
  if (bench::interrupted()) {
    failed = true;
    rep.add_failure("run", "interrupted by SIGINT/SIGTERM");
  }
  rep.print_table(stdout);
  if (!o.json.empty() && !rep.write_json(o.json)) failed = true;
  if (!o.json.empty()) std::cerr << "rumor bench: figures written to " << o.json << "\n";
  if (!o.plot.empty()) rep.plot(o.plot, tmpl);
  if (o.keep_tmp) std::cerr << "rumor bench: kept " << tmpl << "\n";
  else {
    std::error_code ec;
    std::filesystem::remove_all(tmpl, ec);
  }
  return failed ? exit_error : exit_ok;
}

}  // namespace rumor::cli
