// In-process clusters of embedded rumor::actors::node over real loopback TCP: convergence, consistency
// levels, subscriptions, restart and catch-up. Every wait is bounded (cluster_fixture.hpp).

#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <set>

#include "cluster_fixture.hpp"
#include "persistence/lmdb_store.hpp"
#include "persistence/write_batch.hpp"
#include "replication/bucket_digests.hpp"
#include "replication/value_layout.hpp"

using namespace std::chrono_literals;
using rumor::test::cluster;
using rumor::test::eventually;
namespace op = rumor::actors::op;

namespace {

int64_t counter_at(rumor::actors::node& n, const std::string& key) {
  auto e = n.get(key);
  if (!e || !*e) return INT64_MIN;
  auto* c = (*e)->value.get_if<rumor::crdt::pn_counter>();
  return c ? c->value() : INT64_MIN;
}

std::set<std::string> set_at(rumor::actors::node& n, const std::string& key) {
  auto e = n.get(key);
  if (!e || !*e) return {};
  auto* s = (*e)->value.get_if<rumor::crdt::or_set>();
  if (!s) return {};
  auto v = s->elements();
  return {v.begin(), v.end()};
}

std::string register_at(rumor::actors::node& n, const std::string& key) {
  auto e = n.get(key);
  if (!e || !*e) return "<none>";
  auto* r = (*e)->value.get_if<rumor::crdt::lww_register>();
  return r && r->read() ? *r->read() : "<none>";
}

}  // namespace

TEST_CASE("three embedded nodes converge on counters, sets and registers written on different nodes") {
  cluster c;
  c.start_all(3);
  for (size_t i = 0; i < 3; ++i) {
    REQUIRE(c.nodes[i]->apply("hits", op::increment(static_cast<int64_t>(i + 1))));
    REQUIRE(c.nodes[i]->apply("fruit", op::add({"f" + std::to_string(i)})));
  }
  REQUIRE(c.nodes[2]->apply("name", op::set("rumor")));
  REQUIRE(c.nodes[1]->apply("fruit", op::remove({"f1"})));
  bool converged = eventually([&] {
    for (auto& n : c.nodes) {
      if (counter_at(*n, "hits") != 6) return false;
      if (set_at(*n, "fruit") != std::set<std::string>{"f0", "f2"}) return false;
      if (register_at(*n, "name") != "rumor") return false;
    }
    return true;
  }, 15s);
  CHECK(converged);
  for (auto& n : c.nodes) {
    auto ks = n->keys();
    REQUIRE(ks);
    CHECK(ks->size() == 3);
  }
}

TEST_CASE("an update of another type on a key is refused with type_mismatch, and nothing changes") {
  cluster c;
  c.start_all(1);
  REQUIRE(c.nodes[0]->apply("k", op::increment(2)));
  auto r = c.nodes[0]->apply("k", op::add({"x"}));
  REQUIRE(!r);
  CHECK(r.err().code == rumor::errc::type_mismatch);
  CHECK(counter_at(*c.nodes[0], "k") == 2);
}

TEST_CASE("an update whose declared type is not the one its operation implies is refused, nothing stored") {
  // Regression (issue 20, item 2): registerSet with type gCounter stored an lwwRegister, setAdd
  // with gCounter an orSet, flagSet with orSet an ewFlag; only counterAdd checked its type.
  cluster c;
  c.start_all(1);
  using rumor::client::op_kind;
  using rumor::crdt::type_tag;
  struct bad_case {
    op_kind op;
    type_tag type;
  };
  const bad_case cases[] = {
      {op_kind::register_set, type_tag::g_counter}, {op_kind::set_add, type_tag::g_counter},
      {op_kind::set_remove, type_tag::lww_register}, {op_kind::flag_set, type_tag::or_set},
      {op_kind::mv_put, type_tag::lww_register},     {op_kind::counter_add, type_tag::or_set},
  };
  for (const auto& bc : cases) {
    CAPTURE(static_cast<int>(bc.op));
    rumor::client::request req;
    rumor::client::update u;
    u.key = "typed";
    u.op = bc.op;
    u.type = bc.type;
    u.value = "v";
    u.members = {"m"};
    u.amount = 1;
    req.body = u;
    std::promise<rumor::client::response> p;
    c.nodes[0]->submit(req, [&](rumor::client::response r) { p.set_value(std::move(r)); });
    auto r = p.get_future().get();
    CHECK(r.code == rumor::errc::invalid_argument);
    CHECK_MESSAGE(r.message.find(std::string(rumor::crdt::to_string(bc.type))) != std::string::npos, r.message);
  }
  auto stored = c.nodes[0]->get("typed");
  REQUIRE(stored);
  CHECK_FALSE(*stored);
}

