// Tests of the transport broker (actors/transport.hpp).
//
// Most cases run deterministically on CAF's test coordinator + test multiplexer (no sockets, no
// threads: "Pattern A" of the platform notes): the test plays the remote ends of connections by
// writing bytes into the multiplexer and reading what the broker wrote. A fake replica actor
// records what the broker hands it. Two cases use real loopback sockets with bounded waits
// (listening errors, a dial between two transports).

#include <doctest/doctest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/io/network/test_multiplexer.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/actor_messages.hpp"
#include "actors/transport.hpp"
#include "actors/transport_dial.hpp"
#include "client/client_codec.hpp"
#include "client/connection.hpp"
#include "replication/wire_codec.hpp"

namespace rumor::actors {
namespace {

using caf::io::accept_handle;
using caf::io::connection_handle;
using replication::message;

// What the fake replica actor received. Guarded by a mutex for the threaded tests.
struct recorder {
  std::mutex mu;
  std::vector<peer_message> peers;
  std::vector<call> calls;
  size_t bursts = 0;  // client_burst messages received

  size_t peer_count() {
    std::lock_guard<std::mutex> lock(mu);
    return peers.size();
  }
};

// A burst's request as the call a replica would see: its reply and events go back to the
// transport as client_out frames, as the replica actor sends them.
call as_call(const client_burst& b, client::request req) {
  call c;
  c.session = b.session;
  bool watch = std::holds_alternative<client::watch>(req.body);
  c.req = std::move(req);
  c.reply = [t = b.transport, s = b.session](client::response r) {
    caf::anon_send(t, client_out_atom::value, s, client::encode_client(client::client_message{std::move(r)}));
  };
  if (watch)
    c.on_event = [t = b.transport, s = b.session](client::event e) {
      caf::anon_send(t, client_out_atom::value, s, client::encode_client(client::client_message{std::move(e)}));
    };
  return c;
}

caf::behavior fake_replica(caf::event_based_actor*, std::shared_ptr<recorder> rec) {
  return {
      [rec](client_burst& b) {
        std::lock_guard<std::mutex> lock(rec->mu);
        ++rec->bursts;
        for (auto& req : b.requests) rec->calls.push_back(as_call(b, std::move(req)));
      },
      [rec](peer_message& m) {
        std::lock_guard<std::mutex> lock(rec->mu);
        rec->peers.push_back(std::move(m));
      },
      [rec](call& c) {
        std::lock_guard<std::mutex> lock(rec->mu);
        rec->calls.push_back(std::move(c));
      },
  };
}

// Captures log lines (thread-safe: the threaded tests read while the network thread logs).
class capture_sink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  bool contains(const std::string& s) {
    std::lock_guard<std::mutex> lock(mutex_);
    return text_.find(s) != std::string::npos;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    text_.append(buf.data(), buf.size());
  }
  void flush_() override {}

 private:
  std::string text_;
};

struct log_capture {
  std::shared_ptr<capture_sink> sink = std::make_shared<capture_sink>();
  std::shared_ptr<spdlog::logger> log = std::make_shared<spdlog::logger>("transport-test", sink);
  log_capture() { log->set_level(spdlog::level::debug); }
  bool contains(const std::string& s) const { return sink->contains(s); }
};

std::vector<char> bytes(const std::string& s) { return {s.begin(), s.end()}; }

std::string le32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

std::string hello_frame(const std::string& cluster, uint64_t node, bool client = false,
                        uint32_t version = 0, std::string address = {}) {
  replication::hello h;
  h.cluster = cluster;
  h.node = node;
  // 0: the version this build speaks on the connection's role.
  h.version = version ? version : client ? replication::client_protocol_version : replication::protocol_version;
  h.address = std::move(address);
  h.client = client;
  return replication::encode_message(h);
}

std::string ping_frame(uint64_t probe) { return replication::encode_message(replication::ping{probe, {}}); }

// ---- deterministic fixture (test coordinator + test multiplexer) ----

struct test_config : caf::actor_system_config {
  test_config() {
    load<caf::io::middleman>();
    set("scheduler.policy", caf::atom("testing"));
    set("middleman.network-backend", caf::atom("testing"));
    set("middleman.manual-multiplexing", true);
    set("middleman.workers", size_t{0});
    set("middleman.heartbeat-interval", caf::timespan{0});
  }
};

constexpr uint16_t listen_port = 4242;
constexpr uint64_t self_id = 0x1111;

struct fixture {
  test_config cfg;
  caf::actor_system sys{cfg};
  caf::scheduler::test_coordinator& sched = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  caf::io::network::test_multiplexer& mpx =
      dynamic_cast<caf::io::network::test_multiplexer&>(sys.middleman().backend());
  log_capture logs;
  std::shared_ptr<recorder> rec = std::make_shared<recorder>();
  caf::actor replica;
  caf::actor broker;
  accept_handle acc = accept_handle::from_int(1);
  int64_t next_hdl = 100;
  std::map<int64_t, replication::frame_reader> readers;  // per connection: what the broker wrote

