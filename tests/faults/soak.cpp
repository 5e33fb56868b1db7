// soak: a long randomized fault run against a 5-node cluster in network namespaces (net_lab.hpp),
// for `scripts/soak MINUTES` (not in CI: run by hand before a release or after a risky change).
// Rounds of 20-40 s, each: the recorded workload of lab_cluster.hpp on every node while one
// randomly chosen fault plays out — a majority/minority split, a one-way fault, a bridge node,
// flapping links, kill -9 and restart, SIGSTOP/SIGCONT, a node an hour ahead (libfaketime), a
// full disk (node 4's data directory is on its own small tmpfs, filled by a ballast file) — then
// heal, convergence (bounded) and the workload's invariants. Prints a line per round and per
// minute, and a final summary line; exits non-zero if any round failed.
// Duration: RUMOR_SOAK_MINUTES (default 10). Seed: RUMOR_SEED (printed). Needs root.

#include <doctest/doctest.h>

#include "fault_tools.hpp"
#include "lab_cluster.hpp"
#include "seed.hpp"

using namespace std::chrono_literals;
using rumor::test::lab_cluster;
using rumor::test::workload;
using rumor::test::faketime_lib;

TEST_CASE("soak: randomized faults against 5 nodes (scripts/soak)") {
  double minutes = 10;
  if (const char* m = std::getenv("RUMOR_SOAK_MINUTES"); m && *m) minutes = std::atof(m);
  uint64_t seed = rumor::test::seed_for("soak");
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  lab_cluster c(5);
  REQUIRE_MESSAGE(c.lab.ok(), "soak needs root: " << c.lab.why());
  // Node 4's data directory on a 256 MiB tmpfs of its own, for the full-disk fault.
  const std::string small = c.dir.path + "/n4";
  rumor::test::small_fs small_fs(small, 256);
  REQUIRE_MESSAGE(small_fs.mounted, small_fs.why);
  for (size_t i = 0; i < c.size(); ++i) REQUIRE(c.start(i));

  const std::vector<std::string> kinds = {"split", "one-way", "bridge", "flapping", "kill", "freeze", "clock", "disk"};
  std::map<std::string, int> done;
  auto start = std::chrono::steady_clock::now();
  auto end = start + std::chrono::milliseconds(static_cast<int64_t>(minutes * 60'000));
  int rounds = 0, failed_rounds = 0, last_minute = 0;
  double worst_converge = 0;
  while (std::chrono::steady_clock::now() < end && rounds < 100000) {
    ++rounds;
    std::string kind = kinds[rng() % kinds.size()];
    if (kind == "clock" && !faketime_lib()) kind = "kill";
    workload w(c, rng(), "-" + std::to_string(rounds));
    w.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(2000 + rng() % 3000));
    auto fault_for = std::chrono::milliseconds(8000 + rng() % 20000);
    size_t victim = rng() % c.size();
    if (kind == "split") {
      std::vector<size_t> order = {0, 1, 2, 3, 4};
      std::shuffle(order.begin(), order.end(), rng);
      w.change([&] { return c.lab.partition({{order[0], order[1], order[2]}, {order[3], order[4]}}); });
      std::this_thread::sleep_for(fault_for);
    } else if (kind == "one-way") {
      w.change([&] { return c.lab.deafen(victim); });
      std::this_thread::sleep_for(fault_for);
    } else if (kind == "bridge") {
      std::vector<size_t> others;
      for (size_t i = 0; i < c.size(); ++i)
        if (i != victim) others.push_back(i);
      w.change([&] { return c.lab.partition({{others[0], others[1]}, {others[2], others[3]}}); });
      std::this_thread::sleep_for(fault_for);
    } else if (kind == "flapping") {
      auto until = std::chrono::steady_clock::now() + fault_for;
      for (int s = 0; s < 200 && std::chrono::steady_clock::now() < until; ++s) {
        size_t a = rng() % c.size(), b = rng() % c.size();
        if (a != b) {
          bool blocked = c.lab.is_blocked(a, b);
          w.change([&] { return blocked ? c.lab.unblock(a, b) : c.lab.block(a, b); });
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 800));
      }
    } else if (kind == "kill") {
      c.nodes[victim]->kill_hard();
      std::this_thread::sleep_for(fault_for / 2);
      c.start(victim);
      std::this_thread::sleep_for(fault_for / 2);
    } else if (kind == "freeze") {
      c.nodes[victim]->freeze();
      std::this_thread::sleep_for(fault_for);
      c.nodes[victim]->thaw();
    } else if (kind == "clock") {
      c.nodes[victim]->stop();
      c.nodes[victim]->set_env(rumor::test::skewed_clock_env("+1h"));
      c.start(victim);
      std::this_thread::sleep_for(fault_for);
      c.nodes[victim]->stop();
      c.nodes[victim]->set_env({});
      c.start(victim);
    } else if (kind == "disk") {
      rumor::test::fill_ballast(small + "/ballast", 512);
      std::this_thread::sleep_for(fault_for);
      std::filesystem::remove(small + "/ballast");
    }
    w.change([&] { return c.lab.heal(); });
    w.stop();
    for (size_t i = 0; i < c.size(); ++i)
      if (!c.nodes[i]->running()) c.start(i);
    auto took = c.converge(w.keys(), 120s);
    bool ok = took.has_value();
    if (ok) {
      worst_converge = std::max(worst_converge, *took);
      auto finals = c.read_all(0, w.keys());
      ok = finals.has_value();
      if (ok) w.check(*finals);
    }
    CHECK_MESSAGE(ok, "round " << rounds << " (" << kind << "): no convergence within 120 s");
    if (!ok) ++failed_rounds;
    ++done[kind];
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "[soak] %6.1f s  round %d  %-8s  converged %s\n", elapsed, rounds, kind.c_str(),
                 took ? (std::to_string(*took) + " s after heal").c_str() : "NO");
    if (static_cast<int>(elapsed / 60) > last_minute) {
      last_minute = static_cast<int>(elapsed / 60);
      std::fprintf(stderr, "[soak] minute %d: %d rounds, %d without convergence\n", last_minute, rounds, failed_rounds);
    }
  }
  std::string summary;
  for (const auto& [k, n] : done) summary += " " + k + "=" + std::to_string(n);
  std::fprintf(stderr, "[soak] summary: seed %llu, %.1f min, %d rounds (%s), %d without convergence, slowest %.1f s\n",
               static_cast<unsigned long long>(seed), minutes, rounds, summary.c_str() + 1, failed_rounds,
               worst_converge);
  for (auto& n : c.nodes) n->stop();
}
