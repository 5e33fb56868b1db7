// cas: the linearizable compare-and-set lane on 3 node processes (all voters, durable).
// (a) one client, sequential: cas KEY n -> n+1 on one key through node 0, `cas_ops` times;
// (b) 16 clients, each on its own connection (spread over the 3 nodes) and its own key, each
//     doing sequential cas increments for the same total — 16 operations in flight.
// Figures: operations/s and p50/p99 latency of each. Anchor (issue 8): etcd 3.4 (Raft) on this
// kind of machine did about 430 sequential puts/s and about 1,200/s with 16 in flight.
#include <algorithm>
#include <mutex>
#include <thread>

#include "bench_client.hpp"
#include "bench_node.hpp"
#include "bench_scenarios.hpp"

namespace rumor::cli::bench {

namespace {

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * double(v.size() - 1) + 0.5));
  return v[i];
}

// One cas n -> n+1 on `key`; returns the response code (transport errors throw).
errc cas_step(client::connection& c, const std::string& key, uint64_t n) {
  client::request req;
  req.timeout_ms = 5000;
  req.body = client::cas{key, n == 0 ? std::nullopt : std::optional<std::string>(std::to_string(n)),
                         std::to_string(n + 1)};
  auto r = c.call(std::move(req), 10'000);
  if (!r) throw std::runtime_error("cas: " + r.err().message);
  if (r->code != errc::ok && r->code != errc::conflict)
    throw std::runtime_error("cas on " + key + " failed: " + r->message);
  return r->code;
}

struct run_figures {
  double ops_per_s = 0, p50 = 0, p99 = 0;
  uint64_t ops = 0, conflicts = 0;
};

// `clients` threads, client i on node i % nodes, key prefix+i, ops/clients sequential cas each.
run_figures run_clients(const context& ctx, const std::vector<std::string>& addresses, size_t clients, uint64_t ops,
                        const std::string& prefix) {
  std::vector<std::vector<double>> lat(clients);
  std::vector<uint64_t> conflicts(clients, 0);
  std::exception_ptr failure;
  std::mutex mu;
  uint64_t per = std::max<uint64_t>(1, ops / clients);
  double t0 = now_ms();
  std::vector<std::thread> ts;
  for (size_t i = 0; i < clients; ++i) {
    ts.emplace_back([&, i] {
      try {
        auto c = connect(ctx, addresses[i % addresses.size()]);
        std::string key = prefix + std::to_string(i);
        for (uint64_t n = 0; n < per; ++n) {
          if ((n & 63) == 0) ctx.check("cas operations");
          double s = now_ms();
          if (cas_step(c, key, n) == errc::conflict) ++conflicts[i];
          lat[i].push_back(now_ms() - s);
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!failure) failure = std::current_exception();
      }
    });
  }
  for (auto& t : ts) t.join();
  if (failure) std::rethrow_exception(failure);
  double ms = now_ms() - t0;
  run_figures f;
  std::vector<double> all;
  for (size_t i = 0; i < clients; ++i) {
    all.insert(all.end(), lat[i].begin(), lat[i].end());
    f.conflicts += conflicts[i];
  }
  f.ops = all.size();
  f.ops_per_s = double(f.ops) / (ms / 1000);
  f.p50 = percentile(all, 0.50);
  f.p99 = percentile(all, 0.99);
  return f;
}

}  // namespace

void run_cas(context& ctx) {
  const uint64_t ops = ctx.opt.cas_ops;
  node_proc a(ctx, "a"), b(ctx, "b"), c(ctx, "c");
  std::vector<std::string> addresses = {a.address(), b.address(), c.address()};
  std::string voters = addresses[0] + "," + addresses[1] + "," + addresses[2];
  a.start({}, {"--cas-voters", voters});
  b.start({a.address()}, {"--cas-voters", voters});
  c.start({a.address()}, {"--cas-voters", voters});
  wait_cluster(ctx, addresses);
  {
    auto conn = connect(ctx, a.address());
    wait_until(ctx, "the cas lane knowing every voter", [&] {
      client::request req;
      req.timeout_ms = 1000;
      req.body = client::cas{"bench:warmup", std::nullopt, "1"};
      auto r = conn.call(std::move(req), 3000);
      return r && (r->code == errc::ok || r->code == errc::conflict);
    }, 50);
  }
  std::vector<std::pair<std::string, std::string>> params = {
      {"nodes", "3 processes, all voters"}, {"durability", ctx.opt.durability},
      {"ops", std::to_string(ops)}, {"op", "cas n -> n+1 (prepare + accept: 2 round trips, 2 durable writes per acceptor)"}};

  ctx.progress("1 client: " + std::to_string(ops) + " sequential cas on one key through " + a.address());
  auto one = run_clients(ctx, {a.address()}, 1, ops, "bench:seq:");
  auto p1 = params;
  p1.emplace_back("clients", "1");
  ctx.out.add({"cas", "sequential_ops_per_s", one.ops_per_s, "ops/s", p1, "> 430 ops/s (etcd 3.4 sequential puts)",
               one.ops_per_s > 430});
  ctx.out.add({"cas", "sequential_p50_ms", one.p50, "ms", p1, "", std::nullopt});
  ctx.out.add({"cas", "sequential_p99_ms", one.p99, "ms", p1, "", std::nullopt});

  ctx.progress("16 clients over 3 nodes, one key each: " + std::to_string(ops) + " cas in total");
  auto many = run_clients(ctx, addresses, 16, ops, "bench:par:");
  auto p16 = params;
  p16.emplace_back("clients", "16 (own key each, spread over the 3 nodes)");
  ctx.out.add({"cas", "concurrent16_ops_per_s", many.ops_per_s, "ops/s", p16,
               "> 1200 ops/s (etcd 3.4, 16 in flight)", many.ops_per_s > 1200});
  ctx.out.add({"cas", "concurrent16_p50_ms", many.p50, "ms", p16, "", std::nullopt});
  ctx.out.add({"cas", "concurrent16_p99_ms", many.p99, "ms", p16, "", std::nullopt});
  if (one.conflicts + many.conflicts > 0)
    throw std::runtime_error(std::to_string(one.conflicts + many.conflicts) +
                             " uncontended cas operations reported a conflict");
  stop_all({&a, &b, &c});
}

}  // namespace rumor::cli::bench
