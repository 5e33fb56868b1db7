// catchup: nodes A and C (C joined A) share `updates` preloaded keys. C is stopped — by SIGKILL
// (a crash: it stays a member, so A keeps the deltas it lacks) and, in a second round, by
// SIGTERM (a graceful leave) — while `updates` new keys are written to A; then C is restarted on
// its directory: time from the restart until C holds every key. Beside it: a fresh, empty node D
// joining A and syncing the whole dataset. Proportionality: catch-up time / fresh sync time
// against missed keys / all keys. C's key count is polled every 5 ms (series for the plot).
#include <thread>

#include "bench_client.hpp"
#include "bench_node.hpp"
#include "bench_scenarios.hpp"

namespace rumor::cli::bench {

namespace {

struct sync_time {
  double listen_ms = 0;  // process start until it accepts clients
  double total_ms = 0;   // process start until it holds `target` keys
};

// Starts `n` (joining `seed`) and polls it until it holds `target` keys.
sync_time start_and_sync(context& ctx, node_proc& n, const std::string& seed, uint64_t target, const std::string& label) {
  series s{"catchup_" + label, {}};
  double t0 = now_ms();
  n.start({seed});
  sync_time r;
  r.listen_ms = now_ms() - t0;
  auto c = connect(ctx, n.address());
  double last_progress = now_ms();
  uint64_t have = 0;
  r.total_ms = wait_until(ctx, label + ": reaching " + std::to_string(target) + " keys", [&] {
    have = keys_of(c);
    double t = now_ms();
    if (s.points.empty() || t - t0 - s.points.back().first >= 20 || have >= target) s.points.emplace_back(t - t0, double(have));
    if (t - last_progress >= 1000) {
      last_progress = t;
      ctx.progress(label + ": " + std::to_string(have) + "/" + std::to_string(target) + " keys");
    }
    return have >= target;
  }, 5) + r.listen_ms;
  ctx.out.add_series(std::move(s));
  return r;
}

}  // namespace

void run_catchup(context& ctx) {
  const uint64_t m = ctx.opt.updates;
  const uint64_t preload = ctx.opt.updates;
  node_proc a(ctx, "a"), c(ctx, "c"), d(ctx, "d");
  a.start();
  c.start({a.address()});
  wait_cluster(ctx, {a.address(), c.address()});
  auto ca = connect(ctx, a.address());
  ctx.progress("preloading " + std::to_string(preload) + " keys on A, replicated to C");
  auto w = pipelined_writes(ctx, ca, preload, [](uint64_t i) { return replicate_update("p:", i); }, "preload");
  if (w.failed) throw std::runtime_error("preload failed: " + w.first_error);
  {
    auto cc = connect(ctx, c.address());
    wait_until(ctx, "C receiving the preload", [&] { return keys_of(cc) >= preload; }, 20);
  }
  uint64_t total = preload;
  std::vector<std::pair<std::string, std::string>> base = {
      {"missed", std::to_string(m)}, {"durability", ctx.opt.durability},
      {"gossip_interval_ms", std::to_string(ctx.opt.gossip_interval_ms)}};
  for (std::string mode : {"kill", "term"}) {
    if (mode == "kill") c.kill_hard();
    else c.stop();
    ctx.progress("C stopped (" + std::string(mode == "kill" ? "SIGKILL: stays a member" : "SIGTERM: leaves the cluster") +
                 "); writing " + std::to_string(m) + " new keys to A");
    std::string prefix = "m" + mode + ":";
    auto wm = pipelined_writes(ctx, ca, m, [&](uint64_t i) { return replicate_update(prefix, i); }, "writes while C is down");
    if (wm.failed) throw std::runtime_error("writes failed: " + wm.first_error);
    total += m;
    auto t = start_and_sync(ctx, c, a.address(), total, "restarted_after_" + mode);
    auto params = base;
    params.push_back({"stop", mode == "kill" ? "SIGKILL (crash, still a member)" : "SIGTERM (graceful leave)"});
    params.push_back({"total_keys", std::to_string(total)});
    params.push_back({"restart_to_listen_ms", fmt(t.listen_ms)});
    ctx.out.add({"catchup", "restarted_" + mode + "_ms", t.total_ms, "ms", params, "", std::nullopt});
    ctx.progress("C (" + mode + ") caught up " + std::to_string(m) + " missed keys in " + fmt(t.total_ms) + " ms");
  }
  ctx.progress("fresh empty node D joins A and syncs " + std::to_string(total) + " keys");
  auto f = start_and_sync(ctx, d, a.address(), total, "fresh_node");
  auto params = base;
  params.push_back({"total_keys", std::to_string(total)});
  params.push_back({"start_to_listen_ms", fmt(f.listen_ms)});
  ctx.out.add({"catchup", "fresh_node_full_sync_ms", f.total_ms, "ms", params, "", std::nullopt});
  // Proportionality for each restart: (catch-up / fresh) / (missed / total at that time).
  std::vector<std::pair<std::string, double>> restarts;
  for (auto& fig : ctx.out.figures())
    if (fig.scenario == "catchup" && fig.name.rfind("restarted_", 0) == 0) restarts.emplace_back(fig.name, fig.value);
  uint64_t total_at = preload;
  for (auto& [name, ms] : restarts) {
    total_at += m;
    double fraction = double(m) / double(total_at);
    double rel = (ms / f.total_ms) / fraction;
    std::string mode = name.substr(std::string("restarted_").size());
    mode = mode.substr(0, mode.find('_'));
    ctx.out.add({"catchup", "proportionality_" + mode, rel, "x",
                 {{"catchup_ms", fmt(ms)}, {"fresh_ms", fmt(f.total_ms)}, {"missed_fraction", fmt(fraction)}},
                 "<= 1.5: (catch-up/fresh sync) / (missed/total)", rel <= 1.5});
  }
  stop_all({&a, &c, &d});
}

}  // namespace rumor::cli::bench
