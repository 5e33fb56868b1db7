// connection: against tiny in-test servers on 127.0.0.1 (a thread with a listening socket that
// plays a node's side of the protocol): handshake, call, events, pipelining, and every error path
// (refused, silent node, version mismatch, node closing, garbage frames). Every wait is bounded.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "client/client_codec.hpp"
#include "client/connection.hpp"
#include "replication/wire_codec.hpp"

using namespace rumor;
using namespace rumor::client;

namespace {

constexpr int server_wait_ms = 10'000;  // bound of every wait on the server side

// The node's end of one accepted connection.
class peer {
 public:
  explicit peer(int fd) : fd_(fd) {}
  ~peer() { ::close(fd_); }
  int fd() const { return fd_; }

  // The next frame, or "" on timeout / close / framing error.
  std::string read_frame() {
    while (true) {
      auto f = reader_.next();
      if (!f) return "";
      if (*f) return **f;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, server_wait_ms) <= 0) return "";
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return "";
      reader_.feed(std::string_view(buf, static_cast<size_t>(n)));
    }
  }
  void write(const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return;
      done += static_cast<size_t>(n);
    }
  }
  // Waits (bounded) until the client closes its end.
  void wait_closed() {
    while (true) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, server_wait_ms) <= 0) return;
      char buf[4096];
      if (::recv(fd_, buf, sizeof buf, 0) <= 0) return;
    }
  }
  // Reads the client's hello; returns false (and notes why) if it is not a client hello.
  bool expect_client_hello(std::string& problems) {
    auto m = replication::decode_message(read_frame());
    auto* h = m ? std::get_if<replication::hello>(&m.value()) : nullptr;
    if (!h || !h->client || h->node != 0 || h->version != replication::client_protocol_version || !h->cluster.empty()) {
      problems += "bad client hello; ";
      return false;
    }
    return true;
  }
  void send_hello(uint32_t version = replication::client_protocol_version) {
    replication::hello h;
    h.cluster = "test-cluster";
    h.node = 42;
    h.version = version;
    h.address = "127.0.0.1:1";
    write(replication::encode_message(h));
  }
  std::optional<request> read_request(std::string& problems) {
    auto m = decode_client(read_frame());
    if (!m || !std::holds_alternative<request>(m.value())) {
      problems += "expected a request; ";
      return std::nullopt;
    }
    return std::get<request>(m.value());
  }

 private:
  int fd_;
  replication::frame_reader reader_;
};