TEST_CASE("client protocol: mv-register responses carry the context a conditional put needs") {
  // Issue 20, item 5: no request returned a context, and an empty context was refused byte-wise.
  cluster c;
  c.start_all(1);
  auto call = [&](rumor::client::request req) {
    std::promise<rumor::client::response> p;
    c.nodes[0]->submit(std::move(req), [&](rumor::client::response r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  };
  auto mv = [](std::string key, std::string value, std::optional<std::string> ctx, bool conditional) {
    rumor::client::request req;
    rumor::client::update u;
    u.key = std::move(key);
    u.op = rumor::client::op_kind::mv_put;
    u.type = rumor::crdt::type_tag::mv_register;
    u.value = std::move(value);
    u.context = std::move(ctx);
    u.conditional = conditional;
    req.body = u;
    return req;
  };
  auto get = [](std::string key) {
    rumor::client::request req;
    req.body = rumor::client::get{std::move(key)};
    return req;
  };
  // The empty context is a context: "nothing seen"; on a fresh key nothing was written since.
  auto first = call(mv("doc", "v1", std::string(), true));
  REQUIRE(first.code == rumor::errc::ok);
  REQUIRE(first.values.size() == 1);
  CHECK_FALSE(first.values[0].context.empty());

  auto read = call(get("doc"));
  REQUIRE(read.code == rumor::errc::ok);
  REQUIRE(read.values.size() == 1);
  std::string ctx = read.values[0].context;
  CHECK(ctx == first.values[0].context);  // nothing written in between

  auto second = call(mv("doc", "v2", ctx, true));
  CHECK(second.code == rumor::errc::ok);
  auto stale = call(mv("doc", "v3", ctx, true));  // v2 was written since that read
  CHECK(stale.code == rumor::errc::conflict);
  REQUIRE(stale.values.size() == 1);
  auto again = call(mv("doc", "v3", stale.values[0].context, true));  // the conflict's context is current
  CHECK(again.code == rumor::errc::ok);
  auto empty_again = call(mv("doc", "v4", std::string(), true));  // nothing seen: stale now
  CHECK(empty_again.code == rumor::errc::conflict);

  // Other types carry no context (no operation takes one).
  REQUIRE(c.nodes[0]->apply("n", op::increment(1)));
  auto counter = call(get("n"));
  REQUIRE(counter.values.size() == 1);
  CHECK(counter.values[0].context.empty());
}

TEST_CASE("majority writes succeed with one of three nodes down and time out when two are down") {
  cluster c;
  c.start_all(3);
  c.stop(2, false);  // as if crashed: still a voting member
  rumor::actors::op_options majority{rumor::actors::consistency::majority, 3000ms};
  auto ok = c.nodes[0]->apply("m", op::increment(1), majority);
  CHECK_MESSAGE(ok.has_value(), (ok ? std::string() : ok.err().describe()));
  c.stop(1, false);
  auto t0 = std::chrono::steady_clock::now();
  auto late = c.nodes[0]->apply("m", op::increment(1), {rumor::actors::consistency::majority, 1000ms});
  auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE(!late);
  CHECK(late.err().code == rumor::errc::timeout);
  CHECK(took < 5s);
  // The update is durable locally even though the majority was not reached.
  CHECK(counter_at(*c.nodes[0], "m") == 2);
}

TEST_CASE("a subscription fires for updates made on another node") {
  cluster c;
  c.start_all(2);
  std::mutex mu;
  std::vector<rumor::actors::change> seen;
  c.nodes[1]->subscribe("user:", [&](const rumor::actors::change& ch) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(ch);
  });
  REQUIRE(c.nodes[0]->apply("user:1", op::set("ada")));
  REQUIRE(c.nodes[0]->apply("other", op::set("not watched")));
  bool fired = eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& ch : seen)
      if (ch.key == "user:1" && ch.origin == c.nodes[0]->id() && ch.value) return true;
    return false;
  }, 10s);
  CHECK(fired);
  std::lock_guard<std::mutex> lock(mu);
  for (auto& ch : seen) CHECK(ch.key.starts_with("user:"));
}

