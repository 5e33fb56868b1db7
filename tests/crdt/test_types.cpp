// Semantics of each CRDT type under concurrency: the behaviour a user relies on.
#include <doctest/doctest.h>

#include <limits>

#include "crdt/value.hpp"

using namespace rumor;
using namespace rumor::crdt;

namespace {
constexpr node_id A = 0xA, B = 0xB, C = 0xC;
hlc_timestamp ts(uint64_t ms) { return hlc_timestamp::make(ms, 0); }
}  // namespace

TEST_CASE("g_counter: concurrent increments add up — deltas are one dot each") {
  g_counter a, b;
  auto d1 = a.increment(A, 5);
  auto d2 = b.increment(B, 7);
  REQUIRE(d1.has_value());
  REQUIRE(d2.has_value());
  CHECK(d1->store().size() == 1);
  a.join(*d2);
  b.join(*d1);
  CHECK(a.value() == 12);
  CHECK(a == b);
  auto d3 = a.increment(A, 1);
  REQUIRE(d3.has_value());
  CHECK(d3->store().size() == 1);  // A's old dot is superseded, not kept
  b.join(*d3);
  CHECK(b.value() == 13);
  CHECK(b.store().size() == 2);  // one live dot per node
}

TEST_CASE("g_counter: overflow is an error and changes nothing") {
  g_counter a;
  REQUIRE(a.increment(A, std::numeric_limits<uint64_t>::max()).has_value());
  auto before = a;
  auto r = a.increment(A, 1);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.err().code == errc::overflow);
  CHECK(a == before);
}

TEST_CASE("pn_counter: increments and decrements from several nodes") {
  pn_counter a, b;
  auto d1 = a.increment(A, 10);
  auto d2 = b.decrement(B, 3);
  auto d3 = a.add(A, -4);
  b.join(*d1);
  b.join(*d3);
  a.join(*d2);
  CHECK(a.value() == 3);
  CHECK(b.value() == 3);
  CHECK(a == b);
  pn_counter c;
  REQUIRE(c.add(C, std::numeric_limits<int64_t>::min()).has_value());
  CHECK(c.value() == std::numeric_limits<int64_t>::min());
}

TEST_CASE("lww_register: highest HLC timestamp wins, node id breaks ties, causally later always wins") {
  lww_register a, b;
  auto da = a.assign(A, ts(100), "from-a");
  auto db = b.assign(B, ts(90), "from-b");
  a.join(db);
  b.join(da);
  CHECK(a.read() == "from-a");
  CHECK(b.read() == "from-a");
  CHECK(a == b);
  // Tie on timestamp: higher node id wins.
  lww_register x, y;
  auto dx = x.assign(A, ts(50), "a");
  auto dy = y.assign(B, ts(50), "b");
  x.join(dy);
  y.join(dx);
  CHECK(x.read() == "b");
  CHECK(y.read() == "b");
  // A write that has seen the concurrent ones supersedes them and leaves one entry.
  auto dz = x.assign(A, ts(60), "z");
  CHECK(x.store().size() == 1);
  y.join(dz);
  CHECK(y.read() == "z");
  CHECK(y.timestamp() == ts(60));
}

TEST_CASE("mv_register: concurrent writes become siblings — a write with the read context resolves them") {
  mv_register a, b;
  auto da = a.assign(A, "x");
  auto db = b.assign(B, "y");
  a.join(db);
  b.join(da);
  CHECK(a.siblings() == std::vector<std::string>{"x", "y"});
  CHECK(a == b);
  auto ctx = b.read_context();
  auto dr = b.assign(B, "merged", ctx);
  a.join(dr);
  CHECK(a.siblings() == std::vector<std::string>{"merged"});
}

TEST_CASE("mv_register: write with a context supersedes exactly what it covers") {
  mv_register a, b;
  auto d1 = a.assign(A, "v1");
  b.join(d1);
  auto seen = b.read_context();  // client read at b: {v1}
  auto d2 = a.assign(A, "v2");   // concurrent with the client's write below
  auto d3 = b.assign(B, "client", seen);
  a.join(d3);
  b.join(d2);
  CHECK(a.siblings() == std::vector<std::string>{"v2", "client"});
  CHECK(a == b);
}

