// replicate: two node processes A and B (B joined A). `updates` updates (counter increments and
// 16-byte register sets, alternating, each on its own key) are written to A over one pipelined
// client connection; B's status is polled every 2 ms until it holds every key. Figure: updates /
// (time from the first send until B has them all), as redis.mjs measures Redis replication.
#include <thread>

#include "bench_client.hpp"
#include "bench_observer.hpp"
#include "client/host_port.hpp"
#include "bench_node.hpp"
#include "bench_scenarios.hpp"

namespace rumor::cli::bench {

client::update replicate_update(const std::string& prefix, uint64_t i) {
  std::string key = prefix + std::to_string(i);
  if (i % 2 == 0) return counter_incr(std::move(key));
  char v[32];
  std::snprintf(v, sizeof v, "v%015llu", static_cast<unsigned long long>(i));
  return register_set(std::move(key), v);
}

void run_replicate(context& ctx) {
  const uint64_t n = ctx.opt.updates;
  node_proc a(ctx, "a"), b(ctx, "b");
  std::vector<std::string> http_a, http_b;
  if (ctx.opt.observe) {
    http_a = {"--http", "127.0.0.1:" + std::to_string(client::free_loopback_port())};
    http_b = {"--http", "127.0.0.1:" + std::to_string(client::free_loopback_port())};
  }
  a.start({}, http_a);
  b.start({a.address()}, http_b);
  wait_cluster(ctx, {a.address(), b.address()});
  std::unique_ptr<http_observer> observer;
  if (ctx.opt.observe) observer = std::make_unique<http_observer>(std::vector<std::string>{http_a[1], http_b[1]});
  auto ca = connect(ctx, a.address());
  auto cb = connect(ctx, b.address());
  ctx.progress("writing " + std::to_string(n) + " updates to A " + a.address() + " (window " +
               std::to_string(ctx.opt.window) + "), polling B " + b.address());

  std::atomic<bool> stop{false};
  std::exception_ptr writer_error;
  write_result w;
  double t0 = now_ms();
  std::thread writer([&] {
    try {
      w = pipelined_writes(ctx, ca, n, [](uint64_t i) { return replicate_update("r:", i); }, "writes to A", &stop);
    } catch (...) {
      writer_error = std::current_exception();
    }
  });
  struct joiner {
    std::thread& t;
    std::atomic<bool>& stop;
    ~joiner() {
      stop = true;
      if (t.joinable()) t.join();
    }
  } join_writer{writer, stop};

  uint64_t have = 0;
  double last = now_ms();
  series progress{"replicate_b_keys", {}};
  double took = wait_until(ctx, "B receiving A's updates", [&] {
    if (writer_error) std::rethrow_exception(writer_error);
    have = keys_of(cb);
    double t = now_ms();
    if (t - last >= 1000) {
      last = t;
      progress.points.emplace_back(t - t0, double(have));
      ctx.progress("B has " + std::to_string(have) + "/" + std::to_string(n) + " keys");
    }
    return have >= n;
  });
  (void)took;
  double end_ms = now_ms() - t0;
  writer.join();
  if (writer_error) std::rethrow_exception(writer_error);
  if (w.failed) throw std::runtime_error(std::to_string(w.failed) + " writes to A failed: " + w.first_error);
  progress.points.emplace_back(end_ms, double(have));
  ctx.out.add_series(std::move(progress));
  std::vector<std::pair<std::string, std::string>> params = {
      {"updates", std::to_string(n)}, {"types", "pn_counter+lww_register(16B), one key each"},
      {"window", std::to_string(ctx.opt.window)}, {"durability", ctx.opt.durability},
      {"gossip_interval_ms", std::to_string(ctx.opt.gossip_interval_ms)}, {"poll", "B status every 2 ms"},
      {"observed", ctx.opt.observe ? "yes: /metrics + dashboard polling every 1 s per node" : "no"}};
  if (observer) {
    observer->stop();
    ctx.progress("observer: " + std::to_string(observer->requests()) + " HTTP requests (" +
                 std::to_string(observer->failures()) + " failed), " + std::to_string(observer->scrape_bytes()) +
                 " bytes of /metrics");
    if (observer->requests() == 0 || observer->failures() > 0)
      throw std::runtime_error("--observe: the HTTP endpoints did not answer every request");
  }
  ctx.out.add({"replicate", "end_to_end_updates_per_s", n / (end_ms / 1000), "updates/s", params,
               ">= 500000 updates/s (Redis 7: 350k-700k)", n / (end_ms / 1000) >= 500'000});
  ctx.out.add({"replicate", "a_ingest_ms", w.ms, "ms", params, "", std::nullopt});
  ctx.out.add({"replicate", "b_complete_ms", end_ms, "ms", params, "", std::nullopt});
  ca.close();
  cb.close();
  b.stop();
  a.stop();
}

}  // namespace rumor::cli::bench
