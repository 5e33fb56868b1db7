// or_sets stored decomposed (replication/set_records.hpp, replica_sets.cpp): the record forms, a
// randomized model test of windowed and whole updates, views, restarts and the migration of a
// whole record, and the full-transfer regression found by the simulation.
#include <doctest/doctest.h>

#include <map>
#include <random>
#include <set>
#include <string>

#include "crdt/codec.hpp"
#include "persistence/memory_store.hpp"
#include "replication/bucket_digests.hpp"
#include "replication/operations.hpp"
#include "replication/replica.hpp"
#include "replication/set_records.hpp"
#include "replication/storage_key.hpp"
#include "replication/stored_value.hpp"
#include "replication/value_layout.hpp"
#include "one_node.hpp"
#include "seed.hpp"

using namespace rumor;
using namespace rumor::replication;
using test::one_node;

namespace {

std::string meta_record(const persistence::store& s, const std::string& name) {
  auto r = s.get_meta(name);
  REQUIRE(r);
  return r->value_or("");
}

}  // namespace

TEST_CASE("set records: header and element round trip, long members, corrupt records refused") {
  set_records::header h;
  h.kv.set(7, 3);
  h.count = 2;
  h.element_sum = 0x1234;
  h.ctx = crdt::dot_context::of(std::vector<crdt::dot>{{7, 1}, {7, 5}});
  auto back = set_records::decode_header(set_records::encode_header(h));
  REQUIRE(back);
  CHECK(back->kv == h.kv);
  CHECK(back->count == 2);
  CHECK(back->element_sum == 0x1234);
  CHECK(back->ctx == h.ctx);
  CHECK_FALSE(set_records::decode_header(set_records::encode_header(h).substr(0, 3)));
  CHECK_FALSE(set_records::decode_header("\x02rest"));

  crdt::dot_set dots{{{9, 4}, {7, 2}}};
  auto el = set_records::decode_element(set_records::encode_element("member", dots));
  REQUIRE(el);
  CHECK(el->member == "member");
  CHECK(el->dots.dots() == dots.dots());
  CHECK_FALSE(set_records::decode_element(""));
  CHECK_FALSE(set_records::decode_element(std::string("\x01\x00", 2)));  // no dots
  std::string out_of_order = set_records::encode_element("m", crdt::dot_set{{{9, 4}}});
  out_of_order = std::string("\x01\x02", 2) + out_of_order.substr(2, 9) + out_of_order.substr(2, 9) + "m";
  CHECK_FALSE(set_records::decode_element(out_of_order));

  // Member keys: a member up to 480 bytes is its own key (byte order), a longer one 481 bytes.
  CHECK(set_records::member_key("abc") == "abc");
  std::string long_a(600, 'a'), long_b = long_a;
  long_b.back() = 'b';
  CHECK(set_records::member_key(long_a).size() == 481);
  CHECK(set_records::member_key(long_a) != set_records::member_key(long_b));
  CHECK(set_records::member_key(std::string(480, 'z')).size() == 480);
  std::string id = set_records::set_id(storage_key("k", crdt::type_tag::or_set));
  CHECK(id.size() == 16);
  CHECK(set_records::element_name(id, set_records::member_key(long_a)).size() <= 500);
}

