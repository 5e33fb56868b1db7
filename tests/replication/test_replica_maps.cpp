// or_maps stored decomposed (replication/map_records.hpp, replica_maps.cpp): the field record
// form, a randomized model test of windowed and whole updates, field removals, key deletion and
// restarts, the records' bookkeeping, and the migration of a whole record.
#include <doctest/doctest.h>

#include <map>
#include <random>
#include <set>
#include <string>

#include "crdt/codec.hpp"
#include "one_node.hpp"
#include "replication/map_records.hpp"
#include "replication/operations.hpp"
#include "replication/set_records.hpp"
#include "replication/storage_key.hpp"
#include "replication/stored_value.hpp"
#include "replication/value_layout.hpp"
#include "seed.hpp"

using namespace rumor;
using namespace rumor::replication;
using test::one_node;

namespace {

constexpr auto map_type = crdt::type_tag::or_map;

// What a map holds, as a reader sees it: field (name, type) -> its content as text.
using observed = std::map<std::pair<std::string, int>, std::string>;

observed observe(const crdt::or_map& m) {
  observed out;
  for (const auto& f : m.fields()) {
    std::string shown;
    switch (f.type) {
      case crdt::type_tag::pn_counter: shown = std::to_string(m.get<crdt::pn_counter>(f.name)->value()); break;
      case crdt::type_tag::lww_register: shown = m.get<crdt::lww_register>(f.name)->read().value_or("?"); break;
      case crdt::type_tag::or_set:
        for (const auto& e : m.get<crdt::or_set>(f.name)->elements()) shown += e + ",";
        break;
      default: shown = "other";
    }
    out[{f.name, static_cast<int>(f.type)}] = shown;
  }
  return out;
}

observed read_map(one_node& n, const std::string& key) {
  auto v = n.rep->get(key);
  REQUIRE(v);
  for (const auto& x : *v)
    if (const auto* m = x.get_if<crdt::or_map>()) return observe(*m);
  return {};
}

mutator counter_add(int64_t n) {
  return [n](crdt::value& v, node_id self, crdt::hlc_timestamp) -> result<crdt::value> {
    auto d = n >= 0 ? v.get_if<crdt::pn_counter>()->increment(self, static_cast<uint64_t>(n))
                    : v.get_if<crdt::pn_counter>()->decrement(self, static_cast<uint64_t>(-n));
    if (!d) return d.err();
    return crdt::value{*d};
  };
}

mutator register_set(std::string value) {
  return [value](crdt::value& v, node_id self, crdt::hlc_timestamp ts) -> result<crdt::value> {
    return crdt::value{v.get_if<crdt::lww_register>()->assign(self, ts, value)};
  };
}

size_t count_meta(const persistence::store& s, const std::string& prefix) {
  size_t n = 0;
  REQUIRE(s.scan_meta(persistence::key_range::with_prefix(prefix), [&](std::string_view, std::string_view) {
    return ++n, true;
  }));
  return n;
}

}  // namespace

