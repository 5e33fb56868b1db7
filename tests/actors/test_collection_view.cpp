// collection_view and the update outcomes of client_ops: the parts of a set or map a get view
// answers, and what an update reports it did — checked against the whole value they stand for.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "actors/client_ops.hpp"
#include "actors/collection_view.hpp"
#include "crdt/codec.hpp"
#include "seed.hpp"

using namespace rumor;
using namespace rumor::actors;

namespace {

constexpr crdt::node_id self = 7;

// Runs `u` on `v` as the replica would (the planned mutator on the key's value); returns what the
// update said it did.
client::update_outcome run(crdt::value& v, const client::update& u) {
  auto plan = plan_update(u, v.type());
  REQUIRE(plan);
  if (v.type() != plan->key_type) v = crdt::value::empty_of(plan->key_type);
  auto delta = plan->mutate(v, self, crdt::hlc_timestamp::make(1000, 0));
  REQUIRE(delta);
  REQUIRE(plan->response.outcome);
  return *plan->response.outcome;
}

client::update set_op(client::op_kind op, std::vector<std::string> members, std::vector<std::string> path = {}) {
  client::update u;
  u.key = "k";
  u.op = op;
  u.type = crdt::type_tag::or_set;
  u.members = std::move(members);
  u.path = std::move(path);
  return u;
}

client::get view(client::view_kind k, std::vector<std::string> path = {}) {
  client::get g{"k"};
  g.view = k;
  g.path = std::move(path);
  return g;
}

}  // namespace

TEST_CASE("collection view: set outcomes count the members that changed, and the size after") {
  crdt::value v = crdt::or_set{};
  auto o = run(v, set_op(client::op_kind::set_add, {"a", "b", "c"}));
  CHECK(o == client::update_outcome{3, 3});
  o = run(v, set_op(client::op_kind::set_add, {"c", "d", "d"}));  // c present, d twice
  CHECK(o == client::update_outcome{1, 4});
  o = run(v, set_op(client::op_kind::set_remove, {"a", "zz"}));  // zz absent
  CHECK(o == client::update_outcome{1, 3});
  o = run(v, set_op(client::op_kind::set_remove, {"zz"}));
  CHECK(o == client::update_outcome{0, 3});
  // Inside a map: the nested set's members.
  crdt::value m = crdt::or_map{};
  o = run(m, set_op(client::op_kind::set_add, {"x", "y"}, {"doc", "tags"}));
  CHECK(o == client::update_outcome{2, 2});
  o = run(m, set_op(client::op_kind::set_remove, {"x"}, {"doc", "tags"}));
  CHECK(o == client::update_outcome{1, 1});
}

TEST_CASE("collection view: map field outcomes say whether the field appeared or went, and the map's size") {
  crdt::value m = crdt::or_map{};
  client::update inc;
  inc.key = "k";
  inc.op = client::op_kind::counter_add;
  inc.type = crdt::type_tag::pn_counter;
  inc.amount = 2;
  inc.path = {"views"};
  CHECK(run(m, inc) == client::update_outcome{1, 1});  // new field
  CHECK(run(m, inc) == client::update_outcome{0, 1});  // same field again
  inc.path = {"other"};
  CHECK(run(m, inc) == client::update_outcome{1, 2});
  client::update rm;
  rm.key = "k";
  rm.op = client::op_kind::remove_key;
  rm.type = crdt::type_tag::pn_counter;
  rm.path = {"views"};
  CHECK(run(m, rm) == client::update_outcome{1, 1});
  CHECK(run(m, rm) == client::update_outcome{0, 1});  // already gone
  // Deleting the whole key: 1 if it held a value.
  client::update del;
  del.key = "k";
  del.op = client::op_kind::remove_key;
  del.type = crdt::type_tag::or_map;
  CHECK(run(m, del) == client::update_outcome{1, 0});
  CHECK(run(m, del) == client::update_outcome{0, 0});
}

TEST_CASE("collection view: which updates send their value back") {
  client::update u = set_op(client::op_kind::set_add, {"a"});
  CHECK(!plan_update(u, crdt::type_tag::or_set)->response.update_value);
  u.return_value = true;
  CHECK(plan_update(u, crdt::type_tag::or_set)->response.update_value);
  client::update inc;
  inc.key = "k";
  inc.op = client::op_kind::counter_add;
  inc.type = crdt::type_tag::pn_counter;
  auto counter = plan_update(inc, crdt::type_tag::pn_counter);
  CHECK(counter->response.update_value);
  CHECK(!counter->response.outcome);  // counters: no probe on the hot path
  inc.path = {"f"};
  CHECK(!plan_update(inc, crdt::type_tag::pn_counter)->response.update_value);  // a map key
}