  fixture() = default;
  ~fixture() { shutdown(); }

  transport_config config() {
    transport_config tc;
    tc.cluster = "test";
    tc.self = self_id;
    tc.listen_port = listen_port;
    tc.background_dial = false;  // the test multiplexer has no sockets
    tc.log = logs.log;
    return tc;
  }

  void start(transport_config tc) {
    replica = sys.spawn(fake_replica, rec);
    mpx.provide_acceptor(listen_port, acc);
    auto t = spawn_transport(sys, std::move(tc), replica);
    REQUIRE(t);
    CHECK(t->port == listen_port);
    CHECK(t->address == "127.0.0.1:4242");
    broker = t->broker;
    run();
  }
  void start() { start(config()); }

  void shutdown() {
    if (broker) caf::anon_send(broker, stop_atom::value);
    if (replica) caf::anon_send_exit(replica, caf::exit_reason::user_shutdown);
    run();
    broker = nullptr;
    replica = nullptr;
    std::lock_guard<std::mutex> lock(rec->mu);
    rec->calls.clear();  // they hold handles of the broker
  }

  // Runs messages and network events until nothing is left (timers are advanced explicitly).
  void run() {
    for (;;) {
      size_t n = sched.run();
      while (mpx.try_exec_runnable() || mpx.read_data() || mpx.try_accept_connection()) ++n;
      if (n == 0) return;
    }
  }

  // A remote end connects to the broker's listener.
  connection_handle connect() {
    auto c = connection_handle::from_int(next_hdl++);
    mpx.add_pending_connect(acc, c);
    mpx.accept_connection(acc);
    run();
    return c;
  }

  void send(connection_handle c, const std::string& data) {
    mpx.virtual_send(c, bytes(data));
    run();
  }

  // The remote end goes away.
  void hang_up(connection_handle c) {
    mpx.impl_ptr(c)->io_failure(&mpx, caf::io::network::operation::read);
    run();
  }

  bool closed_by_broker(connection_handle c) { return mpx.stopped_reading(c); }

  // Frames the broker wrote to `c` since the last call.
  std::vector<std::string> written(connection_handle c) {
    auto& buf = mpx.output_buffer(c);
    auto [it, fresh] = readers.try_emplace(c.id());
    it->second.feed(std::string_view(buf.data(), buf.size()));
    buf.clear();
    std::vector<std::string> out;
    for (;;) {
      auto f = it->second.next();
      REQUIRE(f);
      if (!*f) return out;
      out.push_back(std::move(**f));
    }
  }

  std::vector<message> written_peer(connection_handle c) {
    std::vector<message> out;
    for (auto& f : written(c)) {
      auto m = replication::decode_message(f);
      REQUIRE(m);
      out.push_back(std::move(*m));
    }
    return out;
  }

  std::vector<client::client_message> written_client(connection_handle c) {
    std::vector<client::client_message> out;
    for (auto& f : written(c)) {
      auto m = client::decode_client(f);
      REQUIRE(m);
      out.push_back(std::move(*m));
    }
    return out;
  }

  // A handshaken peer connection from node `node`; our answering hello is consumed.
  connection_handle peer(uint64_t node, std::string address = {}) {
    auto c = connect();
    send(c, hello_frame("test", node, false, replication::protocol_version, std::move(address)));
    auto hello = written_peer(c);
    REQUIRE(hello.size() == 1);
    REQUIRE(std::holds_alternative<replication::hello>(hello[0]));
    return c;
  }

  connection_handle client_conn() {
    auto c = connect();
    send(c, hello_frame("", 0, true));
    REQUIRE(written_peer(c).size() == 1);  // the node's accepting hello
    return c;
  }

  // The refusal hello the broker wrote to `c` before closing it.
  replication::hello refusal(connection_handle c) {
    auto out = written_peer(c);
    REQUIRE(out.size() == 1);
    auto* h = std::get_if<replication::hello>(&out[0]);
    REQUIRE(h != nullptr);
    return *h;
  }

  void outbox(std::vector<replication::outgoing> msgs) {
    caf::anon_send(broker, send_atom::value, outbox_msg{std::move(msgs)});
    run();
  }

  transport_stats stats() {
    transport_stats out;
    bool got = false;
    caf::scoped_actor self{sys};
    auto rp = self->request(broker, caf::infinite, caf::get_atom::value);
    run();
    rp.receive([&](const transport_stats& s) { out = s, got = true; }, [&](caf::error&) {});
    REQUIRE(got);
    return out;
  }
};

client::request get_request(uint64_t id, std::string key) {
  client::request r;
  r.id = id;
  r.body = client::get{std::move(key)};
  return r;
}

client::request watch_request(uint64_t id, std::string prefix) {
  client::request r;
  r.id = id;
  r.body = client::watch{std::move(prefix)};
  return r;
}

client::request unwatch_request(uint64_t id, uint64_t watch_id) {
  client::request r;
  r.id = id;
  r.body = client::unwatch{watch_id};
  return r;
}

std::string client_frame(client::request r) { return client::encode_client(client::client_message{std::move(r)}); }

}  // namespace

