// Repair of big maps by their fields (replication/replica_element_repair.cpp): an or_map stored
// decomposed (map_records.hpp) that differs by a few fields between two replicas is repaired with
// bytes in proportion to the difference; one too different for a table comes in pages; a wiped
// node bootstraps a big map in pages, never as one record. The result is the map join: a field
// removed on one side and updated concurrently on the other keeps the concurrent update.
// (The seeded simulation with --maps runs half its schedules with every map repaired this way.)
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "crdt/lww_register.hpp"
#include "crdt/pn_counter.hpp"
#include "replication/map_records.hpp"
#include "replication/operations.hpp"
#include "replication/set_records.hpp"
#include "replication/storage_key.hpp"
#include "replication/value_layout.hpp"
#include "seed.hpp"
#include "sim.hpp"

using namespace rumor;
using namespace rumor::replication;
using namespace rumor::sim;

namespace {

constexpr int fields = 3'000;

std::string name(int i) { return "f-" + std::to_string(i); }

// Adds `by` to the counter field `field` of "big" on node `at`.
void add(simulation& s, size_t at, const std::string& field, int64_t by) {
  std::vector<std::string> touches{field};
  s.update(at, "big", crdt::type_tag::or_map, ops::map_update(field, crdt::type_tag::pn_counter, ops::counter_add(by)),
           consistency::local, 5'000, nullptr, &touches);
}

// Sets the register field `field` of "big" on node `at`.
void assign(simulation& s, size_t at, const std::string& field, const std::string& value) {
  std::vector<std::string> touches{field};
  s.update(at, "big", crdt::type_tag::or_map, ops::map_update(field, crdt::type_tag::lww_register, ops::register_set(value)),
           consistency::local, 5'000, nullptr, &touches);
}

void remove_field(simulation& s, size_t at, const std::string& field) {
  std::vector<std::string> touches{field};
  s.update(at, "big", crdt::type_tag::or_map, ops::map_remove(field), consistency::local, 5'000, nullptr, &touches);
}

std::string header_at(simulation& s, size_t i) {
  auto raw = s.at(i).store->get_value(value_key(storage_key("big", crdt::type_tag::or_map)));
  return raw && *raw ? **raw : std::string();
}

uint64_t count_at(simulation& s, size_t i) {
  auto h = set_records::decode_header(header_at(s, i));
  return h ? h->count : 0;
}

// The stored field (`field`, `type`) of "big" on node i.
std::optional<crdt::nested_store> field_at(simulation& s, size_t i, const std::string& field, crdt::type_tag type) {
  const std::string id = set_records::set_id(storage_key("big", crdt::type_tag::or_map));
  auto rec = s.at(i).store->get_meta(set_records::element_name(id, map_records::field_key_bytes({field, type})));
  if (!rec || !*rec) return std::nullopt;
  auto f = map_records::decode_field(**rec);
  REQUIRE(f);
  return f->store;
}

std::optional<int64_t> counter_at(simulation& s, size_t i, const std::string& field) {
  auto st = field_at(s, i, field, crdt::type_tag::pn_counter);
  if (!st) return std::nullopt;
  return crdt::pn_counter{std::get<crdt::pn_counter::store_type>(st->variant()), {}}.value();
}

std::optional<std::string> register_at(simulation& s, size_t i, const std::string& field) {
  auto st = field_at(s, i, field, crdt::type_tag::lww_register);
  if (!st) return std::nullopt;
  return crdt::lww_register{std::get<crdt::lww_register::store_type>(st->variant()), {}}.read();
}

bool same_big_map(simulation& s) {
  std::string h = header_at(s, 0);
  return !h.empty() && h == header_at(s, 1) && s.at(0).rep->vv() == s.at(1).rep->vv();
}

// Starts the two nodes and gives "big" on node 0 `fields` fields: counters f-0, f-2, …, and
// registers f-1, f-3, …, plus f-0 as a register too (a name with two types). True once node 1
// holds the same map.
bool start_with_big_map(simulation& s) {
  s.start_all();
  s.run_for(2'000);
  for (int i = 0; i < fields; ++i) {
    if (i % 2 == 0) add(s, 0, name(i), i + 1);
    else assign(s, 0, name(i), "v" + std::to_string(i));
    if (i % 500 == 499) s.run_for(50);
  }
  assign(s, 0, name(0), "also a register");
  return s.run_until([&] { return same_big_map(s); }, 120'000).has_value();
}

}  // namespace

TEST_CASE("map repair: a big map that differs by a few fields on each side is repaired by its fields") {
  uint64_t seed = test::seed_for("map repair");
  INFO("RUMOR_SEED=" << seed);
  simulation s(seed, sim_config::quick_probes(2));
  REQUIRE(start_with_big_map(s));
  REQUIRE(count_at(s, 1) == fields + 1);

  s.partition({{0}, {1}});
  s.run_for(5'000);  // each declares the other dead and truncates its log without it
  // Node 0: a new field, one counter updated, one register removed; node 1: a new field, a
  // register updated, and a counter removed that node 0 updates concurrently (its update wins).
  add(s, 0, "new-on-0", 7);
  add(s, 0, name(10), 100);
  remove_field(s, 0, name(11));
  assign(s, 1, "new-on-1", "hello");
  assign(s, 1, name(13), "changed on 1");
  remove_field(s, 1, name(20));
  add(s, 0, name(20), 5);
  s.run_for(5'000);
  CHECK(s.at(0).rep->delta_log_size() == 0);
  CHECK(s.at(1).rep->delta_log_size() == 0);
  s.reset_counters();
  s.heal();
  REQUIRE(s.run_until([&] { return same_big_map(s); }, 60'000));
  s.run_for(2'000);  // answers still in flight count too

  for (size_t i = 0; i < 2; ++i) {
    INFO("node " << i);
    CHECK(counter_at(s, i, "new-on-0") == 7);
    CHECK(register_at(s, i, "new-on-1") == "hello");
    CHECK(counter_at(s, i, name(10)) == 11 + 100);
    CHECK_FALSE(register_at(s, i, name(11)));
    CHECK(register_at(s, i, name(13)) == "changed on 1");
    // Removed on 1 as observed there; node 0's concurrent update keeps node 0's whole total
    // (or_map.hpp: a counter contribution is its node's running total).
    CHECK(counter_at(s, i, name(20)) == 21 + 5);
    CHECK(counter_at(s, i, name(0)) == 1);
    CHECK(register_at(s, i, name(0)) == "also a register");
    CHECK(register_at(s, i, name(2'999)) == "v2999");
    CHECK(count_at(s, i) == fields + 1 + 2 - 1);
  }
  uint64_t bytes = s.repair_bytes();
  uint64_t sessions = s.at(0).rep->stats().repairs_started + s.at(1).rep->stats().repairs_started;
  MESSAGE("repair of a " << fields + 1 << "-field map differing by 6 fields: " << bytes << " bytes in " << sessions
                         << " sessions; set_recon_request " << s.messages_of("set_recon_request") << ", set_recon_answer "
                         << s.messages_of("set_recon_answer") << ", state_push " << s.messages_of("state_push") << " ("
                         << s.bytes_of("state_push") << " bytes)");
  CHECK(sessions >= 1);
  CHECK(s.at(0).rep->stats().sets_repaired_by_elements + s.at(1).rep->stats().sets_repaired_by_elements >= 1);
  // Never the whole map (~60 KB): a few tables and the differing fields.
  CHECK(bytes <= 4'096 * sessions);
  CHECK(s.messages_of("full_sync_request") == 0);
}

TEST_CASE("map repair: a map too different to compare by a table is fetched in pages, both sides' changes kept") {
  uint64_t seed = test::seed_for("map repair pages");
  INFO("RUMOR_SEED=" << seed);
  auto cfg = sim_config::quick_probes(2);
  cfg.replica.set_recon_max_cells = 64;      // a few dozen differing fields at most
  cfg.replica.set_recon_page_bytes = 1'000;  // pages of a few dozen fields: pages cut between a name's types
  simulation s(seed, cfg);
  REQUIRE(start_with_big_map(s));
  s.partition({{0}, {1}});
  s.run_for(5'000);
  // Node 0 updates 300 counters and gives 200 registers a counter of the same name; node 1
  // removes 100 registers and updates one counter node 0 updates too.
  for (int i = 0; i < 600; i += 2) add(s, 0, name(i), 1'000);
  for (int i = 1; i < 400; i += 2) add(s, 0, name(i), 3);
  for (int i = 1'001; i < 1'201; i += 2) remove_field(s, 1, name(i));
  add(s, 1, name(2), 50);
  s.run_for(5'000);
  s.reset_counters();
  s.heal();
  REQUIRE(s.run_until([&] { return same_big_map(s); }, 120'000));
  for (size_t i = 0; i < 2; ++i) {
    INFO("node " << i);
    CHECK(counter_at(s, i, name(2)) == 3 + 1'000 + 50);
    CHECK(counter_at(s, i, name(598)) == 599 + 1'000);
    CHECK(counter_at(s, i, name(1)) == 3);
    CHECK(register_at(s, i, name(1)) == "v1");
    CHECK(counter_at(s, i, name(399)) == 3);
    CHECK(register_at(s, i, name(399)) == "v399");
    CHECK_FALSE(register_at(s, i, name(1'001)));
    CHECK_FALSE(register_at(s, i, name(1'199)));
    CHECK(register_at(s, i, name(1'201)) == "v1201");
    CHECK(count_at(s, i) == fields + 1 + 200 - 100);
  }
  MESSAGE("pages: set_recon_request " << s.messages_of("set_recon_request") << ", set_recon_answer "
                                      << s.messages_of("set_recon_answer") << ", " << s.repair_bytes() << " bytes; sessions "
                                      << s.at(0).rep->stats().repairs_started << "+" << s.at(1).rep->stats().repairs_started
                                      << ", finished " << s.at(0).rep->stats().repairs_finished << "+"
                                      << s.at(1).rep->stats().repairs_finished);
  CHECK(s.messages_of("set_recon_request") > 10);  // paged, not one whole record
  CHECK(s.messages_of("state_push") == 0);
}

TEST_CASE("map transfer: a wiped node bootstraps a big map in pages, not as one record, with updates meanwhile") {
  uint64_t seed = test::seed_for("map transfer pages");
  INFO("RUMOR_SEED=" << seed);
  auto cfg = sim_config::quick_probes(2);
  cfg.replica.set_recon_page_bytes = 4'000;  // ~150 fields per page
  simulation s(seed, cfg);
  REQUIRE(start_with_big_map(s));
  s.reset_counters();
  s.wipe(1);
  // While the pages come: node 0 removes fields across the whole key range, adds and updates.
  s.run_for(300);
  int removed = 0;
  for (int i = 1; i < fields; i += 2 * 97, ++removed) remove_field(s, 0, name(i));
  for (int i = 0; i < 20; ++i) assign(s, 0, "late-" + std::to_string(i), "late");
  add(s, 0, name(2'998), 1);
  REQUIRE(s.run_until([&] { return same_big_map(s); }, 120'000));
  CHECK(count_at(s, 1) == fields + 1 - removed + 20);
  CHECK(register_at(s, 1, "late-19") == "late");
  CHECK(counter_at(s, 1, name(2'998)) == 2'999 + 1);
  CHECK(register_at(s, 1, name(3)) == "v3");
  CHECK_FALSE(register_at(s, 1, name(1 + 2 * 97)));
  CHECK(s.at(1).rep->stats().sets_transferred_in_pages >= 1);
  const uint64_t chunks = s.bytes_of("full_sync_chunk");
  MESSAGE("full_sync_chunk bytes " << chunks << ", set_recon_answer " << s.messages_of("set_recon_answer") << " messages");
  CHECK(chunks < 4'000);  // the map's header, not its ~60 KB
  CHECK(s.messages_of("set_recon_answer") >= 10);
}

TEST_CASE("map repair: a map deleted on one side while fields are written on the other") {
  uint64_t seed = test::seed_for("map repair delete");
  INFO("RUMOR_SEED=" << seed);
  auto cfg = sim_config::quick_probes(2);
  cfg.replica.set_recon_min_elements = 0;   // every map is compared by its fields
  cfg.replica.collect_tombstones = false;   // the deleted map keeps its header here
  simulation s(seed, cfg);
  s.start_all();
  s.run_for(2'000);
  add(s, 0, "a", 1);
  assign(s, 0, "b", "x");
  add(s, 0, "c", 3);
  REQUIRE(s.run_until([&] { return s.converged() && same_big_map(s); }, 60'000));
  s.partition({{0}, {1}});
  s.run_for(5'000);
  s.update(0, "big", crdt::type_tag::or_map, ops::remove_key(), consistency::local, 5'000, nullptr);
  add(s, 1, "c", 10);     // an update of a field the delete observed
  assign(s, 1, "d", "y");  // a new field
  s.run_for(5'000);
  s.reset_counters();
  s.heal();
  REQUIRE(s.run_until([&] { return s.converged(); }, 60'000));
  // Reset-on-remove: the delete removed what node 0 had seen; node 1's concurrent writes survive.
  for (size_t i = 0; i < 2; ++i) {
    INFO("node " << i);
    CHECK_FALSE(counter_at(s, i, "a"));
    CHECK_FALSE(register_at(s, i, "b"));
    CHECK(counter_at(s, i, "c") == 10);  // node 1's contribution only (node 0's 3 was removed)
    CHECK(register_at(s, i, "d") == "y");
    CHECK(count_at(s, i) == 2);
  }
  CHECK(s.messages_of("set_recon_request") >= 1);
}

TEST_CASE("map repair: a node holding a big map the cluster collected drops the dead fields only, by a window") {
  // As the set's case (test_set_repair.cpp): node 2, cut off since it started, holds the map from
  // before its deletion, adds fields of its own and adds to an old counter field. Its full transfer
  // retires the map: node 0's dots are dead (the peer had applied all its updates), and are dropped
  // through a window onto the fields holding them; the old counter keeps node 2's addition only.
  uint64_t seed = test::seed_for("map retire window");
  INFO("RUMOR_SEED=" << seed);
  auto cfg = sim_config::quick_probes(2);
  simulation s(seed, cfg);
  s.start_all();
  s.run_for(2'000);
  for (int i = 0; i < 300; ++i) add(s, 0, name(i), i + 1);
  REQUIRE(s.run_until([&] { return s.converged() && same_big_map(s); }, 60'000));
  const std::string skey = storage_key("big", crdt::type_tag::or_map);
  auto before_delete = s.dump(s.at(0));
  REQUIRE(before_delete.count(skey) == 1);
  s.update(1, "big", crdt::type_tag::or_map, ops::remove_key(), consistency::local, 5'000, nullptr);
  REQUIRE(s.run_until([&] { return header_at(s, 0).empty() && header_at(s, 1).empty(); }, 30'000));

  size_t late = s.add_node();
  s.partition({{late}});
  s.at(late).rep->receive(s.at(0).rep->id(), state_push{0, {key_state{skey, before_delete.at(skey)}}, {}, {}}, s.now());
  s.run_for(100);
  REQUIRE(count_at(s, late) == 300);
  add(s, late, name(5), 1'000);
  for (int i = 0; i < 300; ++i) assign(s, late, "new-" + std::to_string(i), "n");
  s.run_for(500);
  REQUIRE(count_at(s, late) == 600);
  REQUIRE(counter_at(s, late, name(5)) == 1'006);

  // Node 2 answers no reconciliation until it has bootstrapped (see the set's case).
  s.drop_kind(late, "recon_request");
  s.heal();
  REQUIRE(s.run_until([&] { return s.all_bootstrapped(); }, 30'000));
  CHECK(s.at(late).rep->stats().stale_states == 1);
  CHECK(count_at(s, late) == 301);
  s.keep_kind(late, "recon_request");
  REQUIRE(s.run_until([&] { return s.converged(); }, 60'000));
  for (size_t i = 0; i < 3; ++i) {
    INFO("node " << i);
    CHECK(count_at(s, i) == 301);
    CHECK(counter_at(s, i, name(5)) == 1'000);
    CHECK_FALSE(counter_at(s, i, name(4)));
    CHECK(register_at(s, i, "new-299") == "n");
  }
}

TEST_CASE("map transfer: a map of a few big fields travels in pages too, not as one record") {
  // Fewer fields than set_recon_min_elements, but a whole record past a page: a full transfer
  // sends its header and the fields in pages, so no frame has to hold the whole map.
  uint64_t seed = test::seed_for("map transfer big fields");
  INFO("RUMOR_SEED=" << seed);
  auto cfg = sim_config::quick_probes(2);
  cfg.replica.set_recon_page_bytes = 50'000;
  simulation s(seed, cfg);
  s.start_all();
  s.run_for(2'000);
  for (int f = 0; f < 5; ++f) {
    std::vector<std::string> members;
    for (int i = 0; i < 2'000; ++i) members.push_back("field-" + std::to_string(f) + "-member-" + std::to_string(i));
    std::vector<std::string> touches{name(f)};
    s.update(0, "big", crdt::type_tag::or_map, ops::map_update(name(f), crdt::type_tag::or_set, ops::set_add(members)),
             consistency::local, 5'000, nullptr, &touches);
  }
  REQUIRE(s.run_until([&] { return same_big_map(s); }, 60'000));
  REQUIRE(count_at(s, 0) == 5);
  s.reset_counters();
  s.wipe(1);
  REQUIRE(s.run_until([&] { return same_big_map(s); }, 120'000));
  for (int f = 0; f < 5; ++f) {
    auto st = field_at(s, 1, name(f), crdt::type_tag::or_set);
    REQUIRE(st);
    CHECK(std::get<crdt::or_set::store_type>(st->variant()).entries().size() == 2'000);
  }
  CHECK(s.at(1).rep->stats().sets_transferred_in_pages >= 1);
  const uint64_t chunks = s.bytes_of("full_sync_chunk");
  MESSAGE("full_sync_chunk bytes " << chunks << ", set_recon_answer " << s.messages_of("set_recon_answer") << " messages, "
                                   << s.bytes_of("set_recon_answer") << " bytes");
  CHECK(chunks < 2'000);  // the map's header, not its ~300 KB
  CHECK(s.messages_of("set_recon_answer") >= 3);
}

namespace {

// Gives the or_set field `field` of "big" on node `at` `count` members of ~24 bytes each.
void fill_field(simulation& s, size_t at, const std::string& field, int count, const std::string& tag = "member") {
  std::vector<std::string> members;
  for (int i = 0; i < count; ++i) members.push_back(field + "-" + tag + "-" + std::to_string(i));
  std::vector<std::string> touches{field};
  s.update(at, "big", crdt::type_tag::or_map, ops::map_update(field, crdt::type_tag::or_set, ops::set_add(members)),
           consistency::local, 5'000, nullptr, &touches);
}

size_t members_at(simulation& s, size_t i, const std::string& field) {
  auto st = field_at(s, i, field, crdt::type_tag::or_set);
  return st ? std::get<crdt::or_set::store_type>(st->variant()).entries().size() : 0;
}

// The largest repair message sent since the counters were reset.
uint64_t largest_repair_message(simulation& s) {
  uint64_t m = 0;
  for (auto kind : {"state_push", "set_recon_answer", "set_recon_request", "full_sync_chunk"})
    m = std::max(m, s.largest_of(kind));
  return m;
}

}  // namespace

TEST_CASE("map repair: a map of a few big fields that differs in several is repaired in pages, never whole") {
  // Five fields of 2,000 members (~50 KB of records, ~105 KB in a message each), a page of 50 KB,
  // answers of at most 150 KB: the map travels in pages by its bytes though it has far fewer
  // than set_recon_min_elements fields. Four fields differ, ~200 KB of records together: the
  // table answer says too_big and the fields come a page (one field) at a time.
  uint64_t seed = test::seed_for("map repair big fields");
  INFO("RUMOR_SEED=" << seed);
  auto cfg = sim_config::quick_probes(2);
  cfg.replica.set_recon_page_bytes = 50'000;
  cfg.replica.set_recon_max_answer_bytes = 150'000;
  simulation s(seed, cfg);
  s.start_all();
  s.run_for(2'000);
  for (int f = 0; f < 5; ++f) fill_field(s, 0, name(f), 2'000);
  REQUIRE(s.run_until([&] { return same_big_map(s); }, 60'000));
  s.partition({{0}, {1}});
  s.run_for(5'000);  // each declares the other dead and truncates its log without it
  fill_field(s, 0, name(0), 10, "late");
  fill_field(s, 0, name(1), 10, "late");
  fill_field(s, 1, name(2), 10, "late");
  s.update(1, "big", crdt::type_tag::or_map,
           ops::map_update(name(3), crdt::type_tag::or_set, ops::set_remove({name(3) + "-member-7"})),
           consistency::local, 5'000, nullptr);
  s.run_for(5'000);
  REQUIRE(s.at(0).rep->delta_log_size() == 0);
  REQUIRE(s.at(1).rep->delta_log_size() == 0);
  s.reset_counters();
  s.heal();
  REQUIRE(s.run_until([&] { return same_big_map(s); }, 120'000));
  for (size_t i = 0; i < 2; ++i) {
    INFO("node " << i);
    CHECK(members_at(s, i, name(0)) == 2'010);
    CHECK(members_at(s, i, name(1)) == 2'010);
    CHECK(members_at(s, i, name(2)) == 2'010);
    CHECK(members_at(s, i, name(3)) == 1'999);
    CHECK(members_at(s, i, name(4)) == 2'000);
  }
  const uint64_t largest = largest_repair_message(s);
  MESSAGE("largest repair message " << largest << " B; set_recon_answer " << s.messages_of("set_recon_answer")
                                    << " messages, " << s.bytes_of("set_recon_answer") << " bytes; state_push "
                                    << s.messages_of("state_push") << "; sessions " << s.at(0).rep->stats().repairs_started
                                    << "+" << s.at(1).rep->stats().repairs_started << ", finished "
                                    << s.at(0).rep->stats().repairs_finished << "+" << s.at(1).rep->stats().repairs_finished
                                    << "; set_recon_request " << s.messages_of("set_recon_request"));
  // A page holds about set_recon_page_bytes of records, here one field: never the ~525 KB map,
  // nor the four differing fields in one answer.
  CHECK(largest < 150'000);
  CHECK(s.messages_of("set_recon_answer") >= 5);
}

TEST_CASE("map repair: a replica holding a small version of a map, or none, gets the big version in pages") {
  // During a partition node 0 writes five big fields and node 1 one small field of the same map
  // (or none). Node 1's copy is small, so it asks for the key: the answer is the map's header, and
  // node 1 fetches the fields in pages (creating the map if it lacks it). Node 0's copy is big:
  // its last step would carry them all, so it leaves them out, and node 1 never sends the map
  // whole either.
  bool node1_writes = true;
  SUBCASE("node 1 holds a small version") {}
  SUBCASE("node 1 lacks the map") { node1_writes = false; }
  uint64_t seed = test::seed_for("map repair small and big");
  INFO("RUMOR_SEED=" << seed);
  auto cfg = sim_config::quick_probes(2);
  cfg.replica.set_recon_page_bytes = 50'000;
  cfg.replica.set_recon_max_answer_bytes = 150'000;
  simulation s(seed, cfg);
  s.start_all();
  s.run_for(2'000);
  // Both hold a key before the split (so node 1 reconciles rather than bootstraps), and the map
  // when node 1 writes it too.
  s.update(0, "other", crdt::type_tag::pn_counter, ops::counter_add(1), consistency::local, 5'000, nullptr);
  if (node1_writes) add(s, 0, "before", 1);
  REQUIRE(s.run_until([&] { return s.converged(); }, 60'000));
  s.partition({{0}, {1}});
  s.run_for(5'000);
  for (int f = 0; f < 5; ++f) fill_field(s, 0, name(f), 2'000);
  if (node1_writes) add(s, 1, "tiny", 3);
  REQUIRE(header_at(s, 1).empty() != node1_writes);
  s.run_for(5'000);
  REQUIRE(s.at(0).rep->delta_log_size() == 0);
  REQUIRE(s.at(1).rep->delta_log_size() == 0);
  s.reset_counters();
  s.heal();
  REQUIRE(s.run_until([&] { return same_big_map(s); }, 120'000));
  for (size_t i = 0; i < 2; ++i) {
    INFO("node " << i);
    for (int f = 0; f < 5; ++f) CHECK(members_at(s, i, name(f)) == 2'000);
    if (node1_writes) {
      CHECK(counter_at(s, i, "tiny") == 3);
      CHECK(counter_at(s, i, "before") == 1);
    }
    CHECK(count_at(s, i) == (node1_writes ? 7 : 5));
  }
  const uint64_t largest = largest_repair_message(s);
  MESSAGE("largest repair message " << largest << " B; state_push " << s.messages_of("state_push") << " messages, largest "
                                    << s.largest_of("state_push") << " B; set_recon_answer "
                                    << s.messages_of("set_recon_answer"));
  CHECK(s.largest_of("state_push") < 2'000);  // the header, never the map
  CHECK(largest < 150'000);                   // a page: one field
  CHECK(s.at(1).rep->stats().sets_transferred_in_pages >= 1);
  CHECK(s.messages_of("full_sync_request") == 0);  // reconciled, not bootstrapped
}
