// The linearizable compare-and-set lane across a real network partition (net_lab.hpp): 5 voters
// in their own network namespaces, one client per node running lget / cas loops on two keys with
// unique values, the invoke and return of every operation stamped from one clock. A majority /
// minority split for 6 s, then a one-way fault, then heal. The recorded history of each key must
// pass the linearizability checker the simulation uses (tests/replication/linearizability.hpp);
// a timeout is an unknown outcome, `unavailable` certainly not applied. The minority side must
// make no progress while split (its operations time out or are refused). Needs root; elsewhere it
// skips with a message. The seed is printed (RUMOR_SEED=... replays the schedule).

#include <doctest/doctest.h>

#include "lab_cluster.hpp"
#include "replication/linearizability.hpp"
#include "seed.hpp"

using namespace std::chrono_literals;
using rumor::test::lab_cluster;
using rumor::test::lin_op;

namespace {

struct history {
  std::mutex mu;
  std::atomic<uint64_t> clock{0};
  std::map<std::string, std::vector<lin_op>> ops;
  rumor::test::cut_off_tracker cut;      // which clients' nodes are cut off from a majority
  std::vector<uint64_t> ok_while_cut_off;  // lget / cas answered ok while cut off, per client
  std::atomic<uint64_t> sent_while_cut_off{0};
  explicit history(const rumor::test::net_lab& lab) : cut(lab), ok_while_cut_off(lab.size(), 0) {}
  void add(const std::string& key, lin_op op) {
    std::lock_guard<std::mutex> lock(mu);
    ops[key].push_back(std::move(op));
  }
};

void cas_client(lab_cluster& c, size_t i, uint64_t seed, const std::atomic<bool>& stop, history& h) {
  std::mt19937_64 rng(seed);
  const std::vector<std::string> keys = {"k0", "k1"};
  std::optional<rumor::client::connection> conn;
  uint64_t n = 0;
  for (int iter = 0; iter < 20000 && !stop; ++iter) {
    if (!conn || !conn->is_open()) {
      auto cn = c.nodes[i]->connect(300);
      if (!cn) {
        std::this_thread::sleep_for(50ms);
        continue;
      }
      conn = std::move(*cn);
    }
    const std::string& key = keys[rng() % keys.size()];
    lin_op op;
    op.client = i;
    rumor::client::request req;
    req.timeout_ms = 500;
    bool is_read = rng() % 3 == 0;
    std::optional<std::string> expected;
    if (is_read) {
      op.k = lin_op::kind::read;
      req.body = rumor::client::lget{key};
    } else {
      // Expect what this client last saw (or absent): unique desired values keep the search small.
      op.k = lin_op::kind::cas;
      rumor::client::request g;
      g.timeout_ms = 500;
      g.body = rumor::client::lget{key};
      auto read_sent = h.cut.at(i);
      if (read_sent.cut_off) ++h.sent_while_cut_off;
      uint64_t inv = ++h.clock;
      auto r = conn->call(g, 2000);
      if (!r) {
        conn.reset();
        continue;
      }
      if (r->code != rumor::errc::ok) continue;  // a read that failed changed nothing
      if (read_sent.cut_off && h.cut.same_period(read_sent)) {
        std::lock_guard<std::mutex> lock(h.mu);
        ++h.ok_while_cut_off[i];
      }
      lin_op rd;
      rd.client = i;
      rd.k = lin_op::kind::read;
      rd.invoke = inv;
      rd.complete = ++h.clock;
      if (!r->values.empty()) rd.value = r->values.front().value;
      h.add(key, rd);
      expected = rd.value;
      op.expected = expected;
      op.desired = "v" + std::to_string(i) + "-" + std::to_string(n++);
      req.body = rumor::client::cas{key, expected, op.desired};
    }
    auto sent = h.cut.at(i);
    if (sent.cut_off) ++h.sent_while_cut_off;
    op.invoke = ++h.clock;
    auto r = conn->call(req, 2000);
    if (!r) {
      conn.reset();
      if (!is_read) h.add(key, op);  // complete = never: unknown
      continue;
    }
    if (r->code == rumor::errc::ok) {
      op.complete = ++h.clock;
      op.out = lin_op::outcome::ok;
      if (is_read && !r->values.empty()) op.value = r->values.front().value;
      if (sent.cut_off && h.cut.same_period(sent)) {
        std::lock_guard<std::mutex> lock(h.mu);
        ++h.ok_while_cut_off[i];
      }
      h.add(key, op);
    } else if (r->code == rumor::errc::conflict && !is_read) {
      op.complete = ++h.clock;
      op.out = lin_op::outcome::conflict;
      if (!r->values.empty()) op.value = r->values.front().value;
      h.add(key, op);
    } else if (r->code == rumor::errc::timeout && !is_read) {
      op.out = lin_op::outcome::unknown;  // may still take effect
      h.add(key, op);
    }  // unavailable and failed reads: nothing happened
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace

TEST_CASE("partition: the cas lane stays linearizable across a split and a one-way fault") {
  uint64_t seed = rumor::test::seed_for("partition cas");
  INFO("seed " << seed);
  lab_cluster c(5);
  if (!c.lab.ok()) {
    MESSAGE("skipped: " << c.lab.why());
    return;
  }
  std::string voters;
  for (auto& n : c.nodes) voters += (voters.empty() ? "" : ",") + n->address();
  c.extra = {"--cas-voters", voters};
  for (size_t i = 0; i < c.size(); ++i) REQUIRE_MESSAGE(c.start(i), "node " << i << " did not start");
  // The lane needs every voter's id through membership: wait until a cas goes through.
  bool up = rumor::test::eventually_for(20s, [&] {
    auto cn = c.nodes[0]->connect(300);
    if (!cn) return false;
    rumor::client::request w;
    w.timeout_ms = 1000;
    w.body = rumor::client::cas{"warmup", std::nullopt, "1"};
    auto r = cn->call(w, 3000);
    return r && (r->code == rumor::errc::ok || r->code == rumor::errc::conflict);
  });
  REQUIRE_MESSAGE(up, "the cas lane did not come up");

  history h(c.lab);
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (size_t i = 0; i < c.size(); ++i)
    clients.emplace_back(cas_client, std::ref(c), i, seed + i, std::cref(stop), std::ref(h));
  std::this_thread::sleep_for(1500ms);
  REQUIRE_MESSAGE(h.cut.change([&] { return c.lab.partition({{0, 1, 2}, {3, 4}}); }), c.lab.why());
  std::this_thread::sleep_for(6s);
  // Node 1 hears nobody; its packets still leave.
  REQUIRE_MESSAGE(h.cut.change([&] { return c.lab.heal() && c.lab.deafen(1); }), c.lab.why());
  std::this_thread::sleep_for(4s);
  REQUIRE_MESSAGE(h.cut.change([&] { return c.lab.heal(); }), c.lab.why());
  std::this_thread::sleep_for(2s);
  stop = true;
  for (auto& t : clients) t.join();

  size_t total = 0, oks = 0, unknown = 0;
  for (auto& [key, ops] : h.ops) {
    for (const auto& o : ops) {
      oks += o.k == lin_op::kind::cas && o.out == lin_op::outcome::ok;
      unknown += o.out == lin_op::outcome::unknown;
    }
    total += ops.size();
    auto r = rumor::test::check_register(ops);
    INFO("key " << key << ": " << ops.size() << " operations; " << r.explanation);
    CHECK_FALSE(r.gave_up);
    CHECK(r.linearizable);
  }
  for (size_t i = 0; i < c.size(); ++i)
    CHECK_MESSAGE(h.ok_while_cut_off[i] == 0, "node " << i << " acknowledged " << h.ok_while_cut_off[i]
                                                      << " lget / cas operations while cut off from a majority");
  MESSAGE("cas lane: " << total << " operations recorded, " << oks << " acknowledged cas, " << unknown
                       << " unknown outcomes, " << h.sent_while_cut_off.load() << " sent while cut off");
  CHECK(oks > 20);
  CHECK(h.sent_while_cut_off.load() > 0);  // the faults cut clients off
  for (auto& n : c.nodes) n->stop();
}