TEST_CASE("transport: split_host_port and join_host_port") {
  auto a = split_host_port("127.0.0.1:7000");
  REQUIRE(a);
  CHECK(a->first == "127.0.0.1");
  CHECK(a->second == 7000);
  auto b = split_host_port("[::1]:80");
  REQUIRE(b);
  CHECK(b->first == "::1");
  CHECK(join_host_port("::1", 80) == "[::1]:80");
  CHECK_FALSE(split_host_port("nohost"));
  CHECK_FALSE(split_host_port(":80"));
  CHECK_FALSE(split_host_port("h:0"));
  CHECK_FALSE(split_host_port("h:70000"));
  CHECK_FALSE(split_host_port("h:12x"));
}

TEST_CASE_FIXTURE(fixture, "transport: hello exchange, then peer messages reach the replica") {
  start();
  auto c = connect();
  // An accepted connection hears nothing until it has said hello (wire.capnp, "handshake").
  CHECK(written_peer(c).empty());
  send(c, hello_frame("test", 0x22, false, replication::protocol_version, "10.0.0.2:7000"));
  auto hello = written_peer(c);
  REQUIRE(hello.size() == 1);
  auto* h = std::get_if<replication::hello>(&hello[0]);
  REQUIRE(h != nullptr);
  CHECK(h->cluster == "test");
  CHECK(h->node == self_id);
  CHECK(h->address == "127.0.0.1:4242");
  CHECK_FALSE(h->client);
  CHECK(h->refusal.empty());
  CHECK(stats().peer_connections == 1);
  CHECK(rec->peers.empty());  // the hello is the transport's business

  send(c, ping_frame(5) + ping_frame(6));  // two frames in one read
  REQUIRE(rec->peers.size() == 2);
  CHECK(rec->peers[0].from == 0x22);
  CHECK(std::get<replication::ping>(rec->peers[0].msg).probe == 5);
  CHECK(std::get<replication::ping>(rec->peers[1].msg).probe == 6);
  CHECK_FALSE(closed_by_broker(c));
}

TEST_CASE_FIXTURE(fixture, "transport: a frame split across reads is reassembled") {
  start();
  auto c = peer(0x22);
  std::string f = ping_frame(77);
  for (char ch : f) send(c, std::string(1, ch));
  REQUIRE(rec->peers.size() == 1);
  CHECK(std::get<replication::ping>(rec->peers[0].msg).probe == 77);
}

TEST_CASE_FIXTURE(fixture, "transport: a wrong cluster name closes that connection only") {
  start();
  auto good = peer(0x22);
  auto bad = connect();
  send(bad, hello_frame("other", 0x33));
  CHECK(closed_by_broker(bad));
  auto no = refusal(bad);  // told why before the close
  CHECK(no.refusal_code == errc::invalid_argument);
  CHECK(no.refusal.find("cluster 'other'") != std::string::npos);
  CHECK(logs.contains("cluster 'other'"));
  CHECK(logs.contains("cluster 'test'"));

  send(good, ping_frame(1));
  REQUIRE(rec->peers.size() == 1);
  CHECK(rec->peers[0].from == 0x22);
  CHECK_FALSE(closed_by_broker(good));
  auto s = stats();
  CHECK(s.refused == 1);
  CHECK(s.peer_connections == 1);
}

TEST_CASE_FIXTURE(fixture, "transport: a wrong protocol version, a non-hello first frame or our own id are refused") {
  start();
  auto v2 = connect();
  send(v2, hello_frame("test", 0x22, false, replication::protocol_version + 1));
  CHECK(closed_by_broker(v2));
  CHECK(logs.contains("protocol version"));
  CHECK(refusal(v2).refusal_code == errc::unsupported_version);

  auto no_hello = connect();
  send(no_hello, ping_frame(1));
  CHECK(closed_by_broker(no_hello));
  CHECK(logs.contains("not a hello"));
  CHECK(refusal(no_hello).refusal.find("not a hello") != std::string::npos);

  auto itself = connect();
  send(itself, hello_frame("test", self_id));
  CHECK(closed_by_broker(itself));
  CHECK(refusal(itself).refusal_code == errc::invalid_argument);

  CHECK(rec->peers.empty());
  CHECK(stats().refused == 3);
}

