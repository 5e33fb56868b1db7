// Multi-process test of the linearizable compare-and-set lane: 3 and 5 `rumor node` processes
// (every one a voter), concurrent clients doing cas-increment loops on a few keys through random
// nodes while nodes are killed (-9) and restarted (never more than a minority down at once).
// Checks: no two acknowledged cas operations moved a key from the same value (each ok is a
// distinct step n -> n+1), every acknowledged step is at or below the final value, the final
// value lies in [acknowledged, acknowledged + unknown outcomes] — equal to the number of
// successful cas operations when no outcome was left unknown — and every node reads the same.
// The seed is printed (RUMOR_SEED=... replays the fault schedule).

#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "processes.hpp"
#include "seed.hpp"

using namespace std::chrono_literals;
using rumor::test::cluster_processes;

namespace {

struct key_log {
  std::set<uint64_t> acked;  // new values of acknowledged cas operations
  uint64_t ok = 0;
  uint64_t unknown = 0;      // timeouts and lost connections after the request was sent
  uint64_t duplicates = 0;   // an ok for a value already acknowledged: a lost update
};

std::optional<uint64_t> parse_count(const std::optional<std::string>& v) {
  if (!v) return 0;
  try {
    return std::stoull(*v);
  } catch (...) {
    return std::nullopt;
  }
}

// One client's cas-increment loop: read (lget) through a random node, cas n -> n+1.
void client_loop(const std::vector<std::string>& addresses, const std::vector<std::string>& keys, uint64_t seed,
                 std::chrono::steady_clock::time_point until, std::map<std::string, key_log>& logs,
                 std::mutex& mu, std::atomic<uint64_t>& conflicts) {
  std::mt19937_64 rng(seed);
  for (int iter = 0; iter < 5000 && std::chrono::steady_clock::now() < until; ++iter) {
    const std::string& key = keys[rng() % keys.size()];
    auto conn = rumor::client::connection::connect(addresses[rng() % addresses.size()], 300);
    if (!conn) {
      std::this_thread::sleep_for(20ms);
      continue;
    }
    rumor::client::request get;
    get.timeout_ms = 2000;
    get.body = rumor::client::lget{key};
    auto r = conn->call(get, 4000);
    if (!r || r->code != rumor::errc::ok) continue;
    std::optional<std::string> cur;
    if (!r->values.empty()) cur = r->values.front().value;
    auto n = parse_count(cur);
    if (!n) {
      std::lock_guard<std::mutex> lock(mu);
      CHECK_MESSAGE(false, "unparsable value '" << *cur << "' for " << key);
      return;
    }
    rumor::client::request cas;
    cas.timeout_ms = 2000;
    cas.body = rumor::client::cas{key, cur, std::to_string(*n + 1)};
    auto c = conn->call(cas, 4000);
    std::lock_guard<std::mutex> lock(mu);
    auto& log = logs[key];
    if (!c) {
      ++log.unknown;  // sent, and the node went away: either outcome is possible
    } else if (c->code == rumor::errc::ok) {
      ++log.ok;
      if (!log.acked.insert(*n + 1).second) ++log.duplicates;
    } else if (c->code == rumor::errc::conflict) {
      ++conflicts;
    } else if (c->code == rumor::errc::timeout) {
      ++log.unknown;
    }  // unavailable: certainly not applied
  }
}

void run_cas_workload(size_t n_nodes, const char* seed_name) {
  uint64_t seed = rumor::test::seed_for(seed_name);
  std::mt19937_64 rng(seed);
  cluster_processes c(n_nodes);
  std::string voters;
  std::vector<std::string> addresses;
  for (const auto& p : c.nodes) {
    voters += (voters.empty() ? "" : ",") + p->address();
    addresses.push_back(p->address());
  }
  c.extra = {"--cas-voters", voters};
  for (size_t i = 0; i < n_nodes; ++i) c.start(i);

  // The lane needs every voter's id through gossip membership: wait until a cas goes through.
  bool lane_up = rumor::test::eventually_for(20s, [&] {
    auto conn = rumor::client::connection::connect(addresses[0], 300);
    if (!conn) return false;
    rumor::client::request w;
    w.timeout_ms = 1000;
    w.body = rumor::client::cas{"warmup", std::nullopt, "1"};
    auto r = conn->call(w, 3000);
    return r && (r->code == rumor::errc::ok || r->code == rumor::errc::conflict);
  });
  REQUIRE_MESSAGE(lane_up, "the cas lane did not come up on " << voters);

  const std::vector<std::string> keys = {"k0", "k1", "k2"};
  std::map<std::string, key_log> logs;
  std::mutex mu;
  std::atomic<uint64_t> conflicts{0};
  auto until = std::chrono::steady_clock::now() + 9s;
  std::vector<std::thread> clients;
  for (uint64_t t = 0; t < 6; ++t)
    clients.emplace_back(client_loop, std::cref(addresses), std::cref(keys), seed + 100 + t, until, std::ref(logs),
                         std::ref(mu), std::ref(conflicts));

  // Faults: kill -9 a random node, restart it a little later; at most a minority down at once.
  size_t max_down = (n_nodes - 1) / 2;
  std::vector<size_t> down;
  size_t kills = 0;
  for (int step = 0; step < 40 && std::chrono::steady_clock::now() < until; ++step) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 500));
    if (!down.empty() && (down.size() >= max_down || rng() % 2 == 0)) {
      size_t i = down.front();
      down.erase(down.begin());
      c.start(i);
    } else {
      size_t i = rng() % n_nodes;
      if (std::find(down.begin(), down.end(), i) != down.end()) continue;
      c.nodes[i]->kill_hard();
      down.push_back(i);
      ++kills;
    }
  }
  for (auto& t : clients) t.join();
  for (size_t i : down) c.start(i);

  // Final values, read linearizably through every node: all equal.
  uint64_t total_ok = 0, total_unknown = 0;
  for (const auto& key : keys) {
    std::optional<uint64_t> first;
    for (size_t i = 0; i < n_nodes; ++i) {
      std::optional<uint64_t> got;
      bool read = rumor::test::eventually_for(20s, [&] {
        auto conn = rumor::client::connection::connect(addresses[i], 500);
        if (!conn) return false;
        rumor::client::request g;
        g.timeout_ms = 2000;
        g.body = rumor::client::lget{key};
        auto r = conn->call(g, 4000);
        if (!r || r->code != rumor::errc::ok) return false;
        std::optional<std::string> v;
        if (!r->values.empty()) v = r->values.front().value;
        got = parse_count(v);
        return got.has_value();
      });
      REQUIRE_MESSAGE(read, "node " << i << " gave no linearizable read of " << key);
      if (!first) first = got;
      CHECK_MESSAGE(*got == *first, key << ": node " << i << " reads " << *got << ", node 0 read " << *first);
    }
    const auto& log = logs[key];
    uint64_t final_value = *first;
    INFO("seed " << seed << ", " << n_nodes << " nodes, key " << key << ": final " << final_value << ", " << log.ok
                 << " acknowledged, " << log.unknown << " unknown");
    CHECK(log.duplicates == 0);
    CHECK(final_value >= log.ok);
    CHECK(final_value <= log.ok + log.unknown);
    if (!log.acked.empty()) CHECK(*log.acked.rbegin() <= final_value);
    total_ok += log.ok;
    total_unknown += log.unknown;
  }
  MESSAGE("seed " << seed << ": " << n_nodes << " nodes, " << kills << " kills, " << total_ok
                  << " acknowledged cas, " << conflicts.load() << " conflicts, " << total_unknown << " unknown");
  CHECK(total_ok > 20);  // the workload made progress through the faults
  CHECK(kills > 0);
  for (size_t i = 0; i < n_nodes; ++i) c.nodes[i]->stop();
}

}  // namespace

TEST_CASE("cas processes: 3 nodes, cas-increment loops under kill -9 and restarts lose nothing") {
  run_cas_workload(3, "cas processes 3");
}

TEST_CASE("cas processes: 5 nodes, cas-increment loops under kill -9 and restarts lose nothing") {
  run_cas_workload(5, "cas processes 5");
}