TEST_CASE("replica sets: windowed and whole updates, views and restarts agree with a model") {
  uint64_t seed = test::seed_for("replica sets model");
  INFO("RUMOR_SEED=" << seed);
  std::mt19937_64 rng(seed);
  one_node n;
  std::set<std::string> model;
  // The members the changes' set diffs describe, replayed in order: each update says exactly
  // which members joined and left (the watch events of the actor are made of these).
  std::set<std::string> replayed;
  auto replay = [&] {
    for (const auto& c : n.changes) {
      REQUIRE(c.set);
      CHECK(c.set->complete);
      for (const auto& m : c.set->added) CHECK(replayed.insert(m).second);
      for (const auto& m : c.set->removed) CHECK(replayed.erase(m) == 1);
      CHECK(c.set->size == replayed.size());
    }
    n.changes.clear();
    CHECK(replayed == model);
  };
  auto member = [&] {
    // Mostly short members; some longer than a plain element key holds (set_records.hpp).
    uint64_t i = rng() % 40;
    return i < 36 ? "m" + std::to_string(i) : std::string(500, 'L') + std::to_string(i);
  };
  for (int step = 0; step < 400; ++step) {
    int what = static_cast<int>(rng() % 10);
    if (what < 4) {
      std::vector<std::string> ms{member()};
      if (rng() % 3 == 0) ms.push_back(member());
      n.update("s", ops::set_add(ms), rng() % 2 ? &ms : nullptr);
      model.insert(ms.begin(), ms.end());
    } else if (what < 7) {
      std::vector<std::string> ms{member()};
      n.update("s", ops::set_remove(ms), rng() % 2 ? &ms : nullptr);
      for (const auto& m : ms) model.erase(m);
    } else if (what == 7 && rng() % 4 == 0) {
      n.update("s", ops::remove_key());  // the whole set, as observed
      model.clear();
    } else if (what == 8) {
      n.commit(n.rep->take_ready());
      replay();
    } else if (rng() % 8 == 0) {
      n.commit(n.rep->take_ready());
      replay();
      n.restart();
    }
    // Reads see every update at once, committed or not.
    REQUIRE(n.members("s") == model);
    if (!model.empty()) {
      CHECK(n.view("s", {set_view_request::kind::size, {}, {}, 0}).size == model.size());
      std::string probe = member();
      CHECK(n.view("s", {set_view_request::kind::member, probe, {}, 0}).contains == (model.count(probe) == 1));
    }
  }
  n.commit(n.rep->take_ready());
  if (model.empty()) n.update("s", ops::set_add({"last"})), model.insert("last");
  n.commit(n.rep->take_ready());
  replay();
  // Paging the short members in byte order reaches every one exactly once.
  std::vector<std::string> paged;
  std::optional<std::string> after;
  for (int pages = 0; pages < 100; ++pages) {
    auto v = n.view("s", {set_view_request::kind::page, {}, after, 3});
    paged.insert(paged.end(), v.members.begin(), v.members.end());
    if (!v.more) break;
    after = v.members.back();
  }
  CHECK(std::set<std::string>(paged.begin(), paged.end()) == model);
  CHECK(paged.size() == model.size());
  // The stored header counts the model's members, and its records match it.
  std::string skey = storage_key("s", crdt::type_tag::or_set);
  auto raw = n.store.get_value(value_key(skey));
  REQUIRE(raw);
  REQUIRE(*raw);
  auto h = set_records::decode_header(**raw);
  REQUIRE(h);
  CHECK(h->count == model.size());
  size_t elements = 0, dots = 0;
  const std::string id = set_records::set_id(skey);
  REQUIRE(n.store.scan_meta(persistence::key_range::with_prefix(set_records::element_prefix(id)),
                            [&](std::string_view, std::string_view) { return ++elements, true; }));
  REQUIRE(n.store.scan_meta(persistence::key_range::with_prefix(set_records::dot_prefix(id)),
                            [&](std::string_view, std::string_view) { return ++dots, true; }));
  CHECK(elements == model.size());
  CHECK(dots == model.size());  // one node: each element holds the dot of its last add
}

TEST_CASE("replica sets: a set stored whole by an older build is read, then rewritten decomposed") {
  one_node n;
  // An older build's record: format 2, the whole or_set (as encode_stored writes it).
  crdt::or_set old;
  (void)old.add(5, "a");
  (void)old.add(5, "b");
  crdt::version_vector kv;
  kv.set(5, 2);
  std::string skey = storage_key("legacy", crdt::type_tag::or_set);
  std::string record = encode_stored(kv, crdt::encode(crdt::value{old}));
  persistence::write_batch b;
  b.put_value(value_key(skey), record);
  REQUIRE(n.store.commit(std::span(&b, 1)));
  n.restart();
  CHECK(n.members("legacy") == std::set<std::string>{"a", "b"});
  std::vector<std::string> touches{"c"};
  n.update("legacy", ops::set_add(touches), &touches);
  n.commit(n.rep->take_ready());
  CHECK(n.members("legacy") == std::set<std::string>{"a", "b", "c"});
  // Watches hear what the write did, not that every member of the migrated record appeared.
  REQUIRE(n.changes.back().set);
  CHECK(n.changes.back().set->added == std::vector<std::string>{"c"});
  CHECK(n.changes.back().set->removed.empty());
  CHECK(n.changes.back().set->size == 3);
  auto raw = n.store.get_value(value_key(skey));
  REQUIRE(raw);
  REQUIRE(*raw);
  REQUIRE(set_records::is_header(**raw));
  CHECK(set_records::decode_header(**raw)->count == 3);
  const std::string id = set_records::set_id(skey);
  CHECK_FALSE(meta_record(n.store, set_records::element_name(id, "a")).empty());
  CHECK_FALSE(meta_record(n.store, set_records::element_name(id, "b")).empty());
}

TEST_CASE("replica sets regression: a full transfer assembles a set from its committed header and elements") {
  // Found by the simulation (seed 16639371476120013992): a full-transfer chunk read the committed
  // header from the store but the elements through the uncommitted overlay, so a set with an
  // uncommitted add went out with a dot outside its context, which the receiver refused (or, since
  // the header's count is checked, no chunk went out at all).
  one_node n;
  n.update("s", ops::set_add({"a"}));
  n.commit(n.rep->take_ready());
  std::vector<std::string> touches{"b"};
  n.update("s", ops::set_add(touches), &touches);  // not committed yet
  n.rep->receive(99, full_sync_request{1, {}}, ++n.now);
  n.commit(n.rep->take_ready());
  const full_sync_chunk* chunk = nullptr;
  for (const auto& m : n.messages)
    if (const auto* c = std::get_if<full_sync_chunk>(&m.msg)) chunk = c;
  REQUIRE(chunk);
  REQUIRE(chunk->states.size() == 1);
  auto st = decode_stored(chunk->states[0].value);
  REQUIRE(st);
  auto v = crdt::decode(st->crdt);
  REQUIRE(v);  // a dot outside its context does not decode
  REQUIRE(v->get_if<crdt::or_set>());
  CHECK(v->get_if<crdt::or_set>()->elements() == std::vector<std::string>{"a"});
}
