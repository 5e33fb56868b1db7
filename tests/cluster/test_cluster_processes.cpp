// Multi-process tests: `rumor node` processes on 127.0.0.1, a seeded random workload through the
// client protocol with kill -9 / restart and SIGSTOP / SIGCONT faults, then convergence and "every
// acknowledged operation is reflected" checks; and hostile connections against a live node.
// The seed is printed (RUMOR_SEED=... replays it).

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>

#include "client/connection.hpp"
#include "client/render.hpp"
#include "crdt/codec.hpp"
#include "processes.hpp"
#include "replication/wire_codec.hpp"
#include "seed.hpp"

using namespace std::chrono_literals;
using rumor::test::cluster_processes;
using rumor::test::node_process;
using rumor::test::temp_dir;

namespace {

struct set_history {
  std::optional<size_t> acked_add;  // op index of the last acknowledged add
  size_t last_remove = 0;           // op index + 1 of the last attempted remove (0: none)
  // A remove that was never acknowledged may take effect at any later time: a frozen node reads
  // it from its socket when it thaws, possibly after a later add reached it, and then removes
  // that add too (it observed it). Seed 12386553571316854613: remove of m3 sent to frozen node 0
  // at op 312, add of m3 acknowledged by node 3 at op 313, node 0 thawed at op 330.
  bool unacked_remove = false;
};

}  // namespace

// The workload of `seed`: 400 operations against 3 or 4 node processes with kill -9, restarts and
// freezes; then every node must converge and keep every acknowledged update.
static void run_workload(uint64_t seed) {
  std::mt19937_64 rng(seed);
  const size_t n = 3 + rng() % 2;
  MESSAGE("nodes: " << n);
  cluster_processes c(n);
  for (size_t i = 0; i < n; ++i) c.start(i);

  const std::vector<std::string> counters = {"c0", "c1", "c2"};
  const std::vector<std::string> sets = {"s0", "s1"};
  std::map<std::string, int64_t> acked_sum, attempted_sum;
  std::map<std::pair<std::string, std::string>, set_history> members;
  std::set<std::string> written_values;
  size_t acked = 0, failed = 0, kills = 0, freezes = 0;

  const size_t ops = 400;
  for (size_t op = 0; op < ops; ++op) {
    // Faults: kill -9 a node, restart dead ones, freeze / thaw.
    if (op % 40 == 20) {
      size_t victim = rng() % n;
      size_t up = 0;
      for (auto& p : c.nodes) up += p->running();
      if (c.nodes[victim]->running() && up > 1) {
        c.nodes[victim]->kill_hard();
        c.conns[victim].reset();
        ++kills;
      }
    }
    if (op % 40 == 35)
      for (size_t i = 0; i < n; ++i)
        if (!c.nodes[i]->running()) c.start(i);
    if (op % 50 == 10) {
      size_t victim = rng() % n;
      if (c.nodes[victim]->running() && !c.frozen[victim]) {
        c.nodes[victim]->freeze();
        c.frozen[victim] = true;
        ++freezes;
      }
    }
    if (op % 50 == 30)
      for (size_t i = 0; i < n; ++i)
        if (c.frozen[i]) {
          c.nodes[i]->thaw();
          c.frozen[i] = false;
        }

    size_t target = rng() % n;
    if (!c.nodes[target]->running()) {
      ++failed;
      continue;
    }
    rumor::client::update u;
    int kind = static_cast<int>(rng() % 10);
    std::string key;
    if (kind < 5) {
      key = counters[rng() % counters.size()];
      u.op = rumor::client::op_kind::counter_add;
      u.type = rumor::crdt::type_tag::pn_counter;
      u.amount = 1 + static_cast<int64_t>(rng() % 5);
      attempted_sum[key] += u.amount;
    } else if (kind < 9) {
      key = sets[rng() % sets.size()];
      std::string m = "m" + std::to_string(rng() % 12);
      bool add = rng() % 3 != 0;
      u.op = add ? rumor::client::op_kind::set_add : rumor::client::op_kind::set_remove;
      u.type = rumor::crdt::type_tag::or_set;
      u.members = {m};
      if (!add) members[{key, m}].last_remove = op + 1;
    } else {
      key = "r0";
      u.op = rumor::client::op_kind::register_set;
      u.type = rumor::crdt::type_tag::lww_register;
      u.value = "v" + std::to_string(op);
      written_values.insert(u.value);
    }
    u.key = key;
    rumor::client::request req;
    req.body = u;
    auto* conn = c.conn(target);
    bool ok = false;
    if (conn) {
      // A frozen node accepts the connection (the kernel does) but never answers: a timeout.
      auto r = conn->call(req, c.frozen[target] ? 300 : 3000);
      ok = r && r->code == rumor::errc::ok;
      if (!r) c.conns[target].reset();
    }
    if (!ok) {
      ++failed;
      if (u.op == rumor::client::op_kind::set_remove) members[{key, u.members[0]}].unacked_remove = true;
      continue;
    }
    ++acked;
    if (u.op == rumor::client::op_kind::counter_add) acked_sum[key] += u.amount;
    if (u.op == rumor::client::op_kind::set_add) members[{key, u.members[0]}].acked_add = op;
  }
  MESSAGE("ops acked " << acked << ", failed/unacknowledged " << failed << ", kills " << kills << ", freezes "
                       << freezes);
  CHECK(acked > ops / 2);

  // Heal: thaw and restart everything.
  for (size_t i = 0; i < n; ++i) {
    if (c.frozen[i]) c.nodes[i]->thaw();
    c.frozen[i] = false;
    if (!c.nodes[i]->running()) c.start(i);
  }

  std::vector<std::string> all_keys = counters;
  all_keys.insert(all_keys.end(), sets.begin(), sets.end());
  all_keys.push_back("r0");
  std::map<std::string, std::string> final_values;
  bool converged = false;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!converged && std::chrono::steady_clock::now() < deadline) {
    converged = true;
    for (const auto& k : all_keys) {
      auto v0 = c.read(0, k);
      if (!v0) {
        converged = false;
        break;
      }
      for (size_t i = 1; i < n && converged; ++i) converged = c.read(i, k) == v0;
      if (!converged) break;
      final_values[k] = *v0;
    }
    if (!converged) std::this_thread::sleep_for(100ms);
  }
  if (!converged)
    for (size_t i = 0; i < n; ++i) c.dump_log(i);
  REQUIRE_MESSAGE(converged, "nodes did not converge within 60 s (seed " << seed << ")");

  for (const auto& k : counters) {
    int64_t v = final_values[k] == "null" ? 0 : std::stoll(final_values[k]);
    CHECK_MESSAGE(v >= acked_sum[k], k << " = " << v << " < acknowledged " << acked_sum[k]);
    CHECK_MESSAGE(v <= attempted_sum[k], k << " = " << v << " > attempted " << attempted_sum[k]);
  }
  for (const auto& [km, h] : members) {
    const auto& [key, m] = km;
    if (h.acked_add && h.last_remove <= *h.acked_add && !h.unacked_remove)
      CHECK_MESSAGE(final_values[key].find("\"" + m + "\"") != std::string::npos,
                    "acknowledged add of " << m << " to " << key << " lost: " << final_values[key]);
  }
  if (final_values["r0"] != "null") {
    std::string v = final_values["r0"];
    CHECK(written_values.count(v.substr(1, v.size() - 2)) == 1);
  }
  for (size_t i = 0; i < n; ++i) CHECK(c.nodes[i]->stop() == 0);
}