TEST_CASE_FIXTURE(fixture, "transport: bad bytes close that connection — the broker lives on") {
  auto tc = config();
  tc.max_frame_bytes = 4096;
  start(tc);
  SUBCASE("garbage bytes") {
    auto c = peer(0x22);
    send(c, std::string(64, '\xff'));
    CHECK(closed_by_broker(c));
  }
  SUBCASE("oversized frame header") {
    auto c = peer(0x22);
    send(c, le32(0) + le32(0x0fffffff));  // one segment of 2 GiB
    CHECK(closed_by_broker(c));
    CHECK(logs.contains("too_large"));
  }
  SUBCASE("frame header beyond the configured limit") {
    auto c = peer(0x22);
    send(c, le32(0) + le32(1000));  // an 8 KB frame > 4 KB
    CHECK(closed_by_broker(c));
  }
  SUBCASE("garbage body behind a valid segment table") {
    auto c = peer(0x22);
    send(c, le32(0) + le32(2) + std::string(16, '\xff'));
    CHECK(closed_by_broker(c));
    CHECK(logs.contains("bad frame"));
  }
  SUBCASE("garbage instead of a hello") {
    auto c = connect();
    send(c, le32(0) + le32(1) + std::string(8, '\x7f'));
    CHECK(closed_by_broker(c));
  }
  SUBCASE("truncated frame, then the peer hangs up") {
    auto c = peer(0x22);
    std::string f = ping_frame(9);
    send(c, f.substr(0, f.size() - 3));
    CHECK_FALSE(closed_by_broker(c));
    hang_up(c);
  }
  CHECK(rec->peers.empty());
  // A subsequent good connection works.
  auto next = peer(0x44);
  send(next, ping_frame(3));
  REQUIRE(rec->peers.size() == 1);
  CHECK(rec->peers[0].from == 0x44);
}

TEST_CASE_FIXTURE(fixture, "transport: a huge first frame (before any hello) is not buffered") {
  start();
  auto c = connect();
  send(c, le32(0) + le32(1 << 17) + std::string(70 * 1024, '\0'));  // announces 1 MiB
  CHECK(closed_by_broker(c));
  CHECK(logs.contains("before a complete hello"));
}

TEST_CASE_FIXTURE(fixture, "transport: a connection without hello is closed after the handshake timeout") {
  auto tc = config();
  tc.handshake_timeout_ms = 500;
  start(tc);
  auto c = connect();
  auto handshaken = peer(0x22);
  sched.advance_time(std::chrono::milliseconds(499));
  run();
  CHECK_FALSE(closed_by_broker(c));
  sched.advance_time(std::chrono::milliseconds(1));
  run();
  CHECK(closed_by_broker(c));
  CHECK(logs.contains("no hello within 500 ms"));
  CHECK_FALSE(closed_by_broker(handshaken));
}

TEST_CASE_FIXTURE(fixture, "transport: outbox messages go to the node's handshaken connection") {
  start();
  auto a = peer(0x22);
  auto b = peer(0x33);
  outbox({{0x33, "", replication::ping{1, {}}}, {0x22, "", replication::ping{2, {}}}, {0x33, "", replication::ping{3, {}}}});
  auto to_a = written_peer(a);
  auto to_b = written_peer(b);
  REQUIRE(to_a.size() == 1);
  REQUIRE(to_b.size() == 2);
  CHECK(std::get<replication::ping>(to_a[0]).probe == 2);
  CHECK(std::get<replication::ping>(to_b[0]).probe == 1);
  CHECK(std::get<replication::ping>(to_b[1]).probe == 3);
  // By address: the address a node announced in its hello routes to its connection too.
  auto c = peer(0x44, "10.0.0.4:7000");
  outbox({{0, "10.0.0.4:7000", replication::ping{4, {}}}});
  auto to_c = written_peer(c);
  REQUIRE(to_c.size() == 1);
  CHECK(std::get<replication::ping>(to_c[0]).probe == 4);
}

TEST_CASE_FIXTURE(fixture, "transport: dialing an address queues until the hello, then delivers") {
  start();
  auto c = connection_handle::from_int(500);
  mpx.provide_scribe("127.0.0.1", 5555, c);
  replication::join_request join;
  join.self.id = self_id;
  join.self.address = "127.0.0.1:4242";
  outbox({{0, "127.0.0.1:5555", join}, {0, "127.0.0.1:5555", replication::ping{8, {}}}});
  CHECK_FALSE(mpx.has_pending_scribe("127.0.0.1", 5555));  // dialed
  auto first = written_peer(c);
  REQUIRE(first.size() == 1);  // only our hello: the rest waits for the handshake
  CHECK(std::holds_alternative<replication::hello>(first[0]));

  send(c, hello_frame("test", 0x55, false, replication::protocol_version, "127.0.0.1:5555"));
  auto after = written_peer(c);
  REQUIRE(after.size() == 2);
  CHECK(std::get<replication::join_request>(after[0]) == join);
  CHECK(std::get<replication::ping>(after[1]).probe == 8);

  // The node is now known by id, and its frames reach the replica.
  outbox({{0x55, "", replication::ping{9, {}}}});
  REQUIRE(written_peer(c).size() == 1);
  send(c, ping_frame(10));
  REQUIRE(rec->peers.size() == 1);
  CHECK(rec->peers[0].from == 0x55);
  CHECK(stats().dialed == 1);
}

