// A node whose clock is an hour ahead (libfaketime, Debian `faketime`) in a 3-node cluster on
// loopback. Once membership probes have measured its clock against its peers' (clock_monitor.hpp),
// it refuses local writes with errc::clock_drift, says why in `status` and its log, and the
// others go on; so last-writer-wins cannot be hijacked by its clock (a register written elsewhere
// keeps that value on every node, the skewed one included). Then its clock returns (a restart
// without faketime): it forgets the future position of its HLC (hlc.hpp, rewind_if_ahead),
// accepts writes again, and the cluster converges with every acknowledged update. Skips with a
// message where libfaketime is not installed.

#include <doctest/doctest.h>

#include <fstream>

#include "fault_tools.hpp"
#include "processes.hpp"

using namespace std::chrono_literals;
using rumor::test::cluster_processes;
using rumor::test::faketime_lib;
using rumor::test::register_set;

namespace {

std::optional<rumor::client::node_status> status_of(cluster_processes& c, size_t i) {
  auto* conn = c.conn(i);
  if (!conn) return std::nullopt;
  return rumor::test::status_of(*conn, 3000);
}

std::optional<rumor::client::response> call(cluster_processes& c, size_t i, const rumor::client::request& req) {
  auto* conn = c.conn(i);
  if (!conn) return std::nullopt;
  auto r = conn->call(req, 3000);
  if (!r) return std::nullopt;
  return *r;
}

}  // namespace

TEST_CASE("clock skew: a node an hour ahead refuses writes, cannot hijack last-writer-wins, recovers") {
  const char* lib = faketime_lib();
  if (!lib) {
    MESSAGE("skipped: libfaketime is not installed (scripts/setup installs faketime)");
    return;
  }
  cluster_processes c(3);
  c.nodes[2]->set_env(rumor::test::skewed_clock_env("+1h"));
  for (size_t i = 0; i < 3; ++i) c.start(i);

  int64_t acked = 0;
  auto r0 = call(c, 0, register_set("r", "from-0"));
  REQUIRE(r0);
  REQUIRE(r0->code == rumor::errc::ok);

  // Membership probes measure the skewed clock within a few probe intervals.
  std::optional<rumor::client::node_status> skewed;
  bool detected = rumor::test::eventually_for(30s, [&] {
    skewed = status_of(c, 2);
    return skewed && !skewed->clock_error.empty();
  });
  if (!detected) c.dump_log(2);
  REQUIRE_MESSAGE(detected, "the node an hour ahead never noticed");
  MESSAGE("skewed node's status: " << skewed->clock_error);
  CHECK(skewed->clock_error.find("ahead") != std::string::npos);

  // Its writes are refused, with the reason; the others' are accepted.
  auto refused = call(c, 2, register_set("r", "from-the-future"));
  REQUIRE(refused);
  CHECK(refused->code == rumor::errc::clock_drift);
  CHECK(refused->message.find("ahead") != std::string::npos);
  auto inc_refused = call(c, 2, rumor::test::counter_add("n", 1));
  REQUIRE(inc_refused);
  CHECK(inc_refused->code == rumor::errc::clock_drift);
  for (size_t i = 0; i < 2; ++i) {
    auto s = status_of(c, i);
    REQUIRE(s);
    CHECK_MESSAGE(s->clock_error.empty(), "node " << i << ": " << s->clock_error);
    auto r = call(c, i, rumor::test::counter_add("n", 1));
    REQUIRE(r);
    REQUIRE(r->code == rumor::errc::ok);
    ++acked;
  }
  auto later = call(c, 1, register_set("r", "from-1"));
  REQUIRE(later);
  REQUIRE(later->code == rumor::errc::ok);

  // Every node, the skewed one included, holds node 1's write: its clock hijacked nothing.
  bool agreed = rumor::test::eventually_for(20s, [&] {
    for (size_t i = 0; i < 3; ++i)
      if (c.read(i, "r") != std::optional<std::string>("\"from-1\"")) return false;
    return true;
  });
  CHECK_MESSAGE(agreed, "r: " << c.read(0, "r").value_or("?") << " / " << c.read(1, "r").value_or("?") << " / "
                              << c.read(2, "r").value_or("?"));
  {
    // The node logs the refusal at its next tick (every 50 ms here), which may come after all of
    // the above when dissemination is quick: wait for it, bounded.
    bool logged = rumor::test::eventually_for(5s, [&] {
      std::ifstream log(c.dir.path + "/n2.log");
      std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
      return text.find("local writes are refused") != std::string::npos;
    });
    CHECK_MESSAGE(logged, "the skewed node did not log it");
  }

  // The clock returns: restart without faketime. Writes are accepted again and everything converges.
  c.conns[2].reset();
  CHECK(c.nodes[2]->stop() == 0);
  c.nodes[2]->set_env({});
  c.start(2);
  bool accepted = rumor::test::eventually_for(20s, [&] {
    auto r = call(c, 2, rumor::test::counter_add("n", 1));
    return r && r->code == rumor::errc::ok;
  });
  REQUIRE_MESSAGE(accepted, "the node with a correct clock still refuses writes");
  ++acked;
  auto fixed = call(c, 2, register_set("r", "from-2"));
  REQUIRE(fixed);
  REQUIRE(fixed->code == rumor::errc::ok);
  bool converged = rumor::test::eventually_for(20s, [&] {
    for (size_t i = 0; i < 3; ++i)
      if (c.read(i, "r") != std::optional<std::string>("\"from-2\"") ||
          c.read(i, "n") != std::optional<std::string>(std::to_string(acked)))
        return false;
    return true;
  });
  CHECK_MESSAGE(converged, "n: " << c.read(0, "n").value_or("?") << " / " << c.read(1, "n").value_or("?") << " / "
                                 << c.read(2, "n").value_or("?") << ", r: " << c.read(2, "r").value_or("?"));
  for (auto& n : c.nodes) n->stop();
}