TEST_CASE("processes: seeded workload with kill -9, restarts and frozen nodes — all converge, nothing acked is lost") {
  run_workload(rumor::test::seed_for("processes workload"));
}

TEST_CASE("processes: regression seed 12386553571316854613 — an unacknowledged remove applied after a later add") {
  run_workload(12386553571316854613ull);
}

namespace {

// A raw TCP connection for hostile input.
struct raw_socket {
  int fd = -1;
  explicit raw_socket(const std::string& address) {
    auto colon = address.rfind(':');
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
    ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &a.sin_addr);
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      fd = -1;
    }
    timeval tv{0, 200'000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~raw_socket() {
    if (fd >= 0) ::close(fd);
  }
  void send(const std::string& bytes) { (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL); }
  // True iff the node closes the connection within `timeout` (reading and discarding its bytes).
  bool closed_by_peer(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      ssize_t r = ::recv(fd, buf, sizeof buf, 0);
      if (r == 0) return true;
      if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return true;
    }
    return false;
  }
};

std::string hello_frame(const std::string& cluster, bool client) {
  rumor::replication::hello h;
  h.cluster = cluster;
  h.node = client ? 0 : 0x1234;
  h.address = client ? "" : "127.0.0.1:1";
  h.client = client;
  return rumor::replication::encode_message(h);
}

}  // namespace

TEST_CASE("processes: hostile connections are closed — the node keeps serving and loses nothing") {
  uint64_t seed = rumor::test::seed_for("processes hostile");
  std::mt19937_64 rng(seed);
  cluster_processes c(1);
  c.start(0);
  auto* good = c.conn(0);
  REQUIRE(good);
  rumor::client::request req;
  rumor::client::update u;
  u.key = "safe";
  u.op = rumor::client::op_kind::counter_add;
  u.amount = 7;
  req.body = u;
  auto r = good->call(req, 3000);
  REQUIRE(r);
  REQUIRE(r->code == rumor::errc::ok);

  const std::string addr = c.nodes[0]->address();
  SUBCASE("random bytes") {
    raw_socket s(addr);
    std::string junk(4096, '\0');
    for (auto& ch : junk) ch = static_cast<char>(rng());
    s.send(junk);
    CHECK(s.closed_by_peer(5s));
  }
  SUBCASE("an oversized frame header") {
    raw_socket s(addr);
    std::string hdr(8, '\0');
    hdr[4] = hdr[5] = hdr[6] = static_cast<char>(0xff);
    hdr[7] = 0x7f;  // first segment of ~2^31 words
    s.send(hdr);
    CHECK(s.closed_by_peer(5s));
  }
  SUBCASE("a truncated frame, then the client goes away") {
    raw_socket s(addr);
    std::string f = hello_frame("proc-test", false);
    s.send(f.substr(0, f.size() / 2));
  }
  SUBCASE("a hello with the wrong cluster name") {
    raw_socket s(addr);
    s.send(hello_frame("another-cluster", false));
    CHECK(s.closed_by_peer(5s));
  }
  SUBCASE("a client hello followed by a garbage client frame") {
    raw_socket s(addr);
    s.send(hello_frame("", true));
    std::string junk = rumor::replication::encode_message(rumor::replication::ping{1, {}});
    junk[8] ^= 0x5a;
    s.send(junk + std::string(64, '\x01'));
    CHECK(s.closed_by_peer(5s));
  }
  // The node is alive, still serving the good client, and the acknowledged write is intact.
  CHECK(::kill(c.nodes[0]->pid(), 0) == 0);
  rumor::client::request get;
  get.body = rumor::client::get{"safe"};
  auto again = good->call(get, 3000);
  REQUIRE(again);
  REQUIRE(again->values.size() == 1);
  auto v = rumor::crdt::decode(again->values[0].value);
  REQUIRE(v);
  CHECK(rumor::client::render_json(*v) == "7");
  CHECK(c.nodes[0]->stop() == 0);
}