TEST_CASE("a node that leaves right after acknowledged local writes hands them to a peer before it goes") {
  // Regression (found embedding rumor in a short-lived program): stop() right after local writes
  // left the cluster with the last commit group pushed to nobody; the updates were acknowledged,
  // yet no other member ever received them.
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    cluster c;
    c.start_all(2);
    std::vector<std::future<rumor::result<rumor::actors::entry>>> acks;
    for (int i = 0; i < 200; ++i) acks.push_back(c.nodes[1]->apply_async("k" + std::to_string(i % 20), op::increment(1)));
    for (auto& a : acks) REQUIRE(a.get());
    c.stop(1);  // leaves the cluster at once
    int64_t total = 0;
    bool arrived = eventually([&] {
      total = 0;
      for (int k = 0; k < 20; ++k) {
        int64_t v = counter_at(*c.nodes[0], "k" + std::to_string(k));
        total += v == INT64_MIN ? 0 : v;  // INT64_MIN: the key has not arrived
      }
      return total == 200;
    }, 5s);
    CHECK_MESSAGE(arrived, "node 0 holds " << total << " of the 200 acknowledged increments");
  }
}

TEST_CASE("a node stopped and restarted on its directory keeps its identity and data and catches up") {
  cluster c;
  c.start_all(3);
  REQUIRE(c.nodes[2]->apply("before", op::increment(5)));
  REQUIRE(eventually([&] { return counter_at(*c.nodes[0], "before") == 5; }, 10s));
  uint64_t id2 = c.nodes[2]->id();
  c.stop(2);
  for (int i = 0; i < 50; ++i) REQUIRE(c.nodes[i % 2]->apply("during", op::increment(1)));
  REQUIRE(c.nodes[0]->apply("set", op::add({"a", "b"})));
  auto& back = c.start(2);
  CHECK(back.id() == id2);
  CHECK(counter_at(back, "before") == 5);  // its own data, straight from disk
  bool caught_up = eventually([&] {
    return counter_at(back, "during") == 50 && set_at(back, "set") == std::set<std::string>{"a", "b"};
  }, 15s);
  CHECK(caught_up);
}

TEST_CASE("mv-register: a read's context makes a conditional put succeed once and conflict when stale") {
  cluster c;
  c.start_all(1);
  auto& n = *c.nodes[0];
  REQUIRE(n.apply("doc", op::mv_put("v1")));
  auto r = n.get("doc");
  REQUIRE(r);
  REQUIRE(*r);
  std::string ctx = (*r)->context;
  auto first = n.apply("doc", op::mv_put("v2", ctx, true));
  CHECK(first.has_value());
  auto stale = n.apply("doc", op::mv_put("v3", ctx, true));
  REQUIRE(!stale);
  CHECK(stale.err().code == rumor::errc::conflict);
  auto now = n.get("doc");
  REQUIRE(now);
  auto* mv = (*now)->value.get_if<rumor::crdt::mv_register>();
  REQUIRE(mv);
  CHECK(mv->siblings() == std::vector<std::string>{"v2"});
}