TEST_CASE("collection view: member, size and pages of a set agree with its elements") {
  const uint64_t seed = test::seed_for("collection view pages");
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  crdt::or_set s;
  std::set<std::string> model;
  for (int i = 0; i < 300; ++i) {
    std::string m = "m" + std::to_string(rng() % 500);
    if (rng() % 4 == 0) {
      s.remove(m);
      model.erase(m);
    } else {
      s.add(self, m);
      model.insert(m);
    }
  }
  std::vector<crdt::value> key_values{crdt::value{s}};
  auto size = view_of(key_values, view(client::view_kind::size));
  REQUIRE(size);
  CHECK(size->type == crdt::type_tag::or_set);
  CHECK(size->size == model.size());
  for (int i = 0; i < 50; ++i) {
    auto g = view(client::view_kind::member);
    g.member = "m" + std::to_string(rng() % 600);
    auto r = view_of(key_values, g);
    REQUIRE(r);
    CHECK(r->contains == model.contains(g.member));
  }
  // Walking pages of random sizes gives every member once, in order.
  std::vector<std::string> walked;
  auto g = view(client::view_kind::page);
  for (int guard = 0; guard < 1000; ++guard) {
    g.limit = static_cast<uint32_t>(1 + rng() % 40);
    auto page = view_of(key_values, g);
    REQUIRE(page);
    CHECK(page->members.size() <= g.limit);
    walked.insert(walked.end(), page->members.begin(), page->members.end());
    if (!page->more) break;
    CHECK(page->members.size() == g.limit);
    g.after = page->members.back();
  }
  CHECK(walked == std::vector<std::string>(model.begin(), model.end()));
  // A start point that is not a member starts after where it would be.
  g.after = "m25x";
  g.limit = 1;
  auto from = view_of(key_values, g);
  REQUIRE(from);
  auto expect = model.upper_bound("m25x");
  if (expect != model.end()) CHECK(from->members == std::vector<std::string>{*expect});
}

TEST_CASE("collection view: map pages never split a name's types, and fields read with the map's context") {
  crdt::or_map m;
  REQUIRE(m.update<crdt::pn_counter>("a", [](crdt::pn_counter& c) { return c.add(self, 1); }));
  REQUIRE(m.update<crdt::lww_register>("b", [](crdt::lww_register& r) { return r.assign(self, crdt::hlc_timestamp::make(5, 0), "x"); }));
  REQUIRE(m.update<crdt::pn_counter>("b", [](crdt::pn_counter& c) { return c.add(self, 2); }));
  REQUIRE(m.update<crdt::or_set>("c", [](crdt::or_set& s) { return s.add(self, "e"); }));
  std::vector<crdt::value> key_values{crdt::value{m}};
  auto g = view(client::view_kind::page);
  g.limit = 2;  // a, then both types of b
  auto p1 = view_of(key_values, g);
  REQUIRE(p1);
  CHECK(p1->type == crdt::type_tag::or_map);
  CHECK(p1->size == 4);
  REQUIRE(p1->fields.size() == 3);
  CHECK(p1->fields[0].key == "a");
  CHECK(p1->fields[1].key == "b");
  CHECK(p1->fields[2].key == "b");
  CHECK(p1->more);
  auto a = crdt::decode(p1->fields[0].value);
  REQUIRE(a);
  CHECK(*a == *crdt::field_value(m, crdt::field_key{"a", crdt::type_tag::pn_counter}));
  g.after = "b";
  auto p2 = view_of(key_values, g);
  REQUIRE(p2);
  REQUIRE(p2->fields.size() == 1);
  CHECK(p2->fields[0].key == "c");
  CHECK(!p2->more);
  auto has = view(client::view_kind::member);
  has.member = "b";
  CHECK(view_of(key_values, has)->contains);
  has.member = "bb";
  CHECK(!view_of(key_values, has)->contains);
  // A path to the nested set; values_at gives every type of a name.
  auto nested = view(client::view_kind::size, {"c"});
  CHECK(view_of(key_values, nested)->size == 1);
  CHECK(values_at(key_values, {"b"}).size() == 2);
  CHECK(values_at(key_values, {"nope"}).empty());
  CHECK(values_at(key_values, {"a", "deeper"}).empty());  // a is no map
}

TEST_CASE("collection view: absent places are empty, other types and bad limits are refused") {
  CHECK(view_of({}, view(client::view_kind::size))->size == 0);
  CHECK(!view_of({}, view(client::view_kind::size))->type);
  crdt::pn_counter c;
  c.add(self, 3);
  std::vector<crdt::value> counter{crdt::value{c}};
  auto r = view_of(counter, view(client::view_kind::size));
  REQUIRE(!r);
  CHECK(r.err().code == errc::type_mismatch);
  auto path = view_of(counter, view(client::view_kind::size, {"f"}));
  REQUIRE(!path);
  CHECK(path.err().code == errc::type_mismatch);
  crdt::or_map m;
  REQUIRE(m.update<crdt::pn_counter>("n", [](crdt::pn_counter& x) { return x.add(self, 1); }));
  auto field = view_of({crdt::value{m}}, view(client::view_kind::size, {"n"}));
  REQUIRE(!field);
  CHECK(field.err().code == errc::type_mismatch);
  CHECK(view_of({crdt::value{m}}, view(client::view_kind::size, {"absent"}))->size == 0);
  crdt::or_set s;
  for (auto limit : {0u, client::max_page_limit + 1}) {
    auto g = view(client::view_kind::page);
    g.limit = limit;
    auto bad = view_of({crdt::value{s}}, g);
    REQUIRE(!bad);
    CHECK(bad.err().code == errc::invalid_argument);
  }
  // An emptied set is an absent one.
  s.add(self, "x");
  s.remove("x");
  CHECK(!view_of({crdt::value{s}}, view(client::view_kind::size))->type);
}
