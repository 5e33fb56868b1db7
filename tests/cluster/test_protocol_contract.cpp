// The client protocol's contract (docs/protocol.md) against a real `rumor node` process over TCP:
// the accepting hello, ordering on one connection, absent keys, a bad request costing only
// itself, a declared type checked, and the mv-register context round trip. Bounded; stops only
// its own PID.

#include <doctest/doctest.h>

#include "client/client_codec.hpp"
#include "client/connection.hpp"
#include "crdt/codec.hpp"
#include "processes.hpp"

using namespace rumor;
using rumor::test::node_process;
using rumor::test::temp_dir;

namespace {

struct one_node {
  temp_dir dir;
  node_process node{RUMOR_BINARY, "127.0.0.1:" + std::to_string(test::free_port()), dir.path + "/n",
                    dir.path + "/n.log"};
  std::optional<client::connection> conn;

  one_node() {
    REQUIRE(node.start({"--cluster", "contract"}));
    auto c = client::connection::connect(node.address(), 5000);
    REQUIRE_MESSAGE(c, (c ? "" : c.err().describe()));
    conn.emplace(std::move(*c));
  }

  client::response call(client::request r) {
    auto resp = conn->call(std::move(r), 10000);
    REQUIRE_MESSAGE(resp, (resp ? "" : resp.err().describe()));
    return *resp;
  }
};

client::request update(std::string key, client::op_kind op, crdt::type_tag type) {
  client::request r;
  client::update u;
  u.key = std::move(key);
  u.op = op;
  u.type = type;
  r.body = u;
  return r;
}

client::request incr(std::string key, int64_t by) {
  auto r = update(std::move(key), client::op_kind::counter_add, crdt::type_tag::pn_counter);
  std::get<client::update>(r.body).amount = by;
  return r;
}

client::request get(std::string key) {
  client::request r;
  r.body = client::get{std::move(key)};
  return r;
}

int64_t counter_of(const client::response& r) {
  REQUIRE(r.code == errc::ok);
  REQUIRE(r.values.size() == 1);
  auto v = crdt::decode(r.values[0].value);
  REQUIRE(v);
  REQUIRE(v->get_if<crdt::pn_counter>());
  return v->get_if<crdt::pn_counter>()->value();
}

}  // namespace

TEST_CASE("contract: the node accepts a client with a role = client hello of its cluster") {
  one_node n;
  const auto& h = n.conn->node_hello();
  CHECK(h.client);
  CHECK(h.refusal.empty());
  CHECK(h.cluster == "contract");
  CHECK(h.node != 0);
  CHECK(h.address == n.node.address());
}

TEST_CASE("contract: requests on one connection are handled in order — a read sees the writes sent before it") {
  one_node n;
  // 50 increments and a read, pipelined in one write, without waiting for any response.
  std::vector<client::request> burst;
  for (uint64_t i = 1; i <= 50; ++i) {
    auto r = incr("ordered", 1);
    r.id = i;
    burst.push_back(r);
  }
  auto read = get("ordered");
  read.id = 51;
  burst.push_back(read);
  REQUIRE(n.conn->send_all(burst));
  std::optional<client::response> got;
  for (int k = 0; k < 51; ++k) {
    auto m = n.conn->next(10000);
    REQUIRE(m);
    REQUIRE(*m);
    auto& resp = std::get<client::response>(**m);
    CHECK(resp.code == errc::ok);
    if (resp.id == 51) got = resp;
  }
  REQUIRE(got);
  CHECK(counter_of(*got) == 50);
}

TEST_CASE("contract: an absent key, never written or deleted, answers ok with no values and is not listed") {
  one_node n;
  auto missing = n.call(get("nothing-here"));
  CHECK(missing.code == errc::ok);
  CHECK(missing.values.empty());

  n.call(incr("gone", 3));
  auto del = n.call(update("gone", client::op_kind::remove_key, crdt::type_tag::pn_counter));
  CHECK(del.code == errc::ok);
  auto after = n.call(get("gone"));
  CHECK(after.code == errc::ok);
  CHECK(after.values.empty());
  client::request keys;
  keys.body = client::keys{"", 100};
  auto listed = n.call(keys);
  for (const auto& k : listed.key_list) CHECK(k.key != "gone");
}

TEST_CASE("contract: a request the node cannot read costs only itself, a wrong declared type is refused") {
  one_node n;
  auto bad = incr("k", 1);
  bad.id = 1;
  std::get<client::update>(bad.body).type = static_cast<crdt::type_tag>(0);  // CrdtType.unknown
  auto good = incr("k", 2);
  good.id = 2;
  REQUIRE(n.conn->send_all({bad, good}));
  std::map<uint64_t, client::response> by_id;
  for (int k = 0; k < 2; ++k) {
    auto m = n.conn->next(10000);
    REQUIRE(m);
    REQUIRE(*m);
    auto& r = std::get<client::response>(**m);
    by_id[r.id] = r;
  }
  CHECK(by_id[1].code == errc::decode_error);
  CHECK(by_id[2].code == errc::ok);
  CHECK(n.conn->is_open());

  auto wrong = update("k2", client::op_kind::set_add, crdt::type_tag::g_counter);
  std::get<client::update>(wrong.body).members = {"m"};
  auto refused = n.call(wrong);
  CHECK(refused.code == errc::invalid_argument);
  CHECK(n.call(get("k2")).values.empty());
}

TEST_CASE("contract: an mv-register read returns the context a conditional put supersedes") {
  one_node n;
  auto put = [&](std::string v, std::optional<std::string> ctx) {
    auto r = update("doc", client::op_kind::mv_put, crdt::type_tag::mv_register);
    auto& u = std::get<client::update>(r.body);
    u.value = std::move(v);
    u.context = std::move(ctx);
    u.conditional = true;
    return n.call(r);
  };
  CHECK(put("v1", std::string()).code == errc::ok);  // empty context on a fresh key
  auto read = n.call(get("doc"));
  REQUIRE(read.values.size() == 1);
  REQUIRE_FALSE(read.values[0].context.empty());
  auto ctx = crdt::decode_context(read.values[0].context);
  CHECK(ctx);
  CHECK(put("v2", read.values[0].context).code == errc::ok);
  auto stale = put("v3", read.values[0].context);
  CHECK(stale.code == errc::conflict);
}