TEST_CASE("mv_register: conditional write fails with the current siblings on a stale context, then retry succeeds") {
  mv_register a, b;
  b.join(a.assign(A, "v1"));
  auto seen = b.read_context();
  b.join(a.assign(A, "v2"));  // someone wrote after our read
  auto r = b.assign_if(B, "mine", seen);
  REQUIRE(std::holds_alternative<mv_conflict>(r));
  auto& conflict = std::get<mv_conflict>(r);
  CHECK(conflict.siblings == std::vector<std::string>{"v2"});
  CHECK(b.siblings() == std::vector<std::string>{"v2"});  // unchanged
  auto retry = b.assign_if(B, "mine", conflict.context);
  REQUIRE(std::holds_alternative<mv_register>(retry));
  CHECK(b.siblings() == std::vector<std::string>{"mine"});
}

TEST_CASE("mv_register: a forged context naming unseen dots cannot hide future writes") {
  mv_register a, b;
  auto forged = dot_context::of(std::vector<dot>{{A, 1}, {A, 2}, {A, 3}});
  auto db = b.assign(B, "b", forged);  // b has never seen any A dot
  auto da = a.assign(A, "a");          // A's first write is dot (A,1)
  b.join(da);
  a.join(db);
  CHECK(b.siblings() == std::vector<std::string>{"a", "b"});
  CHECK(a == b);
}

TEST_CASE("or_set: add wins over a concurrent remove — observed remove wins") {
  or_set a, b;
  b.join(a.add(A, "x"));
  auto rem = b.remove("x");   // b observed A's add
  auto add = a.add(A, "x");   // concurrent re-add at A
  a.join(rem);
  b.join(add);
  CHECK(a.contains("x"));
  CHECK(b.contains("x"));
  CHECK(a == b);
  auto rem2 = b.remove("x");  // now observes the re-add too
  a.join(rem2);
  CHECK_FALSE(a.contains("x"));
  CHECK(a.size() == 0);
  CHECK(a.store().empty());  // tombstone-free: nothing left behind
}

TEST_CASE("or_set: elements sorted, remove of an absent element is an empty delta, clear removes observed") {
  or_set a;
  a.add(A, "b");
  a.add(A, "a");
  a.add(A, "c");
  CHECK(a.elements() == std::vector<std::string>{"a", "b", "c"});
  CHECK(a.remove("zz").is_bottom());
  or_set b = a;
  auto late = b.add(B, "d");  // not observed by a's clear
  auto clr = a.clear();
  a.join(late);
  b.join(clr);
  CHECK(a.elements() == std::vector<std::string>{"d"});
  CHECK(a == b);
}

