// Deterministic tests of the replica actor's wiring (actors/replica_actor.hpp) on CAF's test
// coordinator: no threads, no sockets, a virtual clock. The transport and the storage actor are
// fakes that record what the replica actor sends them; the test decides when a batch commits.

#include <doctest/doctest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <exception>
#include <functional>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/actor_messages.hpp"
#include "actors/node.hpp"
#include "actors/replica_actor.hpp"
#include "crdt/codec.hpp"
#include "crdt/pn_counter.hpp"
#include "persistence/memory_store.hpp"

namespace rumor::actors {
namespace {

using namespace std::chrono_literals;

struct test_config : caf::actor_system_config {
  test_config() { set("scheduler.policy", caf::atom("testing")); }
};

struct sent {
  std::vector<replication::outgoing> messages;
  std::vector<replication::pending_batch> batches;
  bool storage_stopped = false;
};

caf::behavior fake_transport(caf::event_based_actor* self, std::shared_ptr<sent> s) {
  return {
      [s](send_atom, outbox_msg& m) {
        for (auto& x : m.messages) s->messages.push_back(std::move(x));
      },
      [self](stop_atom) { self->quit(); },
  };
}

caf::behavior fake_storage(caf::event_based_actor* self, std::shared_ptr<sent> s) {
  return {
      [s](storage_batches& b) {
        for (auto& x : b.batches) s->batches.push_back(std::move(x));
      },
      [self, s](stop_atom) -> caf::atom_value {
        s->storage_stopped = true;
        self->quit();
        return caf::ok_atom::value;
      },
  };
}

struct fixture {
  test_config cfg;
  caf::actor_system sys{cfg};
  caf::scheduler::test_coordinator& sched = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  std::shared_ptr<persistence::memory_store> store =
      std::make_shared<persistence::memory_store>(persistence::memory_store::config{});
  std::shared_ptr<sent> out = std::make_shared<sent>();
  std::shared_ptr<std::atomic<uint8_t>> ready_state = std::make_shared<std::atomic<uint8_t>>(0);
  caf::actor_clock::time_point epoch = sched.clock().now();
  caf::actor replica;
  caf::actor transport;
  caf::actor storage;
  uint64_t committed = 0;
  // False once a test body has ended by an exception (a failed REQUIRE): its locals, which the
  // callbacks given to send_call refer to, are gone, so teardown must not call them.
  std::shared_ptr<bool> body_alive = std::make_shared<bool>(true);
  uint64_t next_request_id = 1;

  uint64_t now_ms() const {
    return 1'700'000'000'000ull +
           static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(sched.clock().now() - epoch).count());
  }

  void start(std::vector<std::string> seeds) {
    replica_actor_config rc;
    rc.store = store;
    rc.replica.gossip_interval_ms = 100;
    rc.seeds = seeds;
    rc.rng_seed = 7;
    rc.log = std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::null_sink_mt>());
    rc.readiness = ready_state;
    rc.clock = [this] { return now_ms(); };
    replica = spawn_replica_actor(sys, rc);
    transport = sys.spawn(fake_transport, out);
    storage = sys.spawn(fake_storage, out);
    auto rep = std::make_shared<replication::replica>(*store, "127.0.0.1:1", rc.replica, 7);
    REQUIRE(rep->load(now_ms()));
    caf::anon_send(replica, replica_init{rep, transport, storage, "127.0.0.1:1"});
    sched.run();
  }

  // Commits every batch the replica actor handed to storage so far and reports it.
  void commit_all() {
    if (out->batches.empty()) return;
    std::vector<persistence::write_batch> group;
    for (auto& b : out->batches) group.push_back(b.batch);
    REQUIRE(store->commit(group));
    storage_result r;
    r.last_committed = out->batches.back().id;
    out->batches.clear();
    caf::anon_send(replica, r);
    sched.run();
  }

