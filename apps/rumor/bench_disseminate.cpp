// disseminate: for each N in --nodes, N node processes (all joined node 0). Every node has a
// watch on prefix "d:" (one client connection and one thread each, timestamping events as they
// arrive). Sample: one counter increment on a random node (blocking call: acknowledged once
// durable there); latency = last node's event time - the time the request was sent. Samples are
// 100-200 ms apart and never overlap.
// Then the bytes: every node takes its share of 32,000 counter increments (200 keys), pipelined
// on one connection each, all at once; the peer bytes every node wrote (its /metrics
// rumor_network_sent_bytes_total{role="peer"}) from before the load until every node has applied
// every update, per update — pushes, announcements, anti-entropy and membership of that time —
// and, as the parameter by_kind_per_update, those bytes and messages per update by peer message
// kind (rumor_peer_sent_bytes_total, rumor_peer_messages_sent_total).

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "bench_client.hpp"
#include "client/host_port.hpp"
#include "bench_node.hpp"
#include "bench_scenarios.hpp"

namespace rumor::cli::bench {

namespace {

struct arrivals {
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::map<size_t, double>> seen;  // key -> node index -> arrival ms
};

// Peer bytes summed over the nodes' HTTP endpoints: "total" is rumor_network_sent_bytes_total
// {role="peer"} (frames written), KIND rumor_peer_sent_bytes_total{kind=KIND} (messages encoded)
// and "messages KIND" rumor_peer_messages_sent_total{kind=KIND}. Throws std::runtime_error if a
// node does not answer.
std::map<std::string, double> peer_bytes_sent(const std::vector<std::string>& http) {
  const std::string total = "rumor_network_sent_bytes_total{role=\"peer\"}";
  const std::string by_kind = "rumor_peer_sent_bytes_total{kind=\"";
  const std::string msgs_by_kind = "rumor_peer_messages_sent_total{kind=\"";
  std::map<std::string, double> sum;
  for (const auto& a : http) {
    const std::string body = metrics_text(a);
    auto at = metric_value(body, total);
    if (!at) throw std::runtime_error("no peer bytes in the /metrics of " + a);
    sum["total"] += *at;
    for (const auto& [family, prefix] : {std::pair{by_kind, ""}, std::pair{msgs_by_kind, "messages "}})
      for (size_t k = body.find(family); k != std::string::npos; k = body.find(family, k + 1)) {
        const size_t name_at = k + family.size(), name_end = body.find('"', name_at);
        if (name_end == std::string::npos || body.compare(name_end, 2, "\"}") != 0) continue;
        sum[prefix + body.substr(name_at, name_end - name_at)] += std::stod(body.substr(name_end + 3, 32));
      }
  }
  return sum;
}

// Applied updates (local + remote) of every node.
std::vector<uint64_t> applied_counts(std::vector<client::connection>& writers) {
  std::vector<uint64_t> out;
  for (auto& w : writers) {
    auto st = status(w);
    out.push_back(st.local_updates + st.remote_applied);
  }
  return out;
}

void wire_bytes(context& ctx, size_t n, std::vector<client::connection>& writers, const std::vector<std::string>& addrs,
                const std::vector<std::string>& http, const std::vector<std::pair<std::string, std::string>>& params) {
  const uint64_t total = 32'000, share = total / n;
  ctx.progress("N=" + std::to_string(n) + ": bytes of " + std::to_string(share * n) + " updates, " +
               std::to_string(share) + " pipelined on each node");
  auto before = applied_counts(writers);
  const auto bytes0 = peer_bytes_sent(http);
  std::atomic<bool> failed{false};
  std::string why;
  std::mutex why_mu;
  {
    std::vector<std::thread> load;
    for (size_t i = 0; i < n; ++i)
      load.emplace_back([&, i] {
        try {
          auto c = connect(ctx, addrs[i]);
          auto r = pipelined_writes(ctx, c, share, [](uint64_t k) { return counter_incr("b:" + std::to_string(k % 200)); },
                                    "N=" + std::to_string(n) + " bytes load, node " + std::to_string(i));
          if (r.failed) throw std::runtime_error(r.first_error);
        } catch (const std::exception& e) {
          std::lock_guard<std::mutex> lk(why_mu);
          if (!failed.exchange(true)) why = e.what();
        }
      });
    for (auto& t : load) t.join();
  }
  if (failed) throw std::runtime_error("the bytes load failed: " + why);
  wait_until(ctx, "every node applied the load", [&] {
    auto now = applied_counts(writers);
    for (size_t i = 0; i < n; ++i)
      if (now[i] < before[i] + share * n) return false;
    return true;
  }, 20);
  const auto bytes1 = peer_bytes_sent(http);
  const double updates = static_cast<double>(share * n);
  auto delta = [&](const std::string& k) {
    auto b = bytes0.find(k);
    return bytes1.at(k) - (b == bytes0.end() ? 0.0 : b->second);
  };
  const double per_update = delta("total") / updates;
  auto p = params;
  p.push_back({"updates", std::to_string(share * n)});
  p.push_back({"counted", "rumor_network_sent_bytes_total{role=peer}, all nodes, load until all applied"});
  // Where the bytes went: per update, by message kind (the kinds that sent anything), with the
  // messages of that kind per update.
  std::string kinds;
  for (const auto& [k, v] : bytes1) {
    if (k == "total" || k.rfind("messages ", 0) == 0 || delta(k) <= 0) continue;
    const double msgs = bytes1.count("messages " + k) ? delta("messages " + k) : 0;
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s%s %.1f B in %.3f msgs", kinds.empty() ? "" : ", ", k.c_str(),
                  delta(k) / updates, msgs / updates);
    kinds += buf;
  }
  p.push_back({"by_kind_per_update", kinds});
  ctx.out.add({"disseminate", "peer_bytes_per_update_n" + std::to_string(n), per_update, "bytes", p, "", std::nullopt});
  ctx.out.add({"disseminate", "peer_bytes_per_update_per_replica_n" + std::to_string(n),
               per_update / static_cast<double>(n - 1), "bytes", p, "", std::nullopt});
}

void one_size(context& ctx, size_t n) {
  ctx.progress("N=" + std::to_string(n) + ": starting " + std::to_string(n) + " node processes");
  std::vector<std::unique_ptr<node_proc>> nodes;
  std::vector<std::string> addrs, http;
  for (size_t i = 0; i < n; ++i) {
    nodes.push_back(std::make_unique<node_proc>(ctx, "n" + std::to_string(n) + "-" + std::to_string(i)));
    http.push_back("127.0.0.1:" + std::to_string(client::free_loopback_port()));
    nodes.back()->start(i == 0 ? std::vector<std::string>{} : std::vector<std::string>{addrs[0]},
                        {"--http", http.back()});
    addrs.push_back(nodes.back()->address());
  }
  double t_join = now_ms();
  wait_cluster(ctx, addrs);
  ctx.progress("N=" + std::to_string(n) + ": cluster formed in " + fmt(now_ms() - t_join) + " ms; opening watches");

  arrivals arr;
  std::atomic<bool> stop{false};
  std::vector<std::thread> watchers;
  struct joiner {
    std::vector<std::thread>& ts;
    std::atomic<bool>& stop;
    ~joiner() {
      stop = true;
      for (auto& t : ts)
        if (t.joinable()) t.join();
    }
  } join_all{watchers, stop};
  std::atomic<size_t> watching{0};
  std::atomic<size_t> watch_failures{0};
  const auto credentials = ctx.client_credentials();
  for (size_t i = 0; i < n; ++i) {
    watchers.emplace_back([&, i] {
      auto c = client::connection::connect(addrs[i], 5000, credentials);
      if (!c) {
        ++watch_failures;
        return;
      }
      client::request r;
      r.body = client::watch{"d:"};
      auto resp = c->call(r, 5000);
      if (!resp || resp->code != errc::ok) {
        ++watch_failures;
        return;
      }
      ++watching;
      while (!stop) {
        auto m = c->next(50);
        if (!m) {
          ++watch_failures;
          return;
        }
        if (!*m) continue;
        if (auto* e = std::get_if<client::event>(&**m)) {
          double t = now_ms();
          std::lock_guard<std::mutex> lk(arr.mu);
          arr.seen[e->key].emplace(i, t);
          arr.cv.notify_all();
        }
      }
    });
  }
  wait_until(ctx, "watches on every node", [&] {
    if (watch_failures) throw std::runtime_error("a watch connection failed");
    return watching == n;
  }, 5);

  std::vector<client::connection> writers;
  for (auto& a : addrs) writers.push_back(connect(ctx, a));
  std::mt19937_64 rng(n * 7919);
  std::vector<double> lat, from_origin, ack;
  uint64_t incomplete = 0;
  series s{"disseminate_n" + std::to_string(n) + "_ms", {}};
  for (uint64_t k = 0; k < ctx.opt.samples; ++k) {
    std::string key = "d:" + std::to_string(k);
    size_t origin = rng() % n;
    client::request r;
    r.body = counter_incr(key);
    double t0 = now_ms();
    auto resp = writers[origin].call(r, 10'000);
    double t_ack = now_ms();
    if (!resp || resp->code != errc::ok)
      throw std::runtime_error("update on node " + std::to_string(origin) + " failed: " +
                               (resp ? resp->message : resp.err().message));
    std::unique_lock<std::mutex> lk(arr.mu);
    bool all = arr.cv.wait_for(lk, std::chrono::milliseconds(std::min<int64_t>(30'000, std::max<int64_t>(ctx.left_ms(), 1))),
                               [&] { return arr.seen[key].size() >= n; });
    if (!all) {
      ++incomplete;
      ctx.progress("N=" + std::to_string(n) + " sample " + std::to_string(k) + ": only " +
                   std::to_string(arr.seen[key].size()) + "/" + std::to_string(n) + " nodes within 30 s");
      lk.unlock();
      ctx.check("dissemination samples");
      continue;
    }
    double last = 0;
    for (auto& [i, t] : arr.seen[key]) last = std::max(last, t);
    double own = arr.seen[key].count(origin) ? arr.seen[key][origin] : t_ack;
    lk.unlock();
    lat.push_back(last - t0);
    from_origin.push_back(last - own);
    ack.push_back(t_ack - t0);
    s.points.emplace_back(double(k), last - t0);
    if ((k + 1) % 5 == 0 || k + 1 == ctx.opt.samples)
      ctx.progress("N=" + std::to_string(n) + ": " + std::to_string(k + 1) + "/" + std::to_string(ctx.opt.samples) +
                   " samples, last " + fmt(last - t0) + " ms");
    ctx.check("dissemination samples");
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 100));
  }
  std::vector<std::pair<std::string, std::string>> params = {
      {"nodes", std::to_string(n)}, {"samples", std::to_string(lat.size())}, {"incomplete_30s", std::to_string(incomplete)},
      {"durability", ctx.opt.durability}, {"fanout", std::to_string(ctx.opt.fanout)},
      {"gossip_interval_ms", std::to_string(ctx.opt.gossip_interval_ms)}, {"from", "client send"},
      {"to", "last node's watch event"}};
  std::string ns = "_n" + std::to_string(n);
  bool judged = n == 16;
  double p50 = percentile(lat, 50), mx = percentile(lat, 100);
  ctx.out.add({"disseminate", "p50_ms" + ns, p50, "ms", params, judged ? "<= 30 ms at N=16 (serf: 200-330 ms)" : "",
               judged ? std::optional<bool>(p50 <= 30) : std::nullopt});
  ctx.out.add({"disseminate", "p99_ms" + ns, percentile(lat, 99), "ms", params, "", std::nullopt});
  ctx.out.add({"disseminate", "max_ms" + ns, mx, "ms", params, judged ? "<= 300 ms at N=16 (serf: tails of seconds)" : "",
               judged ? std::optional<bool>(mx <= 300 && incomplete == 0) : std::nullopt});
  ctx.out.add({"disseminate", "origin_ack_p50_ms" + ns, percentile(ack, 50), "ms", params, "", std::nullopt});
  ctx.out.add({"disseminate", "from_origin_event_p50_ms" + ns, percentile(from_origin, 50), "ms", params, "", std::nullopt});
  ctx.out.add({"disseminate", "from_origin_event_max_ms" + ns, percentile(from_origin, 100), "ms", params, "", std::nullopt});
  ctx.out.add_series(std::move(s));
  if (n >= 2) wire_bytes(ctx, n, writers, addrs, http, params);
  stop = true;
  for (auto& t : watchers) t.join();
  writers.clear();
  std::vector<node_proc*> all;
  for (auto& nd : nodes) all.push_back(nd.get());
  stop_all(all);
}

}  // namespace

void run_disseminate(context& ctx) {
  for (size_t n : ctx.opt.nodes) one_size(ctx, n);
}

}  // namespace rumor::cli::bench
