// local: updates/s on one node.
//  (a) in memory: the CRDT + replication state machine over a memory store, batches committed
//      at once (no fsync, no sockets, no actors), `window` updates per drain;
//  (b) durable process: a real `rumor node --durability durable` and one pipelined client
//      connection (window requests in flight) — group commit, one fsync per commit group;
//  (c) the same with --durability relaxed (no fsync), to separate fsync from the rest.
#include <cmath>

#include "bench_client.hpp"
#include "bench_inproc.hpp"
#include "bench_node.hpp"
#include "bench_scenarios.hpp"

namespace rumor::cli::bench {

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  if (rank == 0) rank = 1;
  return v[std::min(rank, v.size()) - 1];
}

namespace {

constexpr uint64_t local_keyspace = 100'000;

client::update local_update(uint64_t i) { return counter_incr("l:" + std::to_string(i % local_keyspace)); }

void in_memory(context& ctx) {
  const uint64_t n = ctx.opt.local_updates;
  ctx.progress("(a) in memory: " + std::to_string(n) + " counter updates over " + std::to_string(local_keyspace) + " keys");
  inproc_replica r;
  uint64_t ok = 0;
  double start = now_ms(), last = start;
  for (uint64_t i = 0; i < n;) {
    uint64_t end = std::min(n, i + ctx.opt.window);
    uint64_t t = static_cast<uint64_t>(now_ms());
    for (; i < end; ++i) r.submit(local_update(i), t);
    ok += r.drain();
    if (now_ms() - last > 1000) {
      last = now_ms();
      ctx.progress("(a) " + std::to_string(i) + "/" + std::to_string(n));
    }
    ctx.check("in-memory updates");
  }
  double ms = now_ms() - start;
  if (ok != n) throw std::runtime_error("in-memory replica: " + std::to_string(n - ok) + " updates failed: " + r.first_error());
  ctx.out.add({"local", "in_memory_updates_per_s", n / (ms / 1000), "updates/s",
               {{"updates", std::to_string(n)}, {"keys", std::to_string(local_keyspace)}, {"type", "pn_counter"},
                {"batch", std::to_string(ctx.opt.window)}, {"store", "memory_store, commit at once"}},
               "", std::nullopt});
}

void process(context& ctx, const std::string& durability) {
  const uint64_t n = ctx.opt.updates;
  node_proc node(ctx, "node-" + durability);
  node.durability = durability;
  node.start();
  auto c = connect(ctx, node.address());
  wait_until(ctx, "node ready", [&] { return is_ready(c); }, 20);
  ctx.progress("(" + std::string(durability == "durable" ? "b" : "c") + ") " + durability + " node process " +
               node.address() + ": " + std::to_string(n) + " pipelined counter updates, window " +
               std::to_string(ctx.opt.window));
  auto w = pipelined_writes(ctx, c, n, local_update, durability + " writes");
  if (w.failed) throw std::runtime_error(std::to_string(w.failed) + " updates failed: " + w.first_error);
  ctx.out.add({"local", durability + "_process_updates_per_s", n / (w.ms / 1000), "updates/s",
               {{"updates", std::to_string(n)}, {"keys", std::to_string(local_keyspace)}, {"type", "pn_counter"},
                {"window", std::to_string(ctx.opt.window)}, {"durability", durability}, {"client", "1 TCP connection, pipelined"}},
               "", std::nullopt});
  node.stop();
}

}  // namespace

void run_local(context& ctx) {
  in_memory(ctx);
  process(ctx, "durable");
  process(ctx, "relaxed");
}

}  // namespace rumor::cli::bench
