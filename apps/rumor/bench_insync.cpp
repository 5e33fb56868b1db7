// insync: bytes on the wire per gossip round between two in-sync node processes holding
// 10^3 and 10^6 keys. Measured on the real TCP connections: the kernel's per-socket byte
// counters (tcp_info bytes_sent, read with `ss -ti`) summed over every socket between the two
// nodes, over a window of --insync-window-ms once they are in sync and idle (no client
// connected). Counts everything the nodes send each other: anti-entropy (sync_request /
// sync_response) and SWIM membership probes. Rounds = 2 nodes x window / gossip interval.
#include <cstdio>
#include <thread>

#include "bench_client.hpp"
#include "bench_node.hpp"
#include "bench_scenarios.hpp"

namespace rumor::cli::bench {

namespace {

// Sum of bytes_sent over established TCP sockets with a local or remote port in `ports`.
uint64_t socket_bytes_sent(const std::vector<uint16_t>& ports) {
  std::string filter;
  for (auto p : ports) {
    if (!filter.empty()) filter += " or ";
    filter += "sport = :" + std::to_string(p) + " or dport = :" + std::to_string(p);
  }
  std::string cmd = "ss -tinH state established '( " + filter + " )' 2>/dev/null";
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) throw std::runtime_error("cannot run ss (iproute2) to read socket byte counters");
  std::string out;
  char buf[4096];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, got);
  if (::pclose(f) != 0 && out.empty()) throw std::runtime_error("`ss -ti` failed: is iproute2 installed?");
  uint64_t sum = 0;
  for (size_t pos = 0; (pos = out.find("bytes_sent:", pos)) != std::string::npos; pos += 11)
    sum += std::strtoull(out.c_str() + pos + 11, nullptr, 10);
  return sum;
}

double one_size(context& ctx, uint64_t keys) {
  node_proc a(ctx, "a" + std::to_string(keys)), b(ctx, "b" + std::to_string(keys));
  a.start();
  b.start({a.address()});
  wait_cluster(ctx, {a.address(), b.address()});
  {
    auto ca = connect(ctx, a.address());
    auto cb = connect(ctx, b.address());
    ctx.progress(std::to_string(keys) + " keys: loading A");
    auto w = pipelined_writes(ctx, ca, keys, [](uint64_t i) { return counter_incr("s:" + std::to_string(i)); },
                              "loading " + std::to_string(keys) + " keys");
    if (w.failed) throw std::runtime_error("loading failed: " + w.first_error);
    wait_until(ctx, "B receiving every key", [&] { return keys_of(cb) >= keys; }, 20);
    // In sync: both vectors equal, nothing pending (peer lag 0 both ways).
    wait_until(ctx, "both nodes in sync (peer lag 0)", [&] {
      for (auto* c : {&ca, &cb}) {
        auto s = status(*c);
        for (auto& p : s.peers)
          if (p.behind) return false;
      }
      return true;
    }, 50);
  }  // client connections closed: only node-to-node sockets remain
  std::this_thread::sleep_for(std::chrono::milliseconds(3 * ctx.opt.gossip_interval_ms + 1000));
  std::vector<uint16_t> ports = {a.port(), b.port()};
  uint64_t before = socket_bytes_sent(ports);
  ctx.progress(std::to_string(keys) + " keys in sync; counting bytes for " + std::to_string(ctx.opt.insync_window_ms) + " ms");
  double t0 = now_ms();
  while (now_ms() - t0 < double(ctx.opt.insync_window_ms)) {
    ctx.check("counting in-sync bytes");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  uint64_t after = socket_bytes_sent(ports);
  double window = now_ms() - t0;
  double rounds = 2.0 * window / double(ctx.opt.gossip_interval_ms);
  double per_round = double(after - before) / rounds;
  ctx.out.add({"insync", "bytes_per_round_" + std::to_string(keys) + "_keys", per_round, "bytes",
               {{"keys", std::to_string(keys)}, {"bytes", std::to_string(after - before)}, {"window_ms", fmt(window)},
                {"rounds", fmt(rounds)}, {"gossip_interval_ms", std::to_string(ctx.opt.gossip_interval_ms)},
                {"counted", "tcp_info bytes_sent of all node-node sockets (anti-entropy + SWIM)"}},
               "", std::nullopt});
  stop_all({&a, &b});
  return per_round;
}

}  // namespace

void run_insync(context& ctx) {
  double small = one_size(ctx, ctx.opt.insync_small);
  double large = one_size(ctx, ctx.opt.keys);
  double ratio = large / small;
  ctx.out.add({"insync", "ratio_large_to_small", ratio, "x",
               {{"small_keys", std::to_string(ctx.opt.insync_small)}, {"large_keys", std::to_string(ctx.opt.keys)}},
               "<= 1.05", ratio <= 1.05});
}

}  // namespace rumor::cli::bench
