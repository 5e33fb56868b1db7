// Texts kept decoded between writes (replication/replica_texts.cpp): a splice or a remote text
// delta starts from the state the replica kept after the last write of that text, and never from
// a stale one — any other write of the key (here a state join) is seen by the next splice; with
// no room to keep texts, or after a restart, the stored record is decoded as before. The seeded
// simulation (workload.hpp, --text) runs texts through this under faults, half of the splices
// without the value in the reply, as the node runtime asks.
#include <doctest/doctest.h>

#include <string>

#include "crdt/codec.hpp"
#include "crdt/text.hpp"
#include "one_node.hpp"
#include "replication/operations.hpp"
#include "replication/storage_key.hpp"
#include "replication/stored_value.hpp"
#include "replication/value_layout.hpp"

using namespace rumor;
using namespace rumor::replication;

namespace {

void splice(test::one_node& n, uint64_t pos, uint64_t del, const std::string& ins, bool reply_value) {
  n.rep->update(n.next_request++, "doc", crdt::type_tag::text, ops::text_splice(pos, del, ins, std::nullopt, false),
                consistency::local, 1000, ++n.now, nullptr, reply_value);
  n.commit(n.rep->take_ready());
  REQUIRE(!n.replies.empty());
  REQUIRE(n.replies.back().result);
  REQUIRE(n.replies.back().update);
}

std::string text_of(test::one_node& n) {
  auto v = n.rep->get("doc");
  REQUIRE(v);
  REQUIRE(v->size() == 1);
  const auto* t = v->front().get_if<crdt::text>();
  REQUIRE(t);
  return t->str();
}

// A state of "doc" holding what node `n` holds plus `ins` spliced at the end by another node.
key_state joined_elsewhere(test::one_node& n, const std::string& ins) {
  const std::string skey = storage_key("doc", crdt::type_tag::text);
  auto v = n.rep->get("doc");
  REQUIRE(v);
  crdt::text t = *v->front().get_if<crdt::text>();
  REQUIRE(t.splice(0x99, t.size(), 0, ins));
  auto stored = n.store.get_value(value_key(skey));
  REQUIRE(stored);
  REQUIRE(*stored);
  auto sv = decode_stored(**stored);
  REQUIRE(sv);
  version_vector kv = sv->kv;
  kv.raise(0x99, 1);
  return key_state{skey, encode_stored(kv, crdt::encode(crdt::value{t}))};
}

void check_keeps_up(test::one_node& n) {
  splice(n, 0, 0, "hello", false);
  CHECK(n.replies.back().update->value.holds_nothing());  // left out, as asked
  splice(n, 5, 0, " world", false);
  splice(n, 0, 1, "H", true);
  CHECK(n.replies.back().update->value.get_if<crdt::text>()->str() == "Hello world");
  CHECK(text_of(n) == "Hello world");
  // Another write of the key: the next splice starts from it, not from the text kept before it.
  n.rep->receive(0x99, state_push{0, {joined_elsewhere(n, "!")}, {}, {}}, ++n.now);
  n.commit(n.rep->take_ready());
  CHECK(text_of(n) == "Hello world!");
  splice(n, 0, 0, ">", false);
  CHECK(text_of(n) == ">Hello world!");
  // A restart keeps nothing in memory: the stored text is decoded.
  n.restart();
  splice(n, 13, 0, "?", false);
  CHECK(text_of(n) == ">Hello world!?");
}

}  // namespace

TEST_CASE("replica texts: splices start from the text kept after the last write, and see every other write") {
  test::one_node n;
  REQUIRE(n.config.text_cache_bytes > 0);
  check_keeps_up(n);
}

TEST_CASE("replica texts: without room to keep texts, every splice decodes the stored text") {
  test::one_node n;
  n.config.text_cache_bytes = 0;
  n.restart();
  check_keeps_up(n);
  test::one_node tiny;
  tiny.config.text_cache_bytes = 64;  // smaller than any text's structure
  tiny.restart();
  check_keeps_up(tiny);
}
