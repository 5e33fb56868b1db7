// Real network partitions between `rumor node` processes (net_lab.hpp: one network namespace per
// node, nftables drop rules): symmetric majority/minority split, one-way (a node hears nobody but
// can send), a bridge node that sees both sides, flapping links, and a split combined with
// kill -9 and restart. During each fault one client per node runs the recorded workload of
// lab_cluster.hpp; after healing, every node must converge, counters must lie in
// [acknowledged, attempted], no acknowledged set element may be lost (nor an acknowledged
// remove undone), and no majority write may be acknowledged by a node cut off from a majority.
// The time from heal to convergence is printed. Needs root; elsewhere each case skips with a
// message. The seed is printed (RUMOR_SEED=... replays the fault schedule).

#include <doctest/doctest.h>

#include <functional>

#include "lab_cluster.hpp"
#include "seed.hpp"

using namespace std::chrono_literals;
using rumor::test::lab_cluster;
using rumor::test::workload;

namespace {

// Starts 5 nodes, runs the workload for 1.5 s healthy, then `faults` (which injects and ends its
// faults, each through w.change()), heals, stops the workload and checks.
void run_scenario(const char* name, const std::function<void(lab_cluster&, workload&, std::mt19937_64&)>& faults) {
  uint64_t seed = rumor::test::seed_for(name);
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  lab_cluster c(5);
  if (!c.lab.ok()) {
    MESSAGE("skipped: " << c.lab.why());
    return;
  }
  for (size_t i = 0; i < c.size(); ++i) REQUIRE_MESSAGE(c.start(i), "node " << i << " did not start");
  workload w(c, seed);
  w.start();
  std::this_thread::sleep_for(1500ms);
  faults(c, w, rng);
  REQUIRE_MESSAGE(w.change([&] { return c.lab.heal(); }), c.lab.why());
  auto healed = std::chrono::steady_clock::now();
  w.stop();
  for (size_t i = 0; i < c.size(); ++i)
    if (!c.nodes[i]->running()) REQUIRE(c.start(i));
  auto took = c.converge(w.keys(), 90s);
  if (!took)
    for (size_t i = 0; i < c.size(); ++i) c.dump_log(i, 30);
  REQUIRE_MESSAGE(took, "the nodes did not converge within 90 s of the heal");
  double heal_to_converged = std::chrono::duration<double>(std::chrono::steady_clock::now() - healed).count();
  MESSAGE(std::string(name) << ": converged " << heal_to_converged << " s after the heal");
  auto finals = c.read_all(0, w.keys());
  REQUIRE(finals);
  w.check(*finals);
  for (auto& n : c.nodes) n->stop();
}

void hold(std::chrono::milliseconds d) { std::this_thread::sleep_for(d); }

}  // namespace

TEST_CASE("partition: majority/minority split of 5 nodes for 12 s, then heal") {
  run_scenario("partition split", [](lab_cluster& c, workload& w, std::mt19937_64&) {
    REQUIRE_MESSAGE(w.change([&] { return c.lab.partition({{0, 1, 2}, {3, 4}}); }), c.lab.why());
    hold(6s);
    // The split is real: each side has set members the other lacks.
    auto a = c.read_all(0, {"s"}), b = c.read_all(4, {"s"});
    REQUIRE(a);
    REQUIRE(b);
    CHECK_MESSAGE(*a != *b, "both sides of the split hold the same set");
    hold(6s);
    CHECK(w.minority_majority_attempts() > 0);
  });
}

TEST_CASE("partition: one-way, a node hears nobody but can send, for 6 s") {
  run_scenario("partition one-way", [](lab_cluster& c, workload& w, std::mt19937_64&) {
    REQUIRE_MESSAGE(w.change([&] { return c.lab.deafen(4); }), c.lab.why());
    hold(6s);
  });
}

TEST_CASE("partition: a bridge node sees both sides of a split for 6 s") {
  run_scenario("partition bridge", [](lab_cluster& c, workload& w, std::mt19937_64&) {
    // Node 2 is on neither side: it talks to both.
    REQUIRE_MESSAGE(w.change([&] { return c.lab.partition({{0, 1}, {3, 4}}); }), c.lab.why());
    hold(6s);
  });
}

TEST_CASE("partition: flapping links, toggled every 0.2-1 s for 8 s") {
  run_scenario("partition flapping", [](lab_cluster& c, workload& w, std::mt19937_64& rng) {
    auto until = std::chrono::steady_clock::now() + 8s;
    size_t toggles = 0;
    for (int step = 0; step < 100 && std::chrono::steady_clock::now() < until; ++step) {
      size_t a = rng() % c.size(), b = rng() % c.size();
      if (a == b) continue;
      bool both = rng() % 2 == 0;  // a two-way or a one-way link fault
      bool blocked = c.lab.is_blocked(a, b);
      REQUIRE_MESSAGE(w.change([&] {
                        if (blocked) return c.lab.unblock(a, b) && (!both || c.lab.unblock(b, a));
                        return c.lab.block(a, b) && (!both || c.lab.block(b, a));
                      }),
                      c.lab.why());
      ++toggles;
      hold(std::chrono::milliseconds(200 + rng() % 800));
    }
    MESSAGE("flapping: " << toggles << " link changes");
    CHECK(toggles > 4);
  });
}

TEST_CASE("partition: split with kill -9 and restart on both sides") {
  run_scenario("partition kill", [](lab_cluster& c, workload& w, std::mt19937_64& rng) {
    REQUIRE_MESSAGE(w.change([&] { return c.lab.partition({{0, 1, 2}, {3, 4}}); }), c.lab.why());
    hold(std::chrono::milliseconds(1500 + rng() % 1000));
    size_t minority = 3 + rng() % 2, majority = rng() % 3;
    c.nodes[minority]->kill_hard();
    c.nodes[majority]->kill_hard();
    hold(1500ms);
    REQUIRE(c.start(minority));  // restarted while the split lasts
    REQUIRE(c.start(majority));
    hold(2s);
  });
}