TEST_CASE("map records: field round trip of every field type, corrupt records refused") {
  crdt::or_map m;
  REQUIRE(m.update<crdt::pn_counter>("c", [](crdt::pn_counter& c) { return c.increment(7, 3); }));
  REQUIRE(m.update<crdt::or_set>("s", [](crdt::or_set& s) { return s.add(7, "x"); }));
  (void)m.update<crdt::lww_register>("r", [](crdt::lww_register& r) { return r.assign(7, crdt::hlc_timestamp{99}, "v"); });
  REQUIRE(m.update<crdt::or_map>("inner", [](crdt::or_map& in) {
    return in.update<crdt::ew_flag>("f", [](crdt::ew_flag& f) { return f.enable(7); });
  }));
  for (const auto& [k, store] : m.store().entries()) {
    auto back = map_records::decode_field(map_records::encode_field(k, store));
    REQUIRE(back);
    CHECK(back->key == k);
    CHECK(back->store == store);
  }
  const auto& [k, store] = *m.store().entries().begin();
  std::string rec = map_records::encode_field(k, store);
  CHECK_FALSE(map_records::decode_field(""));
  CHECK_FALSE(map_records::decode_field(rec.substr(0, 4)));
  std::string wrong_type = rec;
  wrong_type[1] = static_cast<char>(crdt::type_tag::ew_flag);  // says flag, holds a counter
  CHECK_FALSE(map_records::decode_field(wrong_type));
  std::string wrong_version = rec;
  wrong_version[0] = 9;
  CHECK_FALSE(map_records::decode_field(wrong_version));
  // Field record names are in (name, type) order, a name's types adjacent, names with NULs too.
  std::vector<crdt::field_key> keys{{"", crdt::type_tag::or_set},
                                    {"a", crdt::type_tag::g_counter},
                                    {"a", crdt::type_tag::or_map},
                                    {std::string("a\0", 2), crdt::type_tag::g_counter},
                                    {std::string("a\0\x01", 3), crdt::type_tag::g_counter},
                                    {std::string("a\x01", 2), crdt::type_tag::g_counter},
                                    {"ab", crdt::type_tag::ew_flag},
                                    {"b", crdt::type_tag::g_counter}};
  for (size_t i = 0; i + 1 < keys.size(); ++i) {
    INFO("field " << i);
    REQUIRE(keys[i] < keys[i + 1]);
    CHECK(map_records::field_key_bytes(keys[i]) < map_records::field_key_bytes(keys[i + 1]));
    CHECK(map_records::field_key_bytes(keys[i]).starts_with(map_records::name_key(keys[i].name)));
    if (keys[i].name != keys[i + 1].name) {
      // Outside the range of the name's records (name_key ‖ 1 .. name_key ‖ 8).
      std::string next = map_records::field_key_bytes(keys[i + 1]);
      CHECK(next > map_records::name_key(keys[i].name) + '\x08');
    }
  }
  // A long name: its types share a prefix that no other name's record starts with.
  std::string long_a(600, 'a'), long_b = long_a;
  long_b.back() = 'b';
  CHECK(map_records::name_key(long_a) != map_records::name_key(long_b));
  CHECK(map_records::name_key(long_a).size() == map_records::max_plain_name + 11);
  CHECK_FALSE(map_records::name_key(long_b).starts_with(map_records::name_key(long_a)));
  CHECK(set_records::element_name(std::string(16, 'i'), map_records::field_key_bytes({long_a, crdt::type_tag::or_map})).size() <= 500);
  // A header of format 4 is a decomposed record, not a set's.
  set_records::header h;
  h.count = 1;
  std::string header = set_records::encode_header(h, map_records::header_format);
  CHECK(map_records::is_header(header));
  CHECK_FALSE(set_records::is_header(header));
  CHECK(set_records::is_decomposed(header));
  REQUIRE(set_records::decode_header(header));
  CHECK_FALSE(decode_stored(header));  // not a whole value
}