// A listening socket on 127.0.0.1 (port chosen by the OS) and a thread that accepts one connection
// and runs `script` on it. The destructor joins the thread (every server wait is bounded).
class test_server {
 public:
  explicit test_server(std::function<void(peer&, std::string& problems)> script) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 4) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, script = std::move(script)] {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, server_wait_ms) <= 0) {
        problems_ += "no connection; ";
        return;
      }
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        problems_ += "accept failed; ";
        return;
      }
      peer pr(c);
      script(pr, problems_);
    });
  }
  ~test_server() {
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // Joins the server thread and returns what its script found wrong ("" = nothing).
  std::string finish() {
    if (thread_.joinable()) thread_.join();
    return problems_;
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::string problems_;
};

int64_t elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

TEST_CASE("connection: handshake, one call, an event queued meanwhile") {
  test_server server([](peer& p, std::string& problems) {
    if (!p.expect_client_hello(problems)) return;
    p.send_hello();
    auto req = p.read_request(problems);
    if (!req) return;
    if (!std::holds_alternative<get>(req->body) || std::get<get>(req->body).key != "user:1" || req->id == 0)
      problems += "unexpected request; ";
    p.write(encode_client(event{77, "user:2", "v2", 5}));  // arrives before the response
    response r;
    r.id = req->id;
    r.values = {key_value{"user:1", "bytes", {}}};
    p.write(encode_client(r));
    p.wait_closed();
  });
  auto c = connection::connect(server.address(), 5000);
  REQUIRE_MESSAGE(c, (c ? "" : c.err().describe()));
  CHECK(c->is_open());
  CHECK(c->node_hello().node == 42);
  CHECK(c->node_hello().cluster == "test-cluster");
  CHECK(c->address() == server.address());

  request req;
  req.body = get{"user:1"};
  auto resp = c->call(req, 5000);
  REQUIRE_MESSAGE(resp, (resp ? "" : resp.err().describe()));
  CHECK(resp->id != 0);
  CHECK(resp->code == errc::ok);
  REQUIRE(resp->values.size() == 1);
  CHECK(resp->values[0].value == "bytes");

  auto ev = c->next(0);
  REQUIRE(ev);
  REQUIRE(ev->has_value());
  CHECK(**ev == client_message{event{77, "user:2", "v2", 5}});
  auto none = c->next(0);  // nothing more, and no waiting
  REQUIRE(none);
  CHECK(!none->has_value());

  connection moved = std::move(*c);
  CHECK(!c->is_open());
  CHECK(moved.is_open());
  moved.close();
  CHECK(!moved.is_open());
  auto after = moved.call(req, 100);
  REQUIRE(!after);
  CHECK(after.err().code == errc::unavailable);
  CHECK(server.finish() == "");
}

TEST_CASE("connection: pipelined requests answered out of order") {
  test_server server([](peer& p, std::string& problems) {
    if (!p.expect_client_hello(problems)) return;
    p.send_hello();
    auto a = p.read_request(problems);
    auto b = p.read_request(problems);
    if (!a || !b) return;
    response rb;
    rb.id = b->id;
    rb.code = errc::not_found;
    rb.message = "no such key";
    p.write(encode_client(rb));
    response ra;
    ra.id = a->id;
    p.write(encode_client(ra));
    p.wait_closed();
  });
  auto c = connection::connect(server.address(), 5000);
  REQUIRE(c);
  request a, b;
  a.id = c->next_id();
  a.body = keys{"", 10};
  b.id = c->next_id();
  b.body = get{"missing"};
  CHECK(a.id != b.id);
  REQUIRE(c->send(a));
  REQUIRE(c->send(b));
  auto first = c->next(5000);
  REQUIRE(first);
  REQUIRE(first->has_value());
  CHECK(std::get<response>(**first).id == b.id);
  CHECK(std::get<response>(**first).code == errc::not_found);
  auto second = c->next(5000);
  REQUIRE(second);
  REQUIRE(second->has_value());
  CHECK(std::get<response>(**second).id == a.id);
  CHECK(c->next_id() > b.id);
  c->close();
  CHECK(server.finish() == "");
}

TEST_CASE("connection: refused port gives unavailable naming the address") {
  // A port that nobody listens on: bind one, then close it without listening.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  std::string address = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));

  auto start = std::chrono::steady_clock::now();
  auto c = connection::connect(address, 5000);
  REQUIRE(!c);
  CHECK(c.err().code == errc::unavailable);
  CHECK(c.err().message.find(address) != std::string::npos);
  CHECK(c.err().message.find("rumor node") != std::string::npos);
  CHECK(elapsed_ms(start) < 5000);
}

TEST_CASE("connection: bad addresses") {
  auto c = connection::connect("no-port-here", 1000);
  REQUIRE(!c);
  CHECK(c.err().code == errc::invalid_argument);
  auto d = connection::connect("host.invalid:7000", 3000);  // RFC 2606: never resolves
  REQUIRE(!d);
  CHECK(d.err().code == errc::unavailable);
}

TEST_CASE("connection: a node that never answers the hello times out in bound") {
  test_server server([](peer& p, std::string&) {
    p.read_frame();  // the hello, unanswered
    p.wait_closed();
  });
  auto start = std::chrono::steady_clock::now();
  auto c = connection::connect(server.address(), 300);
  REQUIRE(!c);
  CHECK(c.err().code == errc::timeout);
  auto took = elapsed_ms(start);
  CHECK(took >= 250);
  CHECK(took < 3000);
  CHECK(server.finish() == "");
}

TEST_CASE("connection: a node that accepts the request and never answers times out in bound") {
  test_server server([](peer& p, std::string& problems) {
    if (!p.expect_client_hello(problems)) return;
    p.send_hello();
    auto req = p.read_request(problems);  // read, never answered
    if (req) {
      response late;
      late.id = req->id;
      p.read_request(problems);  // a second request: answer the first one now (late)
      p.write(encode_client(late));
    }
    p.wait_closed();
  });
  auto c = connection::connect(server.address(), 5000);
  REQUIRE(c);
  request req;
  req.body = client::status{};
  req.id = 500;
  auto start = std::chrono::steady_clock::now();
  auto r = c->call(req, 200);
  REQUIRE(!r);
  CHECK(r.err().code == errc::timeout);
  auto took = elapsed_ms(start);
  CHECK(took >= 150);
  CHECK(took < 3000);
  CHECK(c->is_open());  // a timeout leaves the connection usable

  // The late response to 500 is queued while we wait for 501's (which never comes).
  request second;
  second.body = members{};
  auto r2 = c->call(second, 500);
  REQUIRE(!r2);
  CHECK(r2.err().code == errc::timeout);
  CHECK(second.id == 0);  // call took its copy
  auto late = c->next(0);
  REQUIRE(late);
  REQUIRE(late->has_value());
  CHECK(std::get<response>(**late).id == 500);
  c->close();
  CHECK(server.finish() == "");
}

TEST_CASE("connection: protocol version mismatch") {
  test_server server([](peer& p, std::string& problems) {
    if (!p.expect_client_hello(problems)) return;
    p.send_hello(replication::client_protocol_version + 1);
    p.wait_closed();
  });
  auto c = connection::connect(server.address(), 5000);
  REQUIRE(!c);
  CHECK(c.err().code == errc::unsupported_version);
  CHECK(server.finish() == "");
}

TEST_CASE("connection: a refusal hello gives its code and the node's reason") {
  test_server server([](peer& p, std::string& problems) {
    if (!p.expect_client_hello(problems)) return;
    replication::hello no;
    no.cluster = "test-cluster";
    no.node = 42;
    no.refusal = "client for cluster 'prod', this node is in cluster 'test-cluster'";
    no.refusal_code = errc::invalid_argument;
    p.write(replication::encode_message(no));
    p.wait_closed();
  });
  auto c = connection::connect(server.address(), 5000);
  REQUIRE(!c);
  CHECK(c.err().code == errc::invalid_argument);
  CHECK(c.err().message.find("refused the connection: client for cluster 'prod'") != std::string::npos);
  CHECK(server.finish() == "");
}

TEST_CASE("connection: the node closing gives unavailable, then stays closed") {
  test_server server([](peer& p, std::string& problems) {
    if (!p.expect_client_hello(problems)) return;
    p.send_hello();
    p.read_request(problems);
    // return: closes the socket without answering
  });
  auto c = connection::connect(server.address(), 5000);
  REQUIRE(c);
  request req;
  req.body = get{"k"};
  auto r = c->call(req, 5000);
  REQUIRE(!r);
  CHECK(r.err().code == errc::unavailable);
  CHECK(r.err().message.find("closed") != std::string::npos);
  CHECK(!c->is_open());
  auto again = c->next(100);
  REQUIRE(!again);
  CHECK(again.err().code == errc::unavailable);
  CHECK(!c->send(req));
  CHECK(server.finish() == "");
}

TEST_CASE("connection: a node closing during the handshake gives unavailable") {
  test_server server([](peer& p, std::string&) { p.read_frame(); });
  auto c = connection::connect(server.address(), 5000);
  REQUIRE(!c);
  CHECK(c.err().code == errc::unavailable);
  CHECK(server.finish() == "");
}

TEST_CASE("connection: garbage frames give decode_error and close the connection") {
  SUBCASE("a frame that is not a ClientMessage") {
    test_server server([](peer& p, std::string& problems) {
      if (!p.expect_client_hello(problems)) return;
      p.send_hello();
      p.read_request(problems);
      std::string junk(8, '\0');
      junk[4] = 1;  // one segment of one word...
      junk += std::string(8, '\xff');  // ...holding a garbage pointer
      p.write(junk);
      p.wait_closed();
    });
    auto c = connection::connect(server.address(), 5000);
    REQUIRE(c);
    request req;
    req.body = get{"k"};
    auto r = c->call(req, 5000);
    REQUIRE(!r);
    CHECK(r.err().code == errc::decode_error);
    CHECK(!c->is_open());
    CHECK(server.finish() == "");
  }
  SUBCASE("a frame beyond the size bound") {
    test_server server([](peer& p, std::string& problems) {
      if (!p.expect_client_hello(problems)) return;
      p.send_hello();
      std::string table(8, '\0');
      table[4] = table[5] = table[6] = table[7] = '\xff';  // one segment of 2^32-1 words
      p.write(table);
      p.wait_closed();
    });
    auto c = connection::connect(server.address(), 5000);
    REQUIRE(c);
    auto r = c->next(5000);
    REQUIRE(!r);
    CHECK(r.err().code == errc::decode_error);
    CHECK(!c->is_open());
    c->close();
    CHECK(server.finish() == "");
  }
  SUBCASE("a first frame that is not a hello") {
    test_server server([](peer& p, std::string&) {
      p.read_frame();
      p.write(replication::encode_message(replication::ping{1, {}}));
      p.wait_closed();
    });
    auto c = connection::connect(server.address(), 5000);
    REQUIRE(!c);
    CHECK(c.err().code == errc::decode_error);
    CHECK(server.finish() == "");
  }
}

TEST_CASE("connection: a flood of events does not extend a call's wait") {
  test_server server([](peer& p, std::string& problems) {
    if (!p.expect_client_hello(problems)) return;
    p.send_hello();
    p.read_request(problems);
    std::string ev = encode_client(event{1, "k", std::string(100, 'v'), 2});
    auto start = std::chrono::steady_clock::now();
    while (elapsed_ms(start) < server_wait_ms) {  // until the client goes away
      if (::send(p.fd(), ev.data(), ev.size(), MSG_NOSIGNAL) < 0) break;
    }
  });
  auto c = connection::connect(server.address(), 5000);
  REQUIRE(c);
  request req;
  req.body = watch{""};
  auto start = std::chrono::steady_clock::now();
  auto r = c->call(req, 300);
  REQUIRE(!r);
  CHECK(r.err().code == errc::timeout);
  CHECK(elapsed_ms(start) < 3000);
  auto ev = c->next(0);
  REQUIRE(ev);
  CHECK(ev->has_value());
  c->close();
  CHECK(server.finish() == "");
}
