// Periodic pulls leave the newest deltas to the pushes (PROTOCOL.md, "Periodic pulls leave the
// newest deltas to the pushes"; replica_config::entropy_settle_ms). Two simulated nodes; every
// push to node 1 is lost and lazy announcements are off, so node 1 gets node 0's update only by
// pulling it (a periodic round every 20 ms). With the cap, no periodic pull carries the update
// before it has been at node 0 for entropy_settle_ms; without it, the first round does. A pull
// that is not periodic (a restarted node's first) gets it at once, cap or not.
#include <doctest/doctest.h>

#include "seed.hpp"
#include "sim.hpp"

using namespace rumor;
using namespace rumor::sim;

namespace {

mutator increment_by(uint64_t n) {
  return [n](crdt::value& v, node_id self, crdt::hlc_timestamp) -> result<crdt::value> {
    return crdt::value{*v.get_if<crdt::pn_counter>()->increment(self, n)};
  };
}

int64_t counter_at(simulation& s, size_t i, const std::string& key) {
  auto v = s.values(i, key);
  return v.empty() ? 0 : v[0].get_if<crdt::pn_counter>()->value();
}

// Milliseconds from node 0's update until node 1 holds it through pulls alone (checked every
// simulated millisecond), or nullopt if not within 2 s. `restart`: node 1 restarts just after
// the update (its first pull is not periodic).
std::optional<uint64_t> pulled_after(uint64_t seed, uint64_t settle_ms, bool restart = false) {
  auto cfg = sim_config::quick_probes(2);
  cfg.replica.entropy_settle_ms = settle_ms;
  cfg.replica.gossip_interval_ms = 20;
  cfg.replica.lazy_interval_ms = 0;
  simulation s(seed, cfg);
  s.start_all();
  REQUIRE(s.run_until([&] { return s.all_live_members_alive() && s.all_bootstrapped(); }, 30'000));
  s.run_for(500);
  s.drop_kind(1, "push");
  s.update(0, "fresh", crdt::type_tag::pn_counter, increment_by(1), consistency::local, 5'000, nullptr);
  REQUIRE(counter_at(s, 0, "fresh") == 1);
  if (restart) {
    s.crash(1);
    s.restart(1);
    s.drop_kind(1, "push");
  }
  for (uint64_t ms = 1; ms <= 2'000; ++ms) {
    s.run_for(1);
    if (counter_at(s, 1, "fresh") == 1) return ms;
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("entropy settle: a pull carries a delta only once it has been at the responder for entropy_settle_ms") {
  uint64_t seed = test::seed_for("entropy settle");
  INFO("RUMOR_SEED=" << seed);
  // No cap: the first pull after the update brings it (pull every 20 ms, latency 1-10 ms each
  // way, a tick of 10 ms).
  auto uncapped = pulled_after(seed, 0);
  REQUIRE(uncapped);
  CHECK(*uncapped <= 20 + 10 + 2 * 10 + 10);
  // 100 ms: never sooner than that, and within a few pulls after (snapshots every 25 ms, taken
  // at ticks).
  auto capped = pulled_after(seed, 100);
  REQUIRE(capped);
  CHECK(*capped > 100);
  CHECK(*capped <= 100 + 25 + 10 + 20 + 10 + 2 * 10 + 10);
  MESSAGE("node 1 pulled the update after " << *uncapped << " ms without the cap, " << *capped << " ms with 100 ms");
}

TEST_CASE("entropy settle: a restarted node's first pull is not capped") {
  uint64_t seed = test::seed_for("entropy settle first pull");
  INFO("RUMOR_SEED=" << seed);
  auto ms = pulled_after(seed, 100, true);
  REQUIRE(ms);
  CHECK(*ms <= 2 * 10 + 10);  // one round trip after the restart, not 100 ms
  MESSAGE("the restarted node pulled the update after " << *ms << " ms");
}