TEST_CASE("or_set: adds into a large set stay cheap (delta join does not scan the set)") {
  or_set s;
  for (int i = 0; i < 200'000; ++i) s.add(A, "e" + std::to_string(i));
  CHECK(s.size() == 200'000);
  or_set other;
  auto d = other.add(B, "e5");
  s.join(d);
  CHECK(s.store().find("e5")->size() == 2);  // concurrent adds of the same element keep both dots
  s.join(s.remove("e5"));
  CHECK_FALSE(s.contains("e5"));
  CHECK(s.size() == 199'999);
}

TEST_CASE("ew_flag: enable wins over a concurrent disable") {
  ew_flag a, b;
  b.join(a.enable(A));
  auto off = b.disable();
  auto on = a.enable(A);
  a.join(off);
  b.join(on);
  CHECK(a.value());
  CHECK(a == b);
  a.join(b.disable());
  CHECK_FALSE(a.value());
}

TEST_CASE("or_map: nested fields of different types, nested deltas, field identity is (name, type)") {
  or_map a, b;
  auto d1 = a.update<pn_counter>("visits", [](pn_counter& c) { return c.increment(A, 3); });
  auto d2 = b.update<or_set>("tags", [](or_set& s) { return s.add(B, "red"); });
  auto d3 = b.update<or_set>("visits", [](or_set& s) { return s.add(B, "weird"); });
  REQUIRE(d1.has_value());
  REQUIRE(d2.has_value());
  REQUIRE(d3.has_value());
  CHECK(d1->size() == 1);
  a.join(*d2);
  a.join(*d3);
  b.join(*d1);
  CHECK(a == b);
  CHECK(a.get<pn_counter>("visits")->value() == 3);
  CHECK(a.get<or_set>("visits")->elements() == std::vector<std::string>{"weird"});
  CHECK(a.get<or_set>("tags")->contains("red"));
  CHECK_FALSE(a.get<g_counter>("tags").has_value());
  CHECK(a.fields().size() == 3);
  // Removing one field removes that (name, type) only; without a type, every type of the name.
  auto rm = b.remove("visits", type_tag::pn_counter);
  a.join(rm);
  CHECK_FALSE(a.get<pn_counter>("visits").has_value());
  CHECK(a.get<or_set>("visits")->elements() == std::vector<std::string>{"weird"});
  CHECK(b == a);
  CHECK(b.remove("visits", type_tag::lww_register).store().empty());  // no such field: an empty delta
  a.join(a.remove("visits"));
  CHECK_FALSE(a.get<or_set>("visits").has_value());
  CHECK(a.fields().size() == 1);
}

TEST_CASE("or_map: removing a field resets it — a node updating concurrently keeps its running total") {
  or_map a, b;
  b.join(*a.update<pn_counter>("n", [](pn_counter& c) { return c.increment(A, 10); }));
  a.join(*b.update<pn_counter>("n", [](pn_counter& c) { return c.increment(B, 5); }));
  auto rem = b.remove("n");  // observed A's 10 and B's 5
  auto inc = a.update<pn_counter>("n", [](pn_counter& c) { return c.increment(A, 1); });
  REQUIRE(inc.has_value());
  a.join(rem);
  b.join(*inc);
  CHECK(a == b);
  // B did not update concurrently: its 5 is reset. A did: a counter contribution is a node's
  // running total (causal counter), so A's new dot carries 10 + 1 = 11. Same as Akka's ORMap and
  // riak_dt's embedded counters; documented in or_map.hpp.
  auto n = a.get<pn_counter>("n");
  REQUIRE(n.has_value());
  CHECK(n->value() == 11);
  // Without a concurrent update the remove resets the field completely.
  a.join(a.remove("n"));
  CHECK_FALSE(a.get<pn_counter>("n").has_value());
  auto again = a.update<pn_counter>("n", [](pn_counter& c) { return c.increment(B, 2); });
  CHECK(a.get<pn_counter>("n")->value() == 2);
}

TEST_CASE("or_map: removing with a caller's context removes only what that context observed") {
  or_map a;
  REQUIRE(a.update<or_set>("s", [](or_set& s) { return s.add(A, "x"); }).has_value());
  dot_context observed = a.context();
  REQUIRE(a.update<or_set>("s", [](or_set& s) { return s.add(A, "y"); }).has_value());
  a.remove("s", observed);
  REQUIRE(a.get<or_set>("s").has_value());
  CHECK(a.get<or_set>("s")->elements() == std::vector<std::string>{"y"});
  a.remove("s");
  CHECK_FALSE(a.get<or_set>("s").has_value());
  CHECK(a.size() == 0);
}

TEST_CASE("or_map: maps nest, and errors from nested mutators pass through unchanged") {
  or_map a, b;
  auto d = a.update<or_map>("profile", [](or_map& inner) {
    return inner.update<lww_register>("name", [](lww_register& r) {
      return r.assign(A, hlc_timestamp::make(1, 0), "ada");
    });
  });
  REQUIRE(d.has_value());
  b.join(*d);
  CHECK(b.get<or_map>("profile")->get<lww_register>("name")->read() == "ada");
  REQUIRE(a.update<g_counter>("big", [](g_counter& g) { return g.increment(A, std::numeric_limits<uint64_t>::max()); }).has_value());
  auto before = a;
  auto r = a.update<g_counter>("big", [](g_counter& g) { return g.increment(A, 1); });
  REQUIRE_FALSE(r.has_value());
  CHECK(r.err().code == errc::overflow);
  CHECK(a == before);
}

TEST_CASE("value: joining values of different types is a type_mismatch error") {
  value v = value::empty_of(type_tag::or_set);
  value w = value::empty_of(type_tag::pn_counter);
  auto r = v.join(w);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.err().code == errc::type_mismatch);
  CHECK(r.err().describe() == "type_mismatch: cannot join a pn_counter into a or_set");
  for (uint8_t t = 1; t <= 7; ++t) CHECK(value::empty_of(static_cast<type_tag>(t)).type() == static_cast<type_tag>(t));
  CHECK(parse_type_tag("mv_register") == type_tag::mv_register);
  CHECK_FALSE(parse_type_tag("nope").has_value());
}
