// watch_events: how one replica step's changes become one event per key and type, and what an
// or_set's (or_map's) event says of its members (fields) when the step changed them several times.
#include <doctest/doctest.h>

#include "actors/watch_events.hpp"

using rumor::actors::event_carries_value;
using rumor::actors::merge_step;
using rumor::crdt::type_tag;
using rumor::replication::change;
using rumor::replication::set_diff;

namespace {

change set_change(std::string key, uint64_t origin, std::vector<std::string> added, std::vector<std::string> removed,
                  uint64_t size, bool complete = true) {
  set_diff d;
  d.size = size;
  d.added = std::move(added);
  d.removed = std::move(removed);
  d.complete = complete;
  return change{std::move(key), type_tag::or_set, origin, d};
}

change map_change(std::string key, uint64_t origin, std::vector<std::string> added, std::vector<std::string> removed,
                  std::vector<std::string> changed, uint64_t size) {
  set_diff d;
  d.size = size;
  d.added = std::move(added);
  d.removed = std::move(removed);
  d.changed = std::move(changed);
  return change{std::move(key), type_tag::or_map, origin, d};
}

}  // namespace

TEST_CASE("watch events: a step's changes of one key merge into one event, the last origin and size") {
  auto steps = merge_step({set_change("s", 1, {"a", "b"}, {}, 2), change{"c", type_tag::pn_counter, 7, {}},
                           set_change("s", 2, {"c"}, {"a"}, 2), change{"c", type_tag::pn_counter, 8, {}}});
  REQUIRE(steps.size() == 2);
  CHECK(steps[0].key == "c");
  CHECK(steps[0].origin == 8);
  CHECK_FALSE(steps[0].set);  // not a set
  CHECK(steps[1].key == "s");
  CHECK(steps[1].origin == 2);
  REQUIRE(steps[1].set);
  // a joined and left within the step: in neither list.
  CHECK(steps[1].set->added == std::vector<std::string>{"b", "c"});
  CHECK(steps[1].set->removed.empty());
  CHECK(steps[1].set->size == 2);
  CHECK(steps[1].set->complete);
}

TEST_CASE("watch events: a member that left and joined again within a step is in neither list") {
  auto steps = merge_step({set_change("s", 1, {}, {"x"}, 4), set_change("s", 1, {"x"}, {"y"}, 4)});
  REQUIRE(steps.size() == 1);
  REQUIRE(steps[0].set);
  CHECK(steps[0].set->added.empty());
  CHECK(steps[0].set->removed == std::vector<std::string>{"y"});
}

TEST_CASE("watch events: at most max_listed members, and an incomplete change stays incomplete") {
  std::vector<std::string> many;
  for (size_t i = 0; i < set_diff::max_listed; ++i) many.push_back("m" + std::to_string(1000000 + i));
  auto steps = merge_step({set_change("s", 1, many, {}, many.size()), set_change("s", 1, {"late"}, {}, many.size() + 1)});
  REQUIRE(steps[0].set);
  CHECK(steps[0].set->added.size() == set_diff::max_listed);
  CHECK_FALSE(steps[0].set->complete);
  // A change that already said it was incomplete.
  steps = merge_step({set_change("s", 1, {"a"}, {}, 5000, false)});
  CHECK_FALSE(steps[0].set->complete);
}

TEST_CASE("watch events: a set change that says nothing of members gives no set changes") {
  auto steps = merge_step({set_change("s", 1, {"a"}, {}, 1), change{"s", type_tag::or_set, 0, {}}});
  REQUIRE(steps.size() == 1);
  CHECK_FALSE(steps[0].set);
  // So its value is sent whatever the set's size.
  CHECK(event_carries_value(steps[0], true));
}

TEST_CASE("watch events: a big set's value goes only to watches without set changes") {
  auto big = merge_step({set_change("s", 1, {"a"}, {}, rumor::client::watch_value_max_members + 1)});
  auto edge = merge_step({set_change("s", 1, {"a"}, {}, rumor::client::watch_value_max_members)});
  CHECK_FALSE(event_carries_value(big[0], true));
  CHECK(event_carries_value(big[0], false));
  CHECK(event_carries_value(edge[0], true));
}

TEST_CASE("watch events: a map's fields that appeared, went and were written merge over a step") {
  // a: appeared then written (added); b: written then removed (removed); c: written twice
  // (changed); d: appeared and went (in no list); e: removed then written again (changed).
  auto steps = merge_step({map_change("m", 1, {"a", "d"}, {"e"}, {"b", "c"}, 10),
                           map_change("m", 2, {"e"}, {"b", "d"}, {"a", "c"}, 9)});
  REQUIRE(steps.size() == 1);
  REQUIRE(steps[0].set);
  CHECK(steps[0].set->type == type_tag::or_map);
  CHECK(steps[0].set->added == std::vector<std::string>{"a"});
  CHECK(steps[0].set->removed == std::vector<std::string>{"b"});
  CHECK(steps[0].set->changed == std::vector<std::string>{"c", "e"});
  CHECK(steps[0].set->size == 9);
  CHECK(steps[0].origin == 2);
  // A set never reports `changed`: a member that left and joined again is where it was.
  auto set_steps = merge_step({set_change("s", 1, {}, {"x"}, 1), set_change("s", 1, {"x"}, {}, 1)});
  REQUIRE(set_steps[0].set);
  CHECK(set_steps[0].set->type == type_tag::or_set);
  CHECK(set_steps[0].set->changed.empty());
  CHECK(set_steps[0].set->added.empty());
}

TEST_CASE("watch events: a big map's value goes only to watches without set changes") {
  auto big = merge_step({map_change("m", 1, {}, {}, {"f"}, rumor::client::watch_value_max_members + 1)});
  CHECK_FALSE(event_carries_value(big[0], true));
  CHECK(event_carries_value(big[0], false));
  // A map change that said nothing of its fields (an older path): the value goes to everyone.
  auto unknown = merge_step({change{"m", type_tag::or_map, 0, {}}});
  CHECK_FALSE(unknown[0].set);
  CHECK(event_carries_value(unknown[0], true));
}