TEST_CASE("text: splices on three embedded nodes converge, a conditional splice conflicts when stale, the outcome counts codepoints") {
  cluster c;
  c.start_all(3);
  auto text_at = [](rumor::actors::node& n) -> std::string {
    auto e = n.get("notes");
    if (!e || !*e) return "<none>";
    auto* t = (*e)->value.get_if<rumor::crdt::text>();
    return t ? t->str() : "<not a text>";
  };
  auto first = c.nodes[0]->apply("notes", op::splice(0, 0, "ab"));
  REQUIRE(first);
  CHECK(first->outcome.changed == 2);
  CHECK(first->outcome.size == 2);
  REQUIRE(eventually([&] { return text_at(*c.nodes[1]) == "ab" && text_at(*c.nodes[2]) == "ab"; }, 15s));
  // Concurrent typing at one place on two nodes: each word stays whole.
  for (char ch : std::string("xyz")) REQUIRE(c.nodes[1]->apply("notes", op::splice(1 + static_cast<uint64_t>(ch - 'x'), 0, std::string(1, ch))));
  for (char ch : std::string("PQR")) REQUIRE(c.nodes[2]->apply("notes", op::splice(1 + static_cast<uint64_t>(ch - 'P'), 0, std::string(1, ch))));
  bool converged = eventually([&] {
    std::string a = text_at(*c.nodes[0]);
    return a.size() == 8 && a == text_at(*c.nodes[1]) && a == text_at(*c.nodes[2]);
  }, 15s);
  REQUIRE(converged);
  std::string s = text_at(*c.nodes[0]);
  CHECK((s == "axyzPQRb" || s == "aPQRxyzb"));
  // Version-number concurrency: a splice conditional on a read's context applies once.
  auto r = c.nodes[0]->get("notes");
  REQUIRE(r);
  REQUIRE(*r);
  std::string ctx = (*r)->context;
  auto ok = c.nodes[0]->apply("notes", op::splice(0, 1, "A", ctx, true));
  REQUIRE(ok);
  CHECK(ok->outcome.changed == 2);
  CHECK(ok->outcome.size == 8);
  auto stale = c.nodes[0]->apply("notes", op::splice(0, 0, "!", ctx, true));
  REQUIRE(!stale);
  CHECK(stale.err().code == rumor::errc::conflict);
  // On a node that has never written the key, a splice conditional on its own read applies (its
  // first write's seed is not a change), and the next one with the same read conflicts.
  REQUIRE(eventually([&] { return text_at(*c.nodes[1]) == text_at(*c.nodes[0]); }, 15s));
  auto fresh = c.nodes[1]->get("notes");
  REQUIRE(fresh);
  REQUIRE(*fresh);
  // nodes[1] typed xyz above, so use a third, new key for the never-written case.
  REQUIRE(c.nodes[0]->apply("other", op::splice(0, 0, "abc")));
  REQUIRE(eventually([&] {
    auto e = c.nodes[2]->get("other");
    return e && *e && (*e)->value.get_if<rumor::crdt::text>() && (*e)->value.get_if<rumor::crdt::text>()->str() == "abc";
  }, 15s));
  auto other = c.nodes[2]->get("other");
  REQUIRE(other);
  std::string other_ctx = (**other).context;
  auto first_write = c.nodes[2]->apply("other", op::splice(3, 0, "d", other_ctx, true));
  CHECK(first_write.has_value());
  auto second = c.nodes[2]->apply("other", op::splice(4, 0, "e", other_ctx, true));
  REQUIRE(!second);
  CHECK(second.err().code == rumor::errc::conflict);
  auto past_end = c.nodes[0]->apply("notes", op::splice(9, 0, "!"));
  REQUIRE(!past_end);
  CHECK(past_end.err().code == rumor::errc::invalid_argument);
  CHECK(text_at(*c.nodes[0])[0] == 'A');
}

