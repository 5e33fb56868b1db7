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

TEST_CASE("replica texts: a message's text deltas are joined into the kept text and written once, in order") {
  // Deltas of another node's splices arrive in pushes, out of order: the reorder buffer holds the
  // later ones until the gap fills, and every delta of a message lands in the text written after it.
  test::one_node n;
  crdt::text origin_text;
  const crdt::hlc_timestamp ts{uint64_t{1'700'000'000'000} << 16};
  std::vector<delta_entry> entries;
  version_vector deps;
  auto splice_at_origin = [&](uint64_t pos, uint64_t del, const std::string& ins) {
    auto d = origin_text.splice(0x77, pos, del, ins);
    REQUIRE(d);
    uint64_t seq = entries.size() + 1;
    entries.push_back(delta_entry{0x77, seq, delta_record{"doc", crdt::type_tag::text, ts.bits + seq,
                                                           crdt::encode(crdt::value{*d}), deps}});
    deps.set(0x77, seq);
  };
  splice_at_origin(0, 0, "ab");
  splice_at_origin(2, 0, "cd");
  splice_at_origin(0, 1, "");
  splice_at_origin(3, 0, "e");
  n.rep->receive(0x77, push{{entries[1], entries[3]}, false}, ++n.now);  // beyond the gap: held
  n.commit(n.rep->take_ready());
  CHECK(n.rep->get("doc")->empty());
  n.rep->receive(0x77, push{{entries[0], entries[2]}, false}, ++n.now);  // fills it: all four apply
  n.commit(n.rep->take_ready());
  CHECK(text_of(n) == origin_text.str());
  CHECK(text_of(n) == "bcde");
  // A local splice then starts from the text the message left.
  splice(n, 4, 0, "!", false);
  CHECK(text_of(n) == "bcde!");
  n.restart();
  CHECK(text_of(n) == "bcde!");
}