TEST_CASE("replica maps: windowed and whole updates, removals, deletion and restarts agree with a model") {
  uint64_t seed = test::seed_for("replica maps model");
  INFO("RUMOR_SEED=" << seed);
  std::mt19937_64 rng(seed);
  one_node n;
  observed model;
  size_t windowed = 0, whole = 0, replies_checked = 0;
  std::map<uint64_t, size_t> expected_size;  // request -> the map's size after it
  for (int step = 0; step < 500; ++step) {
    int what = static_cast<int>(rng() % 12);
    // Names with NUL bytes too, one a prefix of another's record name ("f1" ‖ 0, then "f1\0" ‖ 0xFF 0).
    const std::string odd[] = {std::string("f1\0", 3), std::string("f1\0\x01", 4), std::string(480, 'L')};
    uint64_t pick = rng() % 15;
    std::string name = pick < 12 ? "f" + std::to_string(pick) : odd[pick - 12];
    std::vector<std::string> touches{name};
    bool window = rng() % 2 == 0;
    auto update = [&](const mutator& m) {
      n.update("m", m, window ? &touches : nullptr, map_type);
      (window ? windowed : whole) += 1;
    };
    const int counter = static_cast<int>(crdt::type_tag::pn_counter);
    const int reg = static_cast<int>(crdt::type_tag::lww_register);
    const int set = static_cast<int>(crdt::type_tag::or_set);
    if (what < 3) {
      int64_t by = static_cast<int64_t>(rng() % 9) - 4;
      update(ops::map_update(name, crdt::type_tag::pn_counter, counter_add(by)));
      auto& shown = model[{name, counter}];
      shown = std::to_string((shown.empty() ? 0 : std::stoll(shown)) + by);
    } else if (what < 5) {
      std::string value = "v" + std::to_string(rng() % 50);
      update(ops::map_update(name, crdt::type_tag::lww_register, register_set(value)));
      model[{name, reg}] = value;
    } else if (what < 8) {
      std::string e = "e" + std::to_string(rng() % 6);
      bool add = rng() % 3 != 0;
      update(ops::map_update(name, crdt::type_tag::or_set, add ? ops::set_add({e}) : ops::set_remove({e})));
      std::set<std::string> members;
      if (auto it = model.find({name, set}); it != model.end()) {
        std::string rest = it->second;
        for (size_t at; (at = rest.find(',')) != std::string::npos; rest = rest.substr(at + 1)) members.insert(rest.substr(0, at));
      }
      if (add) members.insert(e);
      else members.erase(e);
      std::string shown;
      for (const auto& m : members) shown += m + ",";
      if (shown.empty()) model.erase({name, set});
      else model[{name, set}] = shown;
    } else if (what < 10) {
      update(ops::map_remove(name));  // every type of the name
      for (auto it = model.begin(); it != model.end();) it = it->first.first == name ? model.erase(it) : std::next(it);
    } else if (what == 10 && rng() % 4 == 0) {
      n.update("m", ops::remove_key(), nullptr, map_type);
      model.clear();
      expected_size[n.next_request - 1] = 0;
    } else if (what == 11) {
      n.commit(n.rep->take_ready());
      if (rng() % 4 == 0) n.restart();
    }
    // A counter field that went back to 0 is still a field (it holds dots).
    REQUIRE(read_map(n, "m") == model);
    // The reply of each update (held until its batch commits) holds the map, or a window onto it,
    // whose size is the whole map's after that update.
    if (what < 10 && n.next_request > 1) expected_size[n.next_request - 1] = model.size();
    for (const auto& x : n.replies) {
      REQUIRE(x.result);
      REQUIRE(x.update);
      REQUIRE(expected_size.count(x.request));
      const auto* m = x.update->value.get_if<crdt::or_map>();
      REQUIRE(m);
      CHECK(m->size() == expected_size[x.request]);
      ++replies_checked;
    }
    n.replies.clear();
  }
  CHECK(replies_checked > 100);
  CHECK(windowed > 100);
  CHECK(whole > 100);
  n.commit(n.rep->take_ready());
  // The header counts the model's fields; one field record each, one dot index record per dot.
  std::string skey = storage_key("m", map_type);
  auto raw = n.store.get_value(value_key(skey));
  REQUIRE(raw);
  REQUIRE(*raw);
  REQUIRE(map_records::is_header(**raw));
  auto h = set_records::decode_header(**raw);
  REQUIRE(h);
  CHECK(h->count == model.size());
  const std::string id = set_records::set_id(skey);
  CHECK(count_meta(n.store, set_records::element_prefix(id)) == model.size());
  auto whole_value = n.rep->get("m");
  REQUIRE(whole_value);
  size_t dots = 0;
  for (const auto& v : *whole_value)
    if (const auto* m = v.get_if<crdt::or_map>()) m->store().for_each_dot([&](const crdt::dot&) { ++dots; });
  CHECK(count_meta(n.store, set_records::dot_prefix(id)) == dots);
}

TEST_CASE("replica maps: a windowed field update reads and writes that field's records only") {
  one_node n;
  for (int i = 0; i < 200; ++i) {
    std::vector<std::string> touches{"f" + std::to_string(i)};
    n.update("m", ops::map_update(touches[0], crdt::type_tag::pn_counter, counter_add(1)), &touches, map_type);
  }
  n.commit(n.rep->take_ready());
  // One more update of one field: its batch writes that field's record and dot index records and
  // the header, not the other 199 fields.
  std::vector<std::string> touches{"f7"};
  n.update("m", ops::map_update("f7", crdt::type_tag::pn_counter, counter_add(5)), &touches, map_type);
  ready r = n.rep->take_ready();
  REQUIRE(r.batches.size() == 1);
  size_t field_records = 0;
  const std::string id = set_records::set_id(storage_key("m", map_type));
  const auto& batch = r.batches[0].batch;
  for (size_t i = 0; i < batch.size(); ++i)
    if (batch.op(i).key.starts_with(set_records::element_prefix(id))) ++field_records;
  CHECK(field_records == 1);
  n.commit(std::move(r));
  REQUIRE_FALSE(n.replies.empty());
  const auto& last = n.replies.back();
  REQUIRE(last.update);
  const auto* window = last.update->value.get_if<crdt::or_map>();
  REQUIRE(window);
  CHECK(window->hidden() == 199);
  CHECK(window->size() == 200);
  CHECK(read_map(n, "m")[{"f7", static_cast<int>(crdt::type_tag::pn_counter)}] == "6");
  // What the write did, for watches: one field changed in place, 200 after.
  REQUIRE(n.changes.back().set);
  CHECK(n.changes.back().set->changed == std::vector<std::string>{"f7"});
  CHECK(n.changes.back().set->added.empty());
  CHECK(n.changes.back().set->removed.empty());
  CHECK(n.changes.back().set->size == 200);
}