  void stop() {
    if (!replica) return;
    caf::anon_send(replica, stop_atom::value, false);
    sched.run();
    commit_all();
    // The replica actor's periodic tick must end before teardown (platform notes).
    for (int i = 0; i < 100 && sched.has_pending_timeout(); ++i) {
      sched.trigger_timeout();
      sched.run();
    }
    replica = nullptr;
  }

  ~fixture() {
    if (std::uncaught_exceptions() > 0) {
      *body_alive = false;
      try {
        stop();
      } catch (...) {  // a failing check during unwinding: the test has failed already
      }
      return;
    }
    stop();
  }

  template <class Body>
  void send_call(Body body, std::function<void(client::response)> reply,
                 std::function<void(client::event)> on_event = {}) {
    client::request req;
    req.id = next_request_id++;  // watches are kept per (session, request id)
    req.body = std::move(body);
    auto guarded_reply = [alive = body_alive, reply = std::move(reply)](client::response r) {
      if (*alive) reply(std::move(r));
    };
    std::function<void(client::event)> guarded_event;
    if (on_event)
      guarded_event = [alive = body_alive, on_event = std::move(on_event)](client::event e) {
        if (*alive) on_event(std::move(e));
      };
    caf::anon_send(replica, call{1, std::move(req), std::move(guarded_reply), std::move(guarded_event)});
    sched.run();
  }
};

client::update increment(std::string key, int64_t by) {
  client::update u;
  u.key = std::move(key);
  u.op = client::op_kind::counter_add;
  u.type = crdt::type_tag::pn_counter;
  u.amount = by;
  return u;
}

TEST_CASE_FIXTURE(fixture, "replica actor: an update is acknowledged only after its batch is committed") {
  start({});
  std::vector<client::response> replies;
  send_call(increment("k", 3), [&](client::response r) { replies.push_back(std::move(r)); });
  CHECK(replies.empty());
  REQUIRE(!out->batches.empty());
  // Nothing reached the store yet.
  CHECK(!store->get_value(std::string("k") + '\0' + char(crdt::type_tag::pn_counter)).value().has_value());
  commit_all();
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].code == errc::ok);
  REQUIRE(replies[0].values.size() == 1);
  auto v = crdt::decode(replies[0].values[0].value);
  REQUIRE(v);
  CHECK(v->get_if<crdt::pn_counter>()->value() == 3);
  CHECK(static_cast<rumor::actors::readiness>(ready_state->load()) == rumor::actors::readiness::ready);
}

// Regression: the replica rebuilt after a failed commit numbers its batches from 1 again; their
// results used to be ignored (taken for the old replica's), so no update was acknowledged again.
TEST_CASE_FIXTURE(fixture, "replica actor: after a failed commit the rebuilt replica's updates are acknowledged") {
  start({});
  commit_all();  // what starting wrote (membership)
  std::vector<client::response> replies;
  send_call(increment("k", 3), [&](client::response r) { replies.push_back(std::move(r)); });
  REQUIRE(!out->batches.empty());
  storage_result failed;
  failed.last_committed = out->batches.front().id - 1;
  failed.failure = error{errc::io_error, "disk on fire"};
  failed.failed_batch = out->batches.front().id;
  out->batches.clear();  // the storage actor dropped it
  caf::anon_send(replica, failed);
  sched.run();
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].code == errc::unavailable);

  send_call(increment("k", 4), [&](client::response r) { replies.push_back(std::move(r)); });
  REQUIRE(!out->batches.empty());
  commit_all();
  REQUIRE(replies.size() == 2);
  CHECK(replies[1].code == errc::ok);
  auto v = crdt::decode(replies[1].values.at(0).value);
  REQUIRE(v);
  CHECK(v->get_if<crdt::pn_counter>()->value() == 4);  // the failed +3 never happened
}

