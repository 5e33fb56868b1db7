// membership (SWIM + Lifeguard) tests: merge-rule and single-instance unit tests, then cluster
// behaviour in a small deterministic network simulator (virtual clock, seeded latency, loss,
// duplication, reordering, crashes, partitions, slow nodes). Every randomized test prints its seed;
// RUMOR_SEED=<n> reproduces it, and RUMOR_SIM_TRACE=1 prints every status / incarnation change.

#include <doctest/doctest.h>
#include <rapidcheck.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "replication/membership.hpp"
#include "seed.hpp"

using namespace rumor::replication;

namespace {

const char* name(member_status s) {
  switch (s) {
    case member_status::alive: return "alive";
    case member_status::suspect: return "suspect";
    case member_status::dead: return "dead";
    case member_status::left: return "left";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// Simulator: N membership instances, node i has id i + 1 and address "n<i>".

struct net_config {
  uint64_t step_ms = 10;  // virtual clock step; every up node ticks once per step
  uint64_t min_latency_ms = 1;
  uint64_t max_latency_ms = 30;  // uniform latency in [min, max]: reorders messages
  double loss = 0.0;             // each message is dropped with this probability
  double dup = 0.0;              // ... and delivered twice with this one
};

struct event {
  uint64_t t = 0;
  size_t observer = 0;
  member_update u;
};

class sim {
 public:
  sim(size_t n, uint64_t seed, net_config net = {}, membership_config cfg = {})
      : rng_(seed), net_(net), cfg_(cfg) {
    for (size_t i = 0; i < n; ++i) {
      nodes_.emplace_back();
      nodes_[i].m = std::make_unique<membership>(id_of(i), addr_of(i), rng_(), cfg_);
    }
  }

  static node_id id_of(size_t i) { return i + 1; }
  static std::string addr_of(size_t i) { return "n" + std::to_string(i); }
  size_t size() const { return nodes_.size(); }
  uint64_t now() const { return now_; }
  membership& at(size_t i) { return *nodes_[i].m; }
  bool up(size_t i) const { return nodes_[i].up; }
  const std::vector<event>& events() const { return events_; }
  const std::map<node_id, member_update>& persisted(size_t i) const { return nodes_[i].persisted; }
  uint32_t max_health(size_t i) const { return nodes_[i].max_health; }
  uint64_t delivered() const { return delivered_; }

  // Node `seed` starts alone; every other node joins through it (at `stagger_ms` intervals).
  void join_all(size_t seed = 0, uint64_t stagger_ms = 0) {
    join(seed, {});
    for (size_t i = 0; i < size(); ++i) {
      if (i == seed) continue;
      if (stagger_ms) run_for(stagger_ms);
      join(i, {addr_of(seed)});
    }
  }
  void join(size_t i, std::vector<std::string> seeds) {
    outbox out;
    at(i).start_join(std::move(seeds), now_, out);
    dispatch(i, out);
  }
  void leave(size_t i) {
    outbox out;
    at(i).leave(now_, out);
    dispatch(i, out);
  }

  // A crashed node neither sends, receives nor ticks; messages in flight to it are lost.
  void crash(size_t i) { nodes_[i].up = false; }
  // Restarts node i as a new instance restored from what its owner persisted (take_changes).
  void restart(size_t i, std::vector<std::string> seeds) {
    node& n = nodes_[i];
    n.m = std::make_unique<membership>(id_of(i), addr_of(i), rng_(), cfg_);
    std::vector<member_update> table;
    for (const auto& [id, u] : n.persisted) table.push_back(u);
    REQUIRE(n.m->restore(table));
    n.up = true;
    join(i, std::move(seeds));
  }
  void set_group(size_t i, int g) { nodes_[i].group = g; }
  void heal() {
    for (auto& n : nodes_) n.group = 0;
  }
  // Every message node i sends takes `ms` longer (a slow, overloaded node).
  void set_extra_delay(size_t i, uint64_t ms) { nodes_[i].extra_delay_ms = ms; }
  // Deliver a forged message (tests of refutation).
  void inject(size_t from, size_t to, message msg) { enqueue(from, to, std::move(msg), now_); }

  void step() {
    now_ += net_.step_ms;
    while (!flight_.empty() && flight_.top().at <= now_) {
      in_flight f = flight_.top();
      flight_.pop();
      node& dst = nodes_[f.to];
      if (!dst.up || !nodes_[f.from].up || dst.group != nodes_[f.from].group) continue;
      outbox out;
      dst.m->step(id_of(f.from), f.msg, f.at, out);
      ++delivered_;
      dispatch(f.to, out, f.at);
    }
    for (size_t i = 0; i < size(); ++i) {
      if (!nodes_[i].up) continue;
      outbox out;
      nodes_[i].m->tick(now_, out);
      dispatch(i, out);
    }
    for (size_t i = 0; i < size(); ++i) drain(i);
  }
  void run_for(uint64_t ms) {
    const uint64_t end = now_ + ms;
    while (now_ < end) step();
  }
  // Steps until pred() holds (checked after every step); returns the elapsed time, or nullopt
  // after max_ms.
  std::optional<uint64_t> run_until(const std::function<bool()>& pred, uint64_t max_ms) {
    const uint64_t start = now_;
    while (now_ - start < max_ms) {
      step();
      if (pred()) return now_ - start;
    }
    return std::nullopt;
  }

  // Observer i's view of node j has status s.
  bool sees(size_t i, size_t j, member_status s) {
    const member_update* u = at(i).find(id_of(j));
    return u && u->status == s;
  }
  // Every up node sees every other up node alive.
  bool converged() {
    for (size_t i = 0; i < size(); ++i) {
      if (!up(i)) continue;
      for (size_t j = 0; j < size(); ++j)
        if (j != i && up(j) && !sees(i, j, member_status::alive)) return false;
    }
    return true;
  }
  // Every up node other than j sees j with status s.
  bool all_see(size_t j, member_status s) {
    for (size_t i = 0; i < size(); ++i)
      if (i != j && up(i) && !sees(i, j, s)) return false;
    return true;
  }
  // Number of suspect events observed by node i about others.
  size_t accusations_by(size_t i) const {
    return std::count_if(events_.begin(), events_.end(), [&](const event& e) {
      return e.observer == i && e.u.status == member_status::suspect;
    });
  }
  // Number of events in which someone marked node j with status s.
  size_t count_events(size_t j, member_status s) const {
    return std::count_if(events_.begin(), events_.end(),
                         [&](const event& e) { return e.u.id == id_of(j) && e.u.status == s; });
  }

 private:
  struct node {
    std::unique_ptr<membership> m;
    bool up = true;
    int group = 0;
    uint64_t extra_delay_ms = 0;
    std::map<node_id, member_update> persisted;
    uint32_t max_health = 0;
  };
  struct in_flight {
    uint64_t at = 0;
    uint64_t seq = 0;
    size_t from = 0;
    size_t to = 0;
    message msg;
    bool operator>(const in_flight& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };

  std::optional<size_t> resolve(const outgoing& o) const {
    if (o.to != 0) {
      if (o.to <= size()) return o.to - 1;
      return std::nullopt;
    }
    if (o.address.size() < 2 || o.address[0] != 'n') return std::nullopt;
    const size_t i = std::stoul(o.address.substr(1));
    return i < size() ? std::optional<size_t>(i) : std::nullopt;
  }
  void enqueue(size_t from, size_t to, message msg, uint64_t t) {
    std::uniform_int_distribution<uint64_t> lat(net_.min_latency_ms, net_.max_latency_ms);
    flight_.push(in_flight{t + lat(rng_) + nodes_[from].extra_delay_ms, seq_++, from, to, std::move(msg)});
  }
  void dispatch(size_t from, outbox& out, std::optional<uint64_t> t = {}) {
    std::uniform_real_distribution<double> coin(0.0, 1.0);
    for (auto& o : out) {
      const auto to = resolve(o);
      if (!to) continue;
      if (coin(rng_) < net_.loss) continue;
      if (coin(rng_) < net_.dup) enqueue(from, *to, o.msg, t.value_or(now_));
      enqueue(from, *to, std::move(o.msg), t.value_or(now_));
    }
    out.clear();
  }
  // Acts as the owner: persists take_changes() and logs status changes.
  void drain(size_t i) {
    node& n = nodes_[i];
    if (!n.up) return;
    n.max_health = std::max(n.max_health, n.m->local_health());
    membership_changes c = n.m->take_changes();
    for (auto& u : c.updated) {
      auto it = n.persisted.find(u.id);
      const bool status_changed = it == n.persisted.end() || it->second.status != u.status;
      const bool incarnation_changed = it == n.persisted.end() || it->second.incarnation != u.incarnation;
      if (status_changed && u.status != member_status::alive && u.id != id_of(i)) events_.push_back({now_, i, u});
      if (trace_ && (status_changed || incarnation_changed))
        std::fprintf(stderr, "[trace] t=%llu n%zu: n%llu %s@%llu (health %u)\n", static_cast<unsigned long long>(now_), i,
                     static_cast<unsigned long long>(u.id - 1), name(u.status),
                     static_cast<unsigned long long>(u.incarnation), n.m->local_health());
      n.persisted[u.id] = u;
    }
    for (node_id id : c.removed) n.persisted.erase(id);
  }

  bool trace_ = std::getenv("RUMOR_SIM_TRACE") != nullptr;  // print every status change
  std::mt19937_64 rng_;
  net_config net_;
  membership_config cfg_;
  std::vector<node> nodes_;
  std::priority_queue<in_flight, std::vector<in_flight>, std::greater<>> flight_;
  uint64_t seq_ = 0;
  uint64_t now_ = 0;
  uint64_t delivered_ = 0;
  std::vector<event> events_;
};

member_update mu(node_id id, uint64_t inc, member_status s, std::string addr = "") {
  return member_update{id, std::move(addr), inc, s};
}

// Feeds one gossip update to `m` as if piggybacked on a ping from `from`.
void gossip(membership& m, node_id from, member_update u, uint64_t now = 0) {
  outbox out;
  m.step(from, ping{0, {std::move(u)}}, now, out);
}


}  // namespace

// =============================================================================================
// Merge rules and single-instance behaviour

TEST_CASE("membership: merge rule — incarnation first, then severity") {
  CHECK(supersedes(mu(1, 2, member_status::alive), mu(1, 1, member_status::dead)));
  CHECK(supersedes(mu(1, 2, member_status::alive), mu(1, 1, member_status::left)));
  CHECK_FALSE(supersedes(mu(1, 1, member_status::left), mu(1, 2, member_status::alive)));
  CHECK(supersedes(mu(1, 1, member_status::suspect), mu(1, 1, member_status::alive)));
  CHECK(supersedes(mu(1, 1, member_status::dead), mu(1, 1, member_status::suspect)));
  CHECK(supersedes(mu(1, 1, member_status::left), mu(1, 1, member_status::dead)));
  CHECK_FALSE(supersedes(mu(1, 1, member_status::alive), mu(1, 1, member_status::suspect)));
  CHECK_FALSE(supersedes(mu(1, 1, member_status::dead), mu(1, 1, member_status::left)));
  for (auto s : {member_status::alive, member_status::suspect, member_status::dead, member_status::left})
    CHECK_FALSE(supersedes(mu(1, 3, s), mu(1, 3, s)));  // idempotent: nothing changes
}

TEST_CASE("membership: merging gossip about another member") {
  membership m(1, "n0", 7);
  gossip(m, 9, mu(2, 5, member_status::alive, "n1"));
  REQUIRE(m.find(2));
  CHECK(m.find(2)->incarnation == 5);
  CHECK(m.find(2)->address == "n1");

  SUBCASE("stale (lower incarnation) updates are ignored") {
    gossip(m, 9, mu(2, 4, member_status::dead));
    CHECK(m.find(2)->status == member_status::alive);
    CHECK(m.find(2)->incarnation == 5);
  }
  SUBCASE("equal incarnation: more severe wins, less severe is ignored") {
    gossip(m, 9, mu(2, 5, member_status::suspect));
    CHECK(m.find(2)->status == member_status::suspect);
    gossip(m, 9, mu(2, 5, member_status::alive));
    CHECK(m.find(2)->status == member_status::suspect);
    gossip(m, 9, mu(2, 6, member_status::alive));  // the member's own refutation
    CHECK(m.find(2)->status == member_status::alive);
    CHECK(m.find(2)->incarnation == 6);
  }
  SUBCASE("left stays left; only a higher incarnation (a restart) brings it back") {
    gossip(m, 9, mu(2, 6, member_status::left));
    CHECK(m.find(2)->status == member_status::left);
    gossip(m, 9, mu(2, 6, member_status::alive));
    gossip(m, 9, mu(2, 6, member_status::dead));
    CHECK(m.find(2)->status == member_status::left);
    CHECK(m.voting_members() == std::vector<node_id>{1});
    CHECK(m.live_peers().empty());
    gossip(m, 9, mu(2, 7, member_status::alive));
    CHECK(m.find(2)->status == member_status::alive);
    CHECK(m.voting_members() == std::vector<node_id>{1, 2});
  }
  SUBCASE("dead members count for quorums until reaped") {
    gossip(m, 9, mu(2, 5, member_status::dead));
    CHECK(m.voting_members() == std::vector<node_id>{1, 2});
    CHECK(m.live_peers().empty());
  }
  SUBCASE("a higher incarnation may move the address (restart elsewhere)") {
    gossip(m, 9, mu(2, 5, member_status::alive, "elsewhere"));
    CHECK(m.find(2)->address == "n1");
    gossip(m, 9, mu(2, 6, member_status::alive, "elsewhere"));
    CHECK(m.find(2)->address == "elsewhere");
  }
  SUBCASE("id 0 is ignored") {
    gossip(m, 9, mu(0, 1, member_status::alive));
    CHECK(m.find(0) == nullptr);
    CHECK(m.members().size() == 2);
  }
}

TEST_CASE("membership: a suspected or dead node refutes with a higher incarnation") {
  membership m(1, "n0", 7);
  outbox out;
  m.start_join({}, 0, out);
  CHECK(m.joined());
  CHECK(m.local_health() == 0);
  gossip(m, 2, mu(1, 0, member_status::suspect));
  CHECK(m.self().status == member_status::alive);
  CHECK(m.self().incarnation == 1);
  CHECK(m.local_health() == 1);  // Lifeguard: having to refute is a sign of our own trouble
  gossip(m, 2, mu(1, 4, member_status::dead));
  CHECK(m.self().status == member_status::alive);
  CHECK(m.self().incarnation == 5);
  gossip(m, 2, mu(1, 5, member_status::alive));  // our own news coming back: nothing to do
  CHECK(m.self().incarnation == 5);
  // Whoever still believes a refuted accusation is told directly.
  out.clear();
  m.step(3, ack{999, 3, {mu(1, 4, member_status::dead)}}, 0, out);
  REQUIRE(out.size() >= 1);
  CHECK(out[0].to == 3);
  CHECK(std::get<ping>(out[0].msg).probe == 0);
  CHECK(std::get<ping>(out[0].msg).gossip == std::vector<member_update>{mu(1, 5, member_status::alive, "n0")});
  CHECK(m.self().incarnation == 5);
  // The refutation is gossiped on the next message.
  out.clear();
  m.step(2, ping{42, {}}, 0, out);
  REQUIRE(out.size() == 1);
  const auto* a = std::get_if<ack>(&out[0].msg);
  REQUIRE(a);
  CHECK(a->probe == 42);
  CHECK(a->target == 1);
  CHECK(out[0].to == 2);
  CHECK(std::find(a->gossip.begin(), a->gossip.end(), mu(1, 5, member_status::alive, "n0")) != a->gossip.end());
}

TEST_CASE("membership: unknown senders, stray acks, non-membership messages") {
  membership m(1, "n0", 7);
  outbox out;
  CHECK(m.step(77, ping{3, {}}, 0, out));  // never heard of 77: still answered ...
  REQUIRE(out.size() == 2);
  CHECK(out[0].to == 77);
  CHECK(std::get<ack>(out[0].msg).probe == 3);
  CHECK(out[1].to == 77);  // ... and asked for its table: gossip about 77 never reached us
  CHECK(std::get<join_request>(out[1].msg).self == m.self());
  out.clear();
  CHECK(m.step(77, ack{12345, 77, {}}, 10, out));  // no such probe; no second pull this interval
  CHECK(m.step(77, ack{0, 0, {}}, 20, out));
  CHECK(out.empty());
  CHECK_FALSE(m.step(77, push{}, 0, out));
  CHECK_FALSE(m.step(0, ping{1, {}}, 0, out));
  CHECK(out.empty());
  CHECK(m.members().size() == 1);
}

TEST_CASE("membership: dead members are probed one per interval, round robin, and a message from one starts an exchange at once") {
  membership_config cfg;
  cfg.dead_probe_interval_ms = 500;
  cfg.sync_interval_ms = 0;  // only the dead probing sends full tables here
  membership m(1, "n0", 7, cfg);
  outbox out;
  m.start_join({}, 0, out);
  auto exchanges = [&](uint64_t from_ms, uint64_t to_ms) {
    std::vector<node_id> to;
    for (uint64_t t = from_ms; t <= to_ms; t += 10) {
      outbox o;
      m.tick(t, o);
      for (auto& g : o)
        if (std::holds_alternative<join_response>(g.msg)) to.push_back(g.to);
    }
    return to;
  };
  CHECK(exchanges(0, 3'000).empty());  // nobody dead: nothing sent
  gossip(m, 2, mu(2, 1, member_status::alive, "n2"), 3'000);
  gossip(m, 3, mu(3, 1, member_status::alive, "n3"), 3'000);
  gossip(m, 5, mu(5, 1, member_status::alive, "n5"), 3'000);
  gossip(m, 5, mu(2, 1, member_status::dead, "n2"), 3'000);
  gossip(m, 5, mu(3, 1, member_status::dead, "n3"), 3'000);
  // Two dead members: one exchange per 500 ms, taking turns; the live one is never probed.
  auto to = exchanges(3'010, 6'000);
  REQUIRE(to.size() >= 5);
  CHECK(to.size() <= 7);
  for (size_t i = 1; i < to.size(); ++i) CHECK(to[i] != to[i - 1]);
  for (node_id n : to) CHECK((n == 2 || n == 3));
  // A membership message from a member held dead: a full-state exchange with it at once (one
  // per probe interval), which tells it it was declared dead.
  gossip(m, 5, mu(7, 1, member_status::alive, "n7"), 6'000);
  gossip(m, 5, mu(7, 1, member_status::dead, "n7"), 6'000);
  out.clear();
  m.step(7, ping{0, {}}, 6'001, out);
  REQUIRE(out.size() == 2);
  CHECK(out[0].to == 7);
  CHECK(out[0].address == "n7");
  const auto* table = std::get_if<join_response>(&out[0].msg);
  REQUIRE(table);
  CHECK(std::find(table->members.begin(), table->members.end(), mu(7, 1, member_status::dead, "n7")) != table->members.end());
  CHECK(std::holds_alternative<join_request>(out[1].msg));
  out.clear();
  m.step(7, ping{0, {}}, 6'100, out);
  CHECK(out.empty());
}

TEST_CASE("membership: ping_req relays are bounded and relay the ack") {
  membership_config cfg;
  cfg.max_pending_relays = 2;
  membership m(1, "n0", 7, cfg);
  outbox out;
  gossip(m, 2, mu(2, 0, member_status::alive, "n1"));
  gossip(m, 2, mu(3, 0, member_status::alive, "n2"));
  for (uint64_t p = 1; p <= 5; ++p) m.step(2, ping_req{p, 3, "n2", {}}, 0, out);
  REQUIRE(out.size() == 2);  // only two relays in flight
  const auto first = std::get<ping>(out[0].msg);
  CHECK(out[0].to == 3);
  CHECK(out[0].address == "n2");
  out.clear();
  m.step(3, ack{first.probe, 3, {}}, 10, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].to == 2);
  CHECK(std::get<ack>(out[0].msg).probe == 1);
  CHECK(std::get<ack>(out[0].msg).target == 3);
  out.clear();
  m.step(3, ack{first.probe, 3, {}}, 20, out);  // duplicate ack: already relayed
  CHECK(out.empty());
  m.tick(100'000, out);  // relays expire
  out.clear();
  m.step(2, ping_req{9, 3, "n2", {}}, 100'000, out);
  CHECK(out.size() == 1);
}

TEST_CASE("membership: join through a seed, retry, bounded attempts") {
  membership_config cfg;
  cfg.join_max_attempts = 3;
  cfg.sync_interval_ms = 0;
  membership m(2, "n1", 7, cfg);
  outbox out;
  m.start_join({"n0", "n1", "n0"}, 0, out);  // own address and duplicates are skipped
  CHECK_FALSE(m.joined());
  REQUIRE(out.size() == 1);
  CHECK(out[0].to == 0);
  CHECK(out[0].address == "n0");
  CHECK(std::get<join_request>(out[0].msg).self == mu(2, 0, member_status::alive, "n1"));
  size_t requests = 1;
  for (uint64_t t = 100; t <= 10'000; t += 100) {
    out.clear();
    m.tick(t, out);
    for (auto& o : out) requests += std::holds_alternative<join_request>(o.msg) ? 1 : 0;
  }
  CHECK(requests == 3);

  // The seed answers with its table; the joiner adopts it.
  membership seed(1, "n0", 8);
  seed.start_join({}, 0, out);
  out.clear();
  seed.step(2, join_request{m.self()}, 0, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].to == 2);
  CHECK(seed.find(2));
  m.step(1, out[0].msg, 10'000, out);
  CHECK(m.joined());
  REQUIRE(m.find(1));
  CHECK(m.find(1)->status == member_status::alive);
  CHECK(m.voting_members() == std::vector<node_id>{1, 2});
}

TEST_CASE("membership: restore bumps the incarnation — only before start") {
  membership m(1, "n0", 7);
  CHECK(m.restore({mu(1, 4, member_status::dead, "n0"), mu(2, 3, member_status::suspect, "n1"),
                   mu(3, 1, member_status::dead, "n2")}));
  CHECK(m.self().incarnation == 5);
  CHECK(m.self().status == member_status::alive);
  CHECK(m.find(2)->status == member_status::alive);
  CHECK(m.find(3)->status == member_status::dead);
  auto changes = m.take_changes();
  CHECK(changes.updated.size() == 3);
  CHECK(m.take_changes().empty());
  outbox out;
  m.tick(0, out);
  CHECK_FALSE(m.restore({}));
  CHECK_FALSE(membership(1, "n0", 7).restore({mu(0, 1, member_status::alive)}));
}

TEST_CASE("membership: validate config") {
  CHECK(validate(membership_config{}));
  membership_config c;
  c.probe_timeout_ms = c.probe_interval_ms;
  CHECK_FALSE(validate(c));
  c = {};
  c.max_gossip_per_message = 0;
  CHECK_FALSE(validate(c));
}

TEST_CASE("membership: merge is order-independent (property)") {
  // Without timers, the table after merging a set of updates is the per-member maximum under
  // (incarnation, severity), whatever the order and duplication.
  rc::check("any order converges", [](const std::vector<std::tuple<uint8_t, uint8_t, uint8_t>>& raw) {
    std::vector<member_update> us;
    for (auto [id, inc, st] : raw) us.push_back(mu(2 + id % 4, inc % 5, static_cast<member_status>(st % 4), "a"));
    auto shuffled = us;
    std::mt19937_64 r(us.size());
    std::shuffle(shuffled.begin(), shuffled.end(), r);
    membership a(1, "n0", 1), b(1, "n0", 2);
    for (auto& u : us) gossip(a, 9, u);
    for (auto& u : shuffled) gossip(b, 9, u), gossip(b, 9, u);
    RC_ASSERT(a.members() == b.members());
  });
}

// =============================================================================================
// Cluster behaviour in the simulator

namespace {

uint64_t join_and_converge(sim& s, uint64_t bound_ms) {
  s.join_all();
  const auto t = s.run_until([&] { return s.converged(); }, bound_ms);
  if (!t) {
    for (size_t i = 0; i < s.size(); ++i)
      for (size_t j = 0; j < s.size(); ++j)
        if (i != j && !s.sees(i, j, member_status::alive)) {
          const member_update* u = s.at(i).find(sim::id_of(j));
          std::fprintf(stderr, "  n%zu sees n%zu: %s\n", i, j, u ? name(u->status) : "unknown");
        }
  }
  REQUIRE_MESSAGE(t, "no convergence within " << bound_ms << " ms");
  return *t;
}

}  // namespace

TEST_CASE("membership sim: N nodes joining through one seed all see each other alive") {
  const uint64_t seed = rumor::test::seed_for("membership join");
  INFO("RUMOR_SEED=" << seed);
  net_config net;
  net.loss = 0.01;
  net.dup = 0.01;
  for (const auto& [n, bound_ms] : std::vector<std::pair<size_t, uint64_t>>{{5, 5'000}, {16, 10'000}, {64, 20'000}}) {
    sim s(n, seed + n, net);
    const uint64_t t = join_and_converge(s, bound_ms);
    std::fprintf(stderr, "[measured] join of %zu nodes through one seed: all alive everywhere after %llu ms\n", n,
                 static_cast<unsigned long long>(t));
    CHECK(s.count_events(0, member_status::dead) == 0);
  }
}

TEST_CASE("membership sim: a crashed node becomes suspect, then dead everywhere") {
  const uint64_t seed = rumor::test::seed_for("membership crash");
  INFO("RUMOR_SEED=" << seed);
  net_config net;
  net.loss = 0.01;
  for (size_t n : {8, 32}) {
    sim s(n, seed + n, net);
    join_and_converge(s, 60'000);
    s.run_for(5'000);
    const size_t victim = n / 2;
    s.crash(victim);
    const uint64_t crashed_at = s.now();
    const auto first_suspect = s.run_until([&] {
      for (size_t i = 0; i < n; ++i)
        if (i != victim && !s.sees(i, victim, member_status::alive)) return true;
      return false;
    }, 30'000);
    REQUIRE(first_suspect);
    const auto all_dead = s.run_until([&] { return s.all_see(victim, member_status::dead); }, 60'000);
    REQUIRE(all_dead);
    const uint64_t total = s.now() - crashed_at;
    std::fprintf(stderr,
                 "[measured] crash detection, %zu nodes: first suspicion after %llu ms, dead everywhere after %llu ms\n",
                 n, static_cast<unsigned long long>(*first_suspect), static_cast<unsigned long long>(total));
    CHECK(total <= 30'000);
    for (size_t j = 0; j < n; ++j)
      if (j != victim) CHECK(s.count_events(j, member_status::dead) == 0);
    // The dead member still counts for quorums until it is reaped.
    CHECK(s.at(0).voting_members().size() == n);
  }
}

namespace {

struct loss_stats {
  size_t suspicions = 0;
  uint32_t max_health = 0;
};

// 8 nodes, 10% loss, 2% duplication, 1-50 ms latency, 10 virtual minutes: no node is ever
// declared dead, and every suspicion is refuted.
loss_stats check_no_false_positives(uint64_t seed) {
  INFO("reproduce: RUMOR_SEED=" << seed);
  net_config net;
  net.loss = 0.10;
  net.dup = 0.02;
  net.max_latency_ms = 50;
  sim s(8, seed, net);
  join_and_converge(s, 30'000);
  s.run_for(10 * 60'000);
  loss_stats st;
  for (size_t j = 0; j < s.size(); ++j) {
    CHECK(s.count_events(j, member_status::dead) == 0);
    st.suspicions += s.count_events(j, member_status::suspect);
    st.max_health = std::max(st.max_health, s.max_health(j));
  }
  CHECK(s.run_until([&] { return s.converged(); }, 60'000));  // suspicions in progress end
  return st;
}

// 8 nodes; every message node 3 sends takes 3 x probe_timeout longer for 5 minutes. Nobody is
// declared dead, the slow node's local health rises (and falls back once it is fast again).
void check_slow_node(uint64_t seed) {
  INFO("reproduce: RUMOR_SEED=" << seed);
  net_config net;
  net.loss = 0.01;
  sim s(8, seed, net);
  join_and_converge(s, 30'000);
  const size_t slow = 3;
  s.set_extra_delay(slow, 3 * membership_config{}.probe_timeout_ms);
  const size_t before = s.accusations_by(slow);
  s.run_for(60'000);
  const size_t first_minute = s.accusations_by(slow) - before;
  s.run_for(3 * 60'000);
  const size_t mid = s.accusations_by(slow);
  s.run_for(60'000);
  const size_t last_minute = s.accusations_by(slow) - mid;
  for (size_t j = 0; j < s.size(); ++j) CHECK(s.count_events(j, member_status::dead) == 0);
  CHECK(s.max_health(slow) >= 1);  // measured: 2..8, mostly 8
  std::fprintf(stderr,
               "[measured] slow node (+1.5 s on everything it sends, 5 min): its max local health %u (others' max "
               "%u); it suspected others %zu times in the first minute, %zu in the last; it was suspected %zu "
               "times (events), refuted each; 0 deaths\n",
               s.max_health(slow), s.max_health(0), first_minute, last_minute,
               s.count_events(slow, member_status::suspect));
  s.set_extra_delay(slow, 0);
  REQUIRE(s.run_until([&] { return s.converged(); }, 30'000));
  s.run_for(60'000);
  CHECK(s.at(slow).local_health() <= 1);
}

// Node 1 tells node 2 that node 5 is suspect; node 5 refutes and ends alive, with a higher
// incarnation, everywhere.
uint64_t check_refutation(uint64_t seed) {
  INFO("reproduce: RUMOR_SEED=" << seed);
  net_config net;
  net.loss = 0.05;
  sim s(8, seed, net);
  join_and_converge(s, 30'000);
  const size_t victim = 5;
  const uint64_t before = s.at(victim).self().incarnation;
  s.inject(1, 2, ping{0, {mu(sim::id_of(victim), before, member_status::suspect, sim::addr_of(victim))}});
  REQUIRE(s.run_until([&] { return s.sees(2, victim, member_status::suspect); }, 1'000));
  const auto t = s.run_until([&] {
    if (!s.converged()) return false;
    for (size_t i = 0; i < s.size(); ++i)
      if (s.at(i).find(sim::id_of(victim))->incarnation <= before) return false;
    return true;
  }, 20'000);
  REQUIRE(t);
  CHECK(s.at(victim).self().incarnation > before);
  CHECK(s.count_events(victim, member_status::dead) == 0);
  return *t;
}

}  // namespace

TEST_CASE("membership sim: no false positives under 10% loss (Lifeguard)") {
  const uint64_t base = rumor::test::seed_for("membership loss");
  loss_stats total;
  for (uint64_t k = 0; k < 50; ++k) {
    const loss_stats st = check_no_false_positives(base + k);
    total.suspicions += st.suspicions;
    total.max_health = std::max(total.max_health, st.max_health);
  }
  std::fprintf(stderr,
               "[measured] 50 runs x 10 min, 8 nodes, 10%% loss: 0 false deaths, %zu suspect events (all refuted), "
               "max local health %u\n",
               total.suspicions, total.max_health);
}

TEST_CASE("membership sim: a slow node raises its local health and does not make the cluster flap") {
  check_slow_node(rumor::test::seed_for("membership slow"));
}

TEST_CASE("membership sim: a falsely suspected node refutes and ends alive everywhere") {
  const uint64_t t = check_refutation(rumor::test::seed_for("membership refute"));
  std::fprintf(stderr, "[measured] false suspicion refuted everywhere after %llu ms\n",
               static_cast<unsigned long long>(t));
}

// Seeds that failed while this was developed, kept as regressions (the scenario in the comment
// is what the seed exposed at the time).
TEST_CASE("membership sim regression: seeds that once failed") {
  // The accuser never heard the refutation: piggyback-only gossip ran out of retransmissions.
  check_no_false_positives(11953754774728612983ull);
  // A joiner never learnt of a later joiner until the 30 s sync (fixed: pull on unknown sender).
  check_no_false_positives(1567543925576907153ull);
  check_no_false_positives(13516813254654802541ull);
  // The slow node itself was declared dead: confirmations shrank the timeout to min before its
  // (delayed) refutation arrived (fixed: gossip rounds, telling the suspect at once).
  check_slow_node(9092009959580333825ull);
  check_slow_node(16879968051632717428ull);
  // Again, when the accuser's only buddy ping was lost and nobody else talked to the suspect for
  // 3.3 s: confirmations arriving then took the (old) suspicion straight to its deadline (fixed:
  // accusers repeat the buddy ping every probe interval, membership::remind_suspects).
  check_slow_node(1899804691891000174ull);
  // One node kept the pre-refutation incarnation (fixed: every message carries the receiver's
  // entry, stale news is corrected directly).
  check_refutation(10593650849833553971ull);
  check_refutation(14870774442302439066ull);
  check_refutation(11528056716729300032ull);
}

TEST_CASE("membership sim: graceful leave") {
  const uint64_t seed = rumor::test::seed_for("membership leave");
  INFO("RUMOR_SEED=" << seed);
  net_config net;
  net.loss = 0.05;
  sim s(8, seed, net);
  join_and_converge(s, 30'000);
  const size_t leaver = 6;
  s.leave(leaver);
  CHECK(s.at(leaver).has_left());
  const auto t = s.run_until([&] { return s.all_see(leaver, member_status::left); }, 10'000);
  REQUIRE(t);
  std::fprintf(stderr, "[measured] leave known everywhere after %llu ms\n", static_cast<unsigned long long>(*t));
  CHECK(*t <= 5'000);
  s.crash(leaver);  // the process exits
  s.run_for(60'000);
  CHECK(s.all_see(leaver, member_status::left));
  CHECK(s.count_events(leaver, member_status::dead) == 0);
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == leaver) continue;
    const auto v = s.at(i).voting_members();
    CHECK(v.size() == s.size() - 1);
    CHECK(std::find(v.begin(), v.end(), sim::id_of(leaver)) == v.end());
  }
}

TEST_CASE("membership sim: restart with restore() rejoins with a higher incarnation") {
  const uint64_t seed = rumor::test::seed_for("membership restart");
  INFO("RUMOR_SEED=" << seed);
  net_config net;
  net.loss = 0.02;
  for (bool wait_for_death : {false, true}) {
    CAPTURE(wait_for_death);
    sim s(8, seed + wait_for_death, net);
    join_and_converge(s, 30'000);
    const size_t r = 4;
    // What the owner persisted from take_changes() equals the table.
    std::vector<member_update> persisted;
    for (const auto& [id, u] : s.persisted(r)) persisted.push_back(u);
    CHECK(persisted == s.at(r).snapshot());
    const uint64_t before = s.at(r).self().incarnation;
    s.crash(r);
    if (wait_for_death) REQUIRE(s.run_until([&] { return s.all_see(r, member_status::dead); }, 60'000));
    else s.run_for(500);
    s.restart(r, {sim::addr_of(0)});
    CHECK(s.at(r).self().incarnation == before + 1);
    const auto t = s.run_until([&] {
      if (!s.converged()) return false;
      for (size_t i = 0; i < s.size(); ++i)
        if (s.at(i).find(sim::id_of(r))->incarnation <= before) return false;
      return true;
    }, 60'000);
    REQUIRE(t);
    std::fprintf(stderr, "[measured] restart (%s): alive everywhere again after %llu ms\n",
                 wait_for_death ? "after being declared dead" : "before detection",
                 static_cast<unsigned long long>(*t));
    for (size_t i = 0; i < s.size(); ++i) CHECK(s.at(i).find(sim::id_of(r))->incarnation > before);
  }
}

TEST_CASE("membership sim: partition, both sides declare the other dead, heal, all alive again") {
  const uint64_t seed = rumor::test::seed_for("membership partition");
  INFO("RUMOR_SEED=" << seed);
  net_config net;
  net.loss = 0.01;
  struct split_case {
    const char* name;
    size_t b_from, b_to;  // side B is nodes [b_from, b_to); node 0 is every node's seed
    uint64_t reap_ms;
  };
  // 5|5 heals through the periodic sync with a dead member. With fast reaping both sides forget
  // each other: a lone node seeing no live peer retries its seed; if the lone node is the seed,
  // the others retry it because it is a seed that is not a live member.
  const std::vector<split_case> cases{{"5|5", 5, 10, 24ull * 3600 * 1000},
                                      {"9|1, reaped", 9, 10, 20'000},
                                      {"1 (the seed)|9, reaped", 1, 10, 20'000}};
  for (const auto& c : cases) {
    CAPTURE(c.name);
    membership_config cfg;
    cfg.reap_dead_after_ms = c.reap_ms;
    sim s(10, seed + c.b_from, net, cfg);
    join_and_converge(s, 30'000);
    auto side = [&](size_t i) { return i >= c.b_from && i < c.b_to; };
    for (size_t i = 0; i < 10; ++i) s.set_group(i, side(i) ? 1 : 0);
    auto split_seen = [&] {
      for (size_t i = 0; i < 10; ++i)
        for (size_t j = 0; j < 10; ++j)
          if (side(i) != side(j) && !s.sees(i, j, member_status::dead) && s.at(i).find(sim::id_of(j)))
            return false;  // neither dead nor already reaped
      return true;
    };
    // A lone node's failing probes raise its local health, which slows its probing (up to 9 s
    // per probe): it takes a while to have accused everyone.
    const auto split = s.run_until(split_seen, 180'000);
    REQUIRE(split);
    // Each side stays healthy internally.
    for (size_t i = 0; i < 10; ++i)
      for (size_t j = 0; j < 10; ++j)
        if (i != j && side(i) == side(j)) CHECK(s.sees(i, j, member_status::alive));
    if (c.reap_ms < 60'000) {
      s.run_for(c.reap_ms + 5'000);
      for (size_t i = 0; i < 10; ++i) {
        const size_t own_side = std::count_if(s.persisted(i).begin(), s.persisted(i).end(), [&](const auto& kv) {
          return side(kv.first - 1) == side(i);
        });
        CHECK(s.at(i).members().size() == own_side);  // the other side is reaped ...
        CHECK(s.persisted(i).size() == own_side);     // ... and take_changes() reported it
      }
    }
    s.heal();
    const auto healed = s.run_until([&] { return s.converged(); }, 120'000);
    REQUIRE(healed);
    CHECK(s.at(0).voting_members().size() == 10);
    std::fprintf(stderr,
                 "[measured] partition %s: other side dead everywhere after %llu ms; after heal all alive after "
                 "%llu ms\n",
                 c.name, static_cast<unsigned long long>(*split), static_cast<unsigned long long>(*healed));
  }
}

TEST_CASE("membership sim: joiners retry until the seed is up") {
  const uint64_t seed = rumor::test::seed_for("membership seed down");
  INFO("RUMOR_SEED=" << seed);
  sim s(5, seed);
  s.crash(0);
  for (size_t i = 1; i < 5; ++i) s.join(i, {sim::addr_of(0)});
  s.run_for(5'000);
  for (size_t i = 1; i < 5; ++i) CHECK_FALSE(s.at(i).joined());
  s.restart(0, {});
  const auto t = s.run_until([&] { return s.converged(); }, 5'000);
  REQUIRE(t);
  for (size_t i = 0; i < 5; ++i) CHECK(s.at(i).joined());
}

TEST_CASE("membership sim: dead members are reaped — stale gossip does not bring them back") {
  const uint64_t seed = rumor::test::seed_for("membership reap");
  INFO("RUMOR_SEED=" << seed);
  membership_config cfg;
  cfg.reap_dead_after_ms = 60'000;
  sim s(6, seed, net_config{}, cfg);
  join_and_converge(s, 30'000);
  s.crash(2);
  REQUIRE(s.run_until([&] { return s.all_see(2, member_status::dead); }, 30'000));
  for (size_t i = 0; i < 6; ++i)
    if (i != 2) CHECK(s.at(i).voting_members().size() == 6);  // dead still counts until reaped
  REQUIRE(s.run_until([&] {
    for (size_t i = 0; i < 6; ++i)
      if (i != 2 && s.at(i).find(sim::id_of(2))) return false;
    return true;
  }, 61'000));
  s.run_for(60'000);
  for (size_t i = 0; i < 6; ++i) {
    if (i == 2) continue;
    CHECK(s.at(i).find(sim::id_of(2)) == nullptr);
    CHECK(s.persisted(i).count(sim::id_of(2)) == 0);
    CHECK(s.at(i).voting_members().size() == 5);
  }
}