TEST_CASE("replica maps: a write says which fields appeared, went and changed, per type, windowed or whole") {
  one_node n;
  auto step = [&](const mutator& m, const std::string& name, bool windowed) {
    std::vector<std::string> touches{name};
    n.update("m", m, windowed ? &touches : nullptr, map_type);
    n.commit(n.rep->take_ready());
    REQUIRE_FALSE(n.changes.empty());
    REQUIRE(n.changes.back().set);
    return *n.changes.back().set;
  };
  using list = std::vector<std::string>;
  for (bool windowed : {true, false}) {
    INFO("windowed " << windowed);
    n.update("m", ops::remove_key(), nullptr, map_type);
    n.commit(n.rep->take_ready());
    auto d = step(ops::map_update("a", crdt::type_tag::pn_counter, counter_add(1)), "a", windowed);
    CHECK(d.added == list{"a"});
    CHECK(d.size == 1);
    d = step(ops::map_update("b", crdt::type_tag::lww_register, register_set("x")), "b", windowed);
    CHECK(d.added == list{"b"});
    CHECK(d.size == 2);
    d = step(ops::map_update("a", crdt::type_tag::pn_counter, counter_add(2)), "a", windowed);
    CHECK(d.changed == list{"a"});
    CHECK(d.added.empty());
    CHECK(d.size == 2);
    // A second type under a name is a field of its own.
    d = step(ops::map_update("a", crdt::type_tag::or_set, ops::set_add({"e"})), "a", windowed);
    CHECK(d.added == list{"a"});
    CHECK(d.changed.empty());
    CHECK(d.size == 3);
    // Removing a name removes each of its types: listed once per type.
    d = step(ops::map_remove("a"), "a", windowed);
    CHECK(d.removed == list{"a", "a"});
    CHECK(d.size == 1);
    d = step(ops::map_remove("b"), "b", windowed);
    CHECK(d.removed == list{"b"});
    CHECK(d.size == 0);
    CHECK(d.complete);
  }
}

TEST_CASE("replica maps: a map stored whole by an older build is read, then rewritten decomposed") {
  one_node n;
  crdt::or_map old;
  REQUIRE(old.update<crdt::pn_counter>("a", [](crdt::pn_counter& c) { return c.increment(5, 2); }));
  REQUIRE(old.update<crdt::or_set>("b", [](crdt::or_set& s) { return s.add(5, "x"); }));
  crdt::version_vector kv;
  kv.set(5, 2);
  std::string skey = storage_key("legacy", map_type);
  persistence::write_batch b;
  b.put_value(value_key(skey), encode_stored(kv, crdt::encode(crdt::value{old})));
  REQUIRE(n.store.commit(std::span(&b, 1)));
  n.restart();
  observed before = read_map(n, "legacy");
  CHECK(before.size() == 2);
  std::vector<std::string> touches{"c"};
  n.update("legacy", ops::map_update("c", crdt::type_tag::lww_register, register_set("new")), &touches, map_type);
  n.commit(n.rep->take_ready());
  observed after = read_map(n, "legacy");
  CHECK(after.size() == 3);
  // Watches hear what the write did, not that every field of the migrated record appeared.
  REQUIRE(n.changes.back().set);
  CHECK(n.changes.back().set->added == std::vector<std::string>{"c"});
  CHECK(n.changes.back().set->changed.empty());
  CHECK(n.changes.back().set->size == 3);
  CHECK(after[{"a", static_cast<int>(crdt::type_tag::pn_counter)}] == "2");
  CHECK(after[{"c", static_cast<int>(crdt::type_tag::lww_register)}] == "new");
  auto raw = n.store.get_value(value_key(skey));
  REQUIRE(raw);
  REQUIRE(*raw);
  REQUIRE(map_records::is_header(**raw));
  CHECK(set_records::decode_header(**raw)->count == 3);
  CHECK(count_meta(n.store, set_records::element_prefix(set_records::set_id(skey))) == 3);

  // Another key from a whole record, by a whole update that changes one field; then one removed.
  persistence::write_batch again;
  again.put_value(value_key(storage_key("legacy2", map_type)), encode_stored(kv, crdt::encode(crdt::value{old})));
  REQUIRE(n.store.commit(std::span(&again, 1)));
  n.restart();
  n.update("legacy2", ops::map_update("a", crdt::type_tag::pn_counter, counter_add(1)), nullptr, map_type);
  n.commit(n.rep->take_ready());
  REQUIRE(n.changes.back().set);
  CHECK(n.changes.back().set->changed == std::vector<std::string>{"a"});
  CHECK(n.changes.back().set->added.empty());
  n.update("legacy2", ops::map_remove("b"), nullptr, map_type);
  n.commit(n.rep->take_ready());
  REQUIRE(n.changes.back().set);
  CHECK(n.changes.back().set->removed == std::vector<std::string>{"b"});
  CHECK(n.changes.back().set->size == 1);
}