TEST_CASE_FIXTURE(fixture, "transport: a failed dial drops the queue and backs off") {
  auto tc = config();
  tc.reconnect_min_ms = 100;
  tc.reconnect_max_ms = 400;
  start(tc);
  outbox({{0x66, "127.0.0.1:6666", replication::ping{1, {}}}});  // nobody listens there
  auto s = stats();
  CHECK(s.dial_failures == 1);
  CHECK(s.dropped == 1);
  CHECK(logs.contains("cannot reach 127.0.0.1:6666"));

  auto c = connection_handle::from_int(600);
  mpx.provide_scribe("127.0.0.1", 6666, c);
  outbox({{0x66, "127.0.0.1:6666", replication::ping{2, {}}}});
  CHECK(mpx.has_pending_scribe("127.0.0.1", 6666));  // still backing off: not dialed
  CHECK(stats().dropped == 2);

  sched.advance_time(std::chrono::milliseconds(100));
  outbox({{0x66, "127.0.0.1:6666", replication::ping{3, {}}}});
  CHECK_FALSE(mpx.has_pending_scribe("127.0.0.1", 6666));  // dialed now
  send(c, hello_frame("test", 0x66));
  auto out = written_peer(c);
  REQUIRE(out.size() == 2);
  CHECK(std::get<replication::ping>(out[1]).probe == 3);
}

TEST_CASE_FIXTURE(fixture, "transport: a dialed node of another cluster is refused and backed off") {
  start();
  auto c = connection_handle::from_int(700);
  mpx.provide_scribe("127.0.0.1", 7777, c);
  outbox({{0, "127.0.0.1:7777", replication::ping{1, {}}}});
  send(c, hello_frame("elsewhere", 0x77));
  CHECK(closed_by_broker(c));
  CHECK(logs.contains("cluster 'elsewhere'"));
  auto s = stats();
  CHECK(s.dial_failures == 1);
  CHECK(s.dropped == 1);
  CHECK(s.frames_out == 1);  // our hello only
}

TEST_CASE_FIXTURE(fixture, "transport: messages to a peer beyond its backlog are dropped") {
  auto tc = config();
  tc.max_peer_backlog_bytes = 1000;
  start(tc);
  auto c = peer(0x22);
  std::vector<replication::outgoing> many;
  for (uint64_t i = 0; i < 100; ++i) many.push_back({0x22, "", replication::ping{i, {}}});
  outbox(many);
  auto out = written_peer(c);
  CHECK(out.size() < 100);
  CHECK_FALSE(out.empty());
  CHECK(stats().dropped == 100 - out.size());
  CHECK(logs.contains("dropping messages"));
  // Once CAF reports the bytes written, sending resumes.
  caf::anon_send(broker, caf::io::data_transferred_msg{c, 2000, 0});
  run();
  outbox({{0x22, "", replication::ping{1000, {}}}});
  auto later = written_peer(c);
  REQUIRE(later.size() == 1);
  CHECK(std::get<replication::ping>(later[0]).probe == 1000);
}

TEST_CASE_FIXTURE(fixture, "transport: a client is accepted with a role = client hello, or refused with the reason") {
  // Issue 20, item 1: the node used to send its hello (role = peer) before reading the client's,
  // so a client could not tell acceptance from refusal.
  start();
  auto c = connect();
  CHECK(written_peer(c).empty());
  send(c, hello_frame("", 0, true));
  auto out = written_peer(c);
  REQUIRE(out.size() == 1);
  auto& yes = std::get<replication::hello>(out[0]);
  CHECK(yes.client);  // accepted as a client
  CHECK(yes.refusal.empty());
  CHECK(yes.cluster == "test");
  CHECK(yes.node == self_id);
  CHECK_FALSE(closed_by_broker(c));

  auto other = connect();
  send(other, hello_frame("prod", 0, true));
  CHECK(closed_by_broker(other));
  auto no = refusal(other);
  CHECK(no.refusal_code == errc::invalid_argument);
  CHECK(no.refusal.find("cluster 'prod'") != std::string::npos);

  auto newer = connect();
  send(newer, hello_frame("", 0, true, replication::client_protocol_version + 1));
  CHECK(closed_by_broker(newer));
  CHECK(refusal(newer).refusal_code == errc::unsupported_version);

  // A client of the previous version (4: before the text type) is accepted and answered in its
  // own version; one older than that is refused.
  auto v4 = connect();
  send(v4, hello_frame("", 0, true, replication::min_client_protocol_version));
  auto out4 = written_peer(v4);
  REQUIRE(out4.size() == 1);
  CHECK(std::get<replication::hello>(out4[0]).refusal.empty());
  CHECK(std::get<replication::hello>(out4[0]).version == replication::min_client_protocol_version);
  CHECK_FALSE(closed_by_broker(v4));
  auto v3 = connect();
  send(v3, hello_frame("", 0, true, replication::min_client_protocol_version - 1));
  CHECK(closed_by_broker(v3));
  CHECK(refusal(v3).refusal_code == errc::unsupported_version);
}