TEST_CASE("deleting a key removes it everywhere — a second node start on a locked directory is refused") {
  cluster c;
  c.start_all(2);
  REQUIRE(c.nodes[0]->apply("gone", op::add({"x"})));
  REQUIRE(eventually([&] { return !set_at(*c.nodes[1], "gone").empty(); }, 10s));
  REQUIRE(c.nodes[1]->apply("gone", op::del()));
  CHECK(eventually([&] {
    auto e = c.nodes[0]->get("gone");
    return e && !*e;
  }, 10s));
  auto again = rumor::actors::node::start(c.config(0, "127.0.0.1:0", {}));
  REQUIRE(!again);
  CHECK(again.err().code == rumor::errc::busy);
}

TEST_CASE("cas lane: compare-and-set, conflicts with the current value, linearizable reads on every node, delete") {
  cluster c;
  c.with_cas_lane(3);
  c.start_all(3);
  // The lane knows every voter once membership has gossiped their ids: the first cas may wait.
  std::optional<rumor::actors::node::cas_outcome> first;
  REQUIRE(eventually([&] {
    auto r = c.nodes[0]->cas("lock", std::nullopt, "alice", 2000ms);
    if (r) first = *r;
    return r.has_value();
  }, 15s));
  CHECK(first->applied);
  CHECK(first->current == std::optional<std::string>("alice"));

  // A second "create if absent" fails and reports the holder.
  auto second = c.nodes[1]->cas("lock", std::nullopt, "bob");
  REQUIRE(second.has_value());
  CHECK(!second->applied);
  CHECK(second->current == std::optional<std::string>("alice"));

  // A stale expected value fails too; the right one succeeds, through another node.
  auto stale = c.nodes[2]->cas("lock", "bob", "carol");
  REQUIRE(stale.has_value());
  CHECK(!stale->applied);
  auto moved = c.nodes[2]->cas("lock", "alice", "carol");
  REQUIRE(moved.has_value());
  CHECK(moved->applied);
  for (auto& n : c.nodes) {
    auto v = n->lget("lock");
    REQUIRE(v.has_value());
    CHECK(*v == std::optional<std::string>("carol"));
  }

  // Lane keys never mix with CRDT keys.
  auto crdt = c.nodes[0]->get("lock");
  REQUIRE(crdt.has_value());
  CHECK(!crdt->has_value());

  // cas_delete: expected value, then absent.
  auto del = c.nodes[1]->cas("lock", "carol", std::nullopt);
  REQUIRE(del.has_value());
  CHECK(del->applied);
  auto gone = c.nodes[0]->lget("lock");
  REQUIRE(gone.has_value());
  CHECK(!gone->has_value());

  // Oversized values and keys are refused up front with a clear error; the lane lives on.
  auto big = c.nodes[0]->cas("big", std::nullopt, std::string((1 << 20) + 1, 'x'));
  REQUIRE(!big);
  CHECK(big.err().code == rumor::errc::too_large);
  auto long_key = c.nodes[0]->cas(std::string(70'000, 'k'), std::nullopt, "v");
  REQUIRE(!long_key);
  CHECK((long_key.err().code == rumor::errc::too_large || long_key.err().code == rumor::errc::invalid_argument));
  // Generous timeouts: a 1 MiB round through three voters is slow under the sanitizers.
  auto max = c.nodes[1]->cas("big", std::nullopt, std::string(1 << 20, 'x'), 30s);
  REQUIRE_MESSAGE(max.has_value(), (max ? std::string() : max.err().describe()));
  CHECK(max->applied);
  auto read_max = c.nodes[2]->lget("big", 30s);
  REQUIRE_MESSAGE(read_max.has_value(), (read_max ? std::string() : read_max.err().describe()));
  CHECK((*read_max && (*read_max)->size() == (1u << 20)));
}

TEST_CASE("cas lane: with a majority of voters down, cas fails with a clear error and never a wrong answer") {
  cluster c;
  c.with_cas_lane(3);
  c.start_all(3);
  REQUIRE(eventually([&] { return c.nodes[0]->cas("n", std::nullopt, "1", 2000ms).has_value(); }, 15s));
  c.stop(2, false);
  auto ok = c.nodes[0]->cas("n", "1", "2", 3000ms);  // one of three down: still a quorum
  REQUIRE_MESSAGE(ok.has_value(), (ok ? std::string() : ok.err().describe()));
  CHECK(ok->applied);
  c.stop(1, false);
  auto t0 = std::chrono::steady_clock::now();
  auto late = c.nodes[0]->cas("n", "2", "3", 1000ms);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  REQUIRE(!late);
  CHECK((late.err().code == rumor::errc::timeout || late.err().code == rumor::errc::unavailable));
  CHECK(late.err().message.find("quorum") != std::string::npos);
  auto read = c.nodes[0]->lget("n", 1000ms);
  REQUIRE(!read);
  // Restart the others: the value is whatever a quorum decided — "2", or "3" if the timed-out
  // accept reached one acceptor and a later round adopted it; never anything else.
  c.start(1);
  c.start(2);
  std::optional<std::string> v;
  REQUIRE(eventually([&] {
    auto r = c.nodes[0]->lget("n", 2000ms);
    if (r) v = *r;
    return r.has_value();
  }, 15s));
  CHECK((v == std::optional<std::string>("2") || v == std::optional<std::string>("3")));
}

TEST_CASE("cas lane: disabled without voters — a clear error") {
  cluster c;
  c.start_all(1);
  auto r = c.nodes[0]->cas("k", std::nullopt, "v");
  REQUIRE(!r);
  CHECK(r.err().code == rumor::errc::unavailable);
  CHECK(r.err().message.find("--cas-voters") != std::string::npos);
}

TEST_CASE("a data directory of value layout 1 (values under storage keys, a b/ bucket index) is upgraded when its node starts") {
  cluster c;
  c.start_all(1);
  REQUIRE(c.nodes[0]->apply("hits", op::increment(5)));
  REQUIRE(c.nodes[0]->apply("fruit", op::add({"apple", "pear"})));
  c.nodes[0].reset();
  {
    // Rewrite the directory as an older build left it.
    rumor::persistence::options o;
    o.dir = c.dir(0);
    auto s = rumor::persistence::lmdb_store::open(o);
    REQUIRE(s.has_value());
    rumor::persistence::write_batch b;
    int moved = 0;
    REQUIRE((*s)->scan_values(rumor::persistence::key_range::all(), [&](std::string_view vk, std::string_view rec) {
      std::string skey(rumor::replication::storage_key_of(vk));
      std::string bucket(4, '\0');
      uint32_t n = rumor::replication::bucket_digests::bucket_of(skey, 16);
      for (int i = 0; i < 4; ++i) bucket[i] = static_cast<char>((n >> (8 * (3 - i))) & 0xff);
      b.put_value(skey, rec);
      b.erase_value(vk);
      b.put_meta("b/" + bucket + skey, std::string(8, '\1'));
      ++moved;
      return true;
    }).has_value());
    CHECK(moved == 2);
    b.erase_meta("r/layout");
    REQUIRE((*s)->commit({&b, 1}).has_value());
    REQUIRE_FALSE(*rumor::replication::has_value_layout_2(**s));
  }
  c.start(0);
  REQUIRE(c.nodes[0]->wait_ready(std::chrono::seconds(10)));
  CHECK(counter_at(*c.nodes[0], "hits") == 5);
  CHECK(set_at(*c.nodes[0], "fruit") == std::set<std::string>{"apple", "pear"});
  REQUIRE(c.nodes[0]->apply("hits", op::increment(1)));
  CHECK(counter_at(*c.nodes[0], "hits") == 6);
}