TEST_CASE_FIXTURE(fixture, "replica actor: ticks on the virtual clock drive join retries to the seeds") {
  start({"127.0.0.1:9"});
  auto joins = [&] {
    size_t n = 0;
    for (auto& m : out->messages)
      n += std::holds_alternative<replication::join_request>(m.msg) && m.address == "127.0.0.1:9";
    return n;
  };
  commit_all();  // the join is sent once the membership change it records is durable
  CHECK(joins() == 1);
  CHECK(static_cast<rumor::actors::readiness>(ready_state->load()) == rumor::actors::readiness::joining);
  // No answer from the seed: the tick timer fires and membership re-sends after join_retry_ms.
  for (int i = 0; i < 400 && joins() < 3; ++i) {
    sched.advance_time(10ms);
    sched.run();
    commit_all();
  }
  CHECK(joins() >= 3);
  CHECK(now_ms() - 1'700'000'000'000ull >= 2000);  // two retries took two join_retry_ms periods
}

TEST_CASE_FIXTURE(fixture, "replica actor: a peer's delta is applied and reaches a watcher, not an unwatched one") {
  start({});
  std::vector<client::event> events;
  send_call(client::watch{"user:"}, [](client::response) {}, [&](client::event e) { events.push_back(std::move(e)); });
  crdt::pn_counter c;
  auto d = c.add(0x99, 5);
  REQUIRE(d);
  replication::delta_record rec{"user:1", crdt::type_tag::pn_counter, now_ms() << 16, crdt::encode(crdt::value{*d}), {}};
  replication::push p;
  p.deltas.push_back(replication::delta_entry{0x99, 1, rec});
  rec.key = "other";
  p.deltas.push_back(replication::delta_entry{0x99, 2, rec});
  caf::anon_send(replica, peer_message{0x99, replication::message{p}});
  sched.run();
  commit_all();
  REQUIRE(events.size() == 1);
  CHECK(events[0].key == "user:1");
  CHECK(events[0].origin == 0x99);
  auto v = crdt::decode(events[0].value);
  REQUIRE(v);
  CHECK(v->get_if<crdt::pn_counter>()->value() == 5);
}

TEST_CASE_FIXTURE(fixture, "replica actor: a map's field changes go only to watches that asked for them, older clients get the value") {
  start({});
  std::vector<client::event> sets_only, both, plain;  // set_changes (a client before field changes), both, none
  auto into = [](std::vector<client::event>& v) { return [&v](client::event e) { v.push_back(std::move(e)); }; };
  send_call(client::watch{"m", true, false}, [](client::response) {}, into(sets_only));
  send_call(client::watch{"m", true, true}, [](client::response) {}, into(both));
  send_call(client::watch{"m"}, [](client::response) {}, into(plain));
  client::update u = increment("m", 2);
  u.path = {"f"};
  std::vector<client::response> replies;
  send_call(u, [&](client::response r) { replies.push_back(std::move(r)); });
  commit_all();
  REQUIRE(replies.size() == 1);
  CHECK_MESSAGE(replies[0].code == errc::ok, replies[0].message);
  REQUIRE(both.size() == 1);
  REQUIRE(both[0].set);
  CHECK(both[0].set->type == crdt::type_tag::or_map);
  CHECK(both[0].set->added == std::vector<std::string>{"f"});
  CHECK(both[0].set->size == 1);
  for (auto* events : {&sets_only, &plain}) {
    REQUIRE(events->size() == 1);
    CHECK_FALSE((*events)[0].set);
    CHECK_FALSE((*events)[0].value_omitted);
  }
  for (auto* events : {&sets_only, &both, &plain}) {
    auto v = crdt::decode((*events)[0].value);  // a small map: its value goes to every watch
    REQUIRE(v);
    CHECK(v->get_if<crdt::or_map>());
  }
}

TEST_CASE_FIXTURE(fixture, "replica actor: stop answers pending calls with unavailable and stops storage and transport") {
  start({});
  std::vector<client::response> replies;
  send_call(increment("k", 1), [&](client::response r) { replies.push_back(std::move(r)); });
  stop();
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].code == errc::unavailable);
  CHECK(out->storage_stopped);
  CHECK(static_cast<rumor::actors::readiness>(ready_state->load()) == rumor::actors::readiness::stopped);
}

}  // namespace
}  // namespace rumor::actors