TEST_CASE_FIXTURE(fixture, "transport: a client request becomes a call — the reply is written back") {
  start();
  auto c = client_conn();
  CHECK(stats().client_connections == 1);
  send(c, client_frame(get_request(5, "k")));
  REQUIRE(rec->calls.size() == 1);
  call& got = rec->calls[0];
  CHECK(got.session != 0);
  CHECK(got.req == get_request(5, "k"));
  CHECK_FALSE(got.on_event);  // not a watch
  REQUIRE(got.reply);

  client::response r;
  r.id = 5;
  r.values.push_back({"k", "bytes"});
  got.reply(r);
  run();
  auto out = written_client(c);
  REQUIRE(out.size() == 1);
  CHECK(std::get<client::response>(out[0]) == r);

  // A client frame that is not a request closes the connection.
  send(c, client::encode_client(client::client_message{r}));
  CHECK(closed_by_broker(c));
}

TEST_CASE_FIXTURE(fixture, "transport: pipelined requests read at once reach the replica as one burst, in order, and one client_out may carry many frames") {
  start();
  auto c = client_conn();
  send(c, client_frame(get_request(1, "a")) + client_frame(watch_request(2, "p")) + client_frame(get_request(3, "b")));
  REQUIRE(rec->calls.size() == 3);
  CHECK(rec->bursts == 1);
  CHECK(rec->calls[0].req == get_request(1, "a"));
  CHECK(rec->calls[1].req == watch_request(2, "p"));
  CHECK(rec->calls[2].req == get_request(3, "b"));
  const uint64_t session = rec->calls[0].session;
  CHECK(rec->calls[2].session == session);
  // The next read is the next burst.
  send(c, client_frame(get_request(4, "c")));
  REQUIRE(rec->calls.size() == 4);
  CHECK(rec->bursts == 2);

  // Answers of one step travel together: every frame is written, in the order given.
  client::response r3{3, errc::ok, "", {}, {}, {}, {}};
  client::response r1{1, errc::not_found, "none", {}, {}, {}, {}};
  client::event e{2, "p1", "v", 7};
  caf::anon_send(broker, client_out_atom::value, session,
                 client::encode_client(client::client_message{r3}) + client::encode_client(client::client_message{e}) +
                     client::encode_client(client::client_message{r1}));
  run();
  auto out = written_client(c);
  REQUIRE(out.size() == 3);
  CHECK(std::get<client::response>(out[0]) == r3);
  CHECK(std::get<client::event>(out[1]) == e);
  CHECK(std::get<client::response>(out[2]) == r1);
}

TEST_CASE_FIXTURE(fixture, "transport: a request the node cannot read is answered with decode_error, the connection goes on") {
  // Issue 20, item 3: a request with `type = unknown` used to close the connection, losing every
  // other pipelined request on it. Errors in one request must not cost the others.
  start();
  auto c = client_conn();
  client::request bad;
  bad.id = 7;
  client::update u;
  u.key = "k";
  u.op = client::op_kind::counter_add;
  u.type = static_cast<crdt::type_tag>(0);  // CrdtType.unknown
  u.amount = 1;
  bad.body = u;
  client::request odd_op = bad;
  odd_op.id = 8;
  u.type = crdt::type_tag::pn_counter;
  u.op = static_cast<client::op_kind>(99);  // an op kind this build does not know
  odd_op.body = u;
  // Pipelined: the bad requests and a good one in one write.
  send(c, client_frame(bad) + client_frame(odd_op) + client_frame(get_request(9, "k")));
  CHECK_FALSE(closed_by_broker(c));
  auto out = written_client(c);
  REQUIRE(out.size() == 2);
  auto& r7 = std::get<client::response>(out[0]);
  CHECK(r7.id == 7);
  CHECK(r7.code == errc::decode_error);
  CHECK_MESSAGE(r7.message.find("CRDT type tag 0") != std::string::npos, r7.message);
  auto& r8 = std::get<client::response>(out[1]);
  CHECK(r8.id == 8);
  CHECK(r8.code == errc::decode_error);
  CHECK_MESSAGE(r8.message.find("op kind") != std::string::npos, r8.message);
  REQUIRE(rec->calls.size() == 1);  // only the good request reached the replica
  CHECK(rec->calls[0].req == get_request(9, "k"));

  // A frame that is not a well-formed message at all still closes the connection.
  send(c, std::string(16, '\xff'));
  CHECK(closed_by_broker(c));
}

