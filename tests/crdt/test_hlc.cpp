// Hybrid logical clock rules (Kulkarni et al.): monotonic, causal, bounded drift.
#include <doctest/doctest.h>

#include <random>

#include "crdt/hlc.hpp"
#include "seed.hpp"

using namespace rumor;
using namespace rumor::crdt;

TEST_CASE("hlc: local events follow physical time and stay monotonic when it stalls or goes back") {
  hlc_clock c;
  auto t1 = c.now(1000);
  CHECK(t1.physical_ms() == 1000);
  CHECK(t1.logical() == 0);
  auto t2 = c.now(1000);  // same millisecond -> logical tick
  CHECK(t2.physical_ms() == 1000);
  CHECK(t2.logical() == 1);
  auto t3 = c.now(900);  // physical clock went backwards
  CHECK(t3 > t2);
  CHECK(t3.physical_ms() == 1000);
  auto t4 = c.now(1001);
  CHECK(t4.physical_ms() == 1001);
  CHECK(t4.logical() == 0);
}

TEST_CASE("hlc: receive merges the remote timestamp") {
  hlc_clock a, b;
  auto sent = a.now(5000);
  auto got = b.update(sent, 4990);  // b's clock is 10 ms behind
  REQUIRE(got.has_value());
  CHECK(*got > sent);
  CHECK(got->physical_ms() == 5000);
  CHECK(got->logical() == sent.logical() + 1);
  auto next = b.now(4991);
  CHECK(next > *got);
  // Remote behind local: local wins, logical ticks.
  hlc_clock c;
  auto local = c.now(8000);
  auto r = c.update(hlc_timestamp::make(7000, 3), 8000);
  REQUIRE(r.has_value());
  CHECK(r->physical_ms() == 8000);
  CHECK(r->logical() == local.logical() + 1);
}

TEST_CASE("hlc: a remote timestamp beyond max drift is refused with clock_drift, clock unchanged") {
  hlc_clock c{/*max_drift_ms=*/500};
  auto before = c.now(10'000);
  auto r = c.update(hlc_timestamp::make(10'501, 0), 10'000);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.err().code == errc::clock_drift);
  CHECK(r.err().message.find("501 ms ahead") != std::string::npos);
  CHECK(c.last() == before);
  auto ok = c.update(hlc_timestamp::make(10'500, 0), 10'000);  // exactly at the bound
  REQUIRE(ok.has_value());
  CHECK(ok->physical_ms() == 10'500);
}

TEST_CASE("hlc: logical overflow within one millisecond moves to the next millisecond") {
  hlc_clock c;
  c.restore(hlc_timestamp::make(100, hlc_timestamp::logical_mask));
  auto t = c.now(100);
  CHECK(t.physical_ms() == 101);
  CHECK(t.logical() == 0);
}

TEST_CASE("hlc: random message exchange keeps causality (send < receive) and drift bounded") {
  uint64_t seed = test::seed_for("hlc causality");
  INFO("RUMOR_SEED=" << seed);
  std::mt19937_64 rng(seed);
  constexpr int n = 5;
  std::vector<hlc_clock> clocks(n);
  std::vector<int64_t> skew(n);
  for (auto& s : skew) s = static_cast<int64_t>(rng() % 200);  // per-node clock skew, ms
  uint64_t real = 1'000'000;
  std::vector<hlc_timestamp> last(n);
  for (int step = 0; step < 20'000; ++step) {
    real += rng() % 3;
    int from = static_cast<int>(rng() % n), to = static_cast<int>(rng() % n);
    auto sent = clocks[from].now(real + skew[from]);
    CHECK(sent > last[from]);
    last[from] = sent;
    auto got = clocks[to].update(sent, real + skew[to]);
    REQUIRE(got.has_value());
    CHECK(*got > sent);
    CHECK(*got > last[to]);
    last[to] = *got;
    // Never further ahead of the fastest physical clock than logical ticks allow.
    CHECK(got->physical_ms() <= real + 200);
  }
}
