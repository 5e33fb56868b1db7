// What a replica puts into one write batch (group commit): a key written by many updates of one
// batch is put once, with its last record — before, every update copied the key's whole record
// into the batch and the write-ahead log, so a burst of 1,000 pipelined adds to a 100,000-member
// set built a 3 GB log record and failed with an I/O error (found by `rumor bench collections`).
#include <doctest/doctest.h>

#include <string>

#include "persistence/memory_store.hpp"
#include "replication/operations.hpp"
#include "replication/replica.hpp"
#include "replication/set_records.hpp"
#include "replication/storage_key.hpp"
#include "replication/stored_value.hpp"
#include "replication/value_layout.hpp"
#include "crdt/codec.hpp"

using namespace rumor;
using namespace rumor::replication;

namespace {

struct one_node {
  persistence::memory_store store;
  replica rep{store, "127.0.0.1:7000", replica_config{}, 42};
  uint64_t now = 1'000'000;
  uint64_t next_request = 1;

  one_node() {
    REQUIRE(rep.load(now));
    rep.start({}, now);
    commit(rep.take_ready());
  }
  void commit(ready r) {
    for (auto& b : r.batches) {
      REQUIRE(store.commit(std::span(&b.batch, 1)));
      rep.committed(b.id);
    }
  }
  void update(const std::string& key, crdt::type_tag t, const mutator& m) {
    rep.update(next_request++, key, t, m, consistency::local, 1000, ++now);
  }
};

size_t value_ops(const persistence::write_batch& b, const std::string& vkey, std::string* last_data = nullptr) {
  size_t n = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    auto op = b.op(i);
    if ((op.kind == persistence::op_kind::put_value || op.kind == persistence::op_kind::erase_value) && op.key == vkey) {
      ++n;
      if (last_data) *last_data = std::string(op.data);
    }
  }
  return n;
}

}  // namespace

TEST_CASE("replica batches: many updates of one key in one batch put its record once, the last one") {
  one_node n;
  for (int i = 0; i < 200; ++i) n.update("set", crdt::type_tag::or_set, ops::set_add({"m" + std::to_string(i)}));
  for (int i = 0; i < 50; ++i) n.update("ctr", crdt::type_tag::pn_counter, ops::counter_add(1));
  ready r = n.rep.take_ready();
  REQUIRE(r.batches.size() == 1);
  const std::string set_key = value_key(storage_key("set", crdt::type_tag::or_set));
  const std::string ctr_key = value_key(storage_key("ctr", crdt::type_tag::pn_counter));
  std::string set_record, ctr_record;
  CHECK(value_ops(r.batches[0].batch, set_key, &set_record) == 1);
  CHECK(value_ops(r.batches[0].batch, ctr_key, &ctr_record) == 1);
  // The record put is the state after the last update (a set's: its header, set_records.hpp),
  // and what reads see once committed.
  auto header = set_records::decode_header(set_record);
  REQUIRE(header);
  CHECK(header->count == 200);
  // Each element's record and dot index record went in once.
  size_t meta_puts = 0;
  for (size_t i = 0; i < r.batches[0].batch.size(); ++i) {
    auto op = r.batches[0].batch.op(i);
    if (op.kind == persistence::op_kind::put_meta && (op.key.starts_with("e/") || op.key.starts_with("x/"))) ++meta_puts;
  }
  CHECK(meta_puts == 400);
  n.commit(std::move(r));
  auto set_read = n.rep.get("set");
  REQUIRE(set_read);
  REQUIRE(set_read->size() == 1);
  CHECK(set_read->front().get_if<crdt::or_set>()->size() == 200);
  CHECK(set_read->front().get_if<crdt::or_set>()->contains("m199"));
  auto read = n.rep.get("ctr");
  REQUIRE(read);
  REQUIRE(read->size() == 1);
  CHECK(read->front().get_if<crdt::pn_counter>()->value() == 50);
  // Every update still made its own delta (replication is per update).
  CHECK(n.rep.vv().get(n.rep.id()) == 250);
}

TEST_CASE("replica batches: a key deleted and written again in one batch ends as its last operation") {
  one_node n;
  n.update("k", crdt::type_tag::or_set, ops::set_add({"a"}));
  n.commit(n.rep.take_ready());
  n.update("k", crdt::type_tag::or_set, ops::remove_key());
  n.update("k", crdt::type_tag::or_set, ops::set_add({"b"}));
  ready r = n.rep.take_ready();
  REQUIRE(r.batches.size() == 1);
  const std::string vkey = value_key(storage_key("k", crdt::type_tag::or_set));
  std::string record;
  CHECK(value_ops(r.batches[0].batch, vkey, &record) == 1);
  n.commit(std::move(r));
  auto read = n.rep.get("k");
  REQUIRE(read);
  REQUIRE(read->size() == 1);
  CHECK(read->front().get_if<crdt::or_set>()->elements() == std::vector<std::string>{"b"});
}