TEST_CASE_FIXTURE(fixture, "transport: sessions of two clients differ — a late reply to a closed client is dropped") {
  start();
  auto a = client_conn();
  auto b = client_conn();
  send(a, client_frame(get_request(1, "x")));
  send(b, client_frame(get_request(1, "x")));
  REQUIRE(rec->calls.size() == 2);
  CHECK(rec->calls[0].session != rec->calls[1].session);
  hang_up(a);
  rec->calls[0].reply(client::response{1, errc::ok, "", {}, {}, {}, {}});
  rec->calls[1].reply(client::response{1, errc::ok, "", {}, {}, {}, {}});
  run();
  CHECK(written_client(b).size() == 1);
  CHECK(stats().client_connections == 1);
}

TEST_CASE_FIXTURE(fixture, "transport: watch events are written — a client disconnect unwatches its watches") {
  start();
  auto c = client_conn();
  send(c, client_frame(watch_request(3, "a")));
  send(c, client_frame(watch_request(4, "b")));
  send(c, client_frame(unwatch_request(5, 4)));
  REQUIRE(rec->calls.size() == 3);
  uint64_t session = rec->calls[0].session;
  REQUIRE(rec->calls[0].on_event);
  rec->calls[0].on_event(client::event{3, "a1", "v", 0x22});
  run();
  auto out = written_client(c);
  REQUIRE(out.size() == 1);
  CHECK(std::get<client::event>(out[0]) == client::event{3, "a1", "v", 0x22});

  hang_up(c);
  REQUIRE(rec->calls.size() == 4);
  const call& u = rec->calls[3];
  CHECK(u.session == session);
  auto* body = std::get_if<client::unwatch>(&u.req.body);
  REQUIRE(body != nullptr);
  CHECK(body->watch_id == 3);  // 4 was already unwatched by the client
  // Events after the disconnect go nowhere (and do not crash anything).
  rec->calls[0].on_event(client::event{3, "a2", "v", 0x22});
  run();
}

TEST_CASE_FIXTURE(fixture, "transport: client back-pressure stops reading — a lagging watcher is disconnected") {
  auto tc = config();
  tc.max_client_backlog_bytes = 200;
  start(tc);
  auto c = client_conn();
  send(c, client_frame(get_request(1, "k")));
  REQUIRE(rec->calls.size() == 1);
  client::response big;
  big.id = 1;
  big.values.push_back({"k", std::string(300, 'x')});
  rec->calls[0].reply(big);
  run();
  CHECK(mpx.passive_mode(c));  // not read from until the backlog drains
  send(c, client_frame(get_request(2, "k")));
  CHECK(rec->calls.size() == 1);
  caf::anon_send(broker, caf::io::data_transferred_msg{c, 400, 0});
  run();
  CHECK_FALSE(mpx.passive_mode(c));
  run();
  CHECK(rec->calls.size() == 2);  // the waiting request is read now

  auto w = client_conn();
  send(w, client_frame(watch_request(7, "")));
  REQUIRE(rec->calls.size() == 3);
  auto on_event = rec->calls[2].on_event;
  for (int i = 0; i < 3; ++i) on_event(client::event{7, "k", std::string(150, 'y'), 1});
  run();
  CHECK(closed_by_broker(w));
  CHECK(logs.contains("watcher fell behind"));
  REQUIRE(rec->calls.size() == 4);  // its watch is cancelled
  CHECK(std::holds_alternative<client::unwatch>(rec->calls[3].req.body));
}

TEST_CASE_FIXTURE(fixture, "transport: stop closes every connection") {
  start();
  auto a = peer(0x22);
  auto b = client_conn();
  caf::anon_send(broker, stop_atom::value);
  run();
  CHECK(closed_by_broker(a));
  CHECK(closed_by_broker(b));
  broker = nullptr;
}

TEST_CASE_FIXTURE(fixture, "transport: the broker stops when the replica actor goes away") {
  start();
  auto a = peer(0x22);
  caf::anon_send_exit(replica, caf::exit_reason::user_shutdown);
  run();
  CHECK(closed_by_broker(a));
}

// ---- real sockets ----

namespace {

struct threaded_config : caf::actor_system_config {
  threaded_config() {
    load<caf::io::middleman>();
    set("scheduler.max-threads", size_t{2});
  }
};

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace

TEST_CASE("transport: a port in use gives busy — a bad host gives invalid_argument (real sockets)") {
  threaded_config cfg;
  caf::actor_system sys{cfg};
  log_capture logs;
  auto rec = std::make_shared<recorder>();
  auto replica = sys.spawn(fake_replica, rec);
  transport_config tc;
  tc.cluster = "test";
  tc.self = 1;
  tc.log = logs.log;
  auto first = spawn_transport(sys, tc, replica);
  REQUIRE(first);
  CHECK(first->port != 0);
  tc.listen_port = first->port;
  auto second = spawn_transport(sys, tc, replica);
  REQUIRE_FALSE(second);
  CHECK(second.err().code == errc::busy);
  CHECK(second.err().message.find(std::to_string(first->port)) != std::string::npos);
  tc.listen_host = "no-such-host.invalid";
  auto third = spawn_transport(sys, tc, replica);
  REQUIRE_FALSE(third);
  CHECK(third.err().code == errc::invalid_argument);
  caf::anon_send(first->broker, stop_atom::value);
  caf::anon_send_exit(replica, caf::exit_reason::user_shutdown);
}

TEST_CASE("transport: two transports on loopback dial, handshake and exchange messages (real sockets)") {
  threaded_config cfg;
  caf::actor_system sys{cfg};
  log_capture logs;
  auto rec_a = std::make_shared<recorder>();
  auto rec_b = std::make_shared<recorder>();
  auto rep_a = sys.spawn(fake_replica, rec_a);
  auto rep_b = sys.spawn(fake_replica, rec_b);
  transport_config tc;
  tc.cluster = "test";
  tc.log = logs.log;
  tc.self = 0xa;
  auto a = spawn_transport(sys, tc, rep_a);
  tc.self = 0xb;
  auto b = spawn_transport(sys, tc, rep_b);
  REQUIRE(a);
  REQUIRE(b);

  SUBCASE("dial by address, then answer by node id") {
    caf::anon_send(a->broker, send_atom::value, outbox_msg{{{0, b->address, replication::ping{1, {}}}}});
    REQUIRE(eventually([&] { return rec_b->peer_count() == 1; }, std::chrono::seconds(10)));
    CHECK(rec_b->peers[0].from == 0xa);
    // b knows a's connection by id now (no second dial needed).
    caf::anon_send(b->broker, send_atom::value, outbox_msg{{{0xa, "", replication::ping{2, {}}}}});
    REQUIRE(eventually([&] { return rec_a->peer_count() == 1; }, std::chrono::seconds(10)));
    CHECK(rec_a->peers[0].from == 0xb);
    CHECK(std::get<replication::ping>(rec_a->peers[0].msg).probe == 2);
  }
  SUBCASE("a dial to a closed port fails, backs off, and the transport keeps working") {
    uint16_t closed_port = 0;
    {
      // Find a port nobody listens on: bind one, remember it, close it.
      tc.self = 0xc;
      auto tmp = spawn_transport(sys, tc, rep_a);
      REQUIRE(tmp);
      closed_port = tmp->port;
      caf::scoped_actor self{sys};
      self->monitor(tmp->broker);
      caf::anon_send(tmp->broker, stop_atom::value);
      self->receive([](const caf::down_msg&) {}, caf::after(std::chrono::seconds(10)) >> [] { FAIL("no stop"); });
    }
    std::string nowhere = join_host_port("127.0.0.1", closed_port);
    caf::anon_send(a->broker, send_atom::value, outbox_msg{{{0, nowhere, replication::ping{1, {}}}}});
    REQUIRE(eventually([&] { return logs.contains("cannot reach " + nowhere); }, std::chrono::seconds(10)));
    caf::anon_send(a->broker, send_atom::value, outbox_msg{{{0, b->address, replication::ping{3, {}}}}});
    REQUIRE(eventually([&] { return rec_b->peer_count() == 1; }, std::chrono::seconds(10)));
  }
  caf::anon_send(a->broker, stop_atom::value);
  caf::anon_send(b->broker, stop_atom::value);
  caf::anon_send_exit(rep_a, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(rep_b, caf::exit_reason::user_shutdown);
}

namespace {

// Answers every call at once with {id, ok, message}. (Spawned with an argument: CAF 0.17 dereferences a null
// argument tuple when a function actor is spawned without any, which UBSan reports.)
caf::behavior echo_replica(caf::event_based_actor*, std::string message) {
  return {
      [message](call& c) { c.reply(client::response{c.req.id, errc::ok, message, {}, {}, {}, {}}); },
      [message](client_burst& b) {
        std::string frames;  // every answer of the burst in one client_out, as the replica actor does
        for (const auto& req : b.requests)
          frames += client::encode_client(client::client_message{client::response{req.id, errc::ok, message, {}, {}, {}, {}}});
        caf::anon_send(b.transport, client_out_atom::value, b.session, std::move(frames));
      },
      [](peer_message&) {},
  };
}

}  // namespace

TEST_CASE("transport: a client::connection talks to the transport (real sockets)") {
  threaded_config cfg;
  caf::actor_system sys{cfg};
  log_capture logs;
  auto replica = sys.spawn(echo_replica, std::string("echo"));
  transport_config tc;
  tc.cluster = "test";
  tc.self = 0xa;
  tc.log = logs.log;
  auto t = spawn_transport(sys, tc, replica);
  REQUIRE(t);
  {
    auto c = client::connection::connect(t->address, 5000);
    REQUIRE(c);
    auto r = c->call(get_request(0, "k"), 5000);
    REQUIRE(r);
    CHECK(r->code == errc::ok);
    CHECK(r->message == "echo");
  }
  caf::anon_send(t->broker, stop_atom::value);
  caf::anon_send_exit(replica, caf::exit_reason::user_shutdown);
}

}  // namespace rumor::actors
