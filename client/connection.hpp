#pragma once
// connection: a blocking client connection to a rumor node over TCP (POSIX sockets), for the
// `rumor` CLI, tests and programs that do not embed a node. No CAF, no threads, no signals.
//
//   auto c = client::connection::connect("127.0.0.1:7000", 2000);
//   if (!c) { print(c.err().describe()); return; }
//   client::request r;
//   r.body = client::get{"user:1"};
//   auto resp = c->call(r, 5000);        // the response with r's id (assigned if 0)
//
// Protocol (client/client.capnp): after connect() the node and this client have exchanged hellos
// (replication/wire.capnp, role = client); every further frame is a ClientMessage. Responses are
// matched by request id; events (after a `watch`) and responses to pipelined requests that arrive
// while call() waits are queued in arrival order and returned by next().
//
// Errors (as values, never exceptions):
//   - "host:port" malformed: invalid_argument;
//   - connection refused, host unknown or unreachable, peer closed, socket errors: unavailable
//     (the message names the address); once a connection has failed it stays closed, and every
//     later call returns unavailable;
//   - no answer in time: timeout (the connection stays usable: a late response is queued);
//   - the node's hello has another protocol version: unsupported_version;
//   - a frame that is not a valid encoding or exceeds replication::max_frame_bytes: decode_error
//     (the stream is lost: the connection is closed).
//
// Security: with credentials.tls (a CA bundle, and a client certificate and key unless a token
// is used) the connection speaks TLS 1.3; the node's certificate must chain to the CA, name the
// host of `host_port` and be a node certificate. credentials.token goes in the hello (send it
// over TLS only). Errors: a node that refuses the credentials answers unauthenticated; TLS files
// that cannot be loaded are invalid_argument; a failed TLS handshake (untrusted or expired
// certificate, a node without TLS) is unavailable with the reason; a node that requires TLS,
// reached without it, refuses with unavailable saying so. With TLS, a send that times out closes
// the connection (its records are numbered: the stream cannot resume after a partial one).
//
// Every wait is bounded by the caller's timeout (a write by call()'s timeout, or by the connect
// timeout for send()). Timeouts are clamped to 30 days.
//
// Thread safety: one thread at a time per connection (no internal locking). Distinct connections
// are independent.

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "base/result.hpp"
#include "client/client_messages.hpp"
#include "replication/messages.hpp"
#include "replication/wire_codec.hpp"
#include "security/tls_session.hpp"

namespace rumor::client {

// How a client proves who it is (see "Security" above). Default: plaintext, no token.
struct credentials {
  security::tls_files tls;  // tls.ca set: TLS on
  std::string token;        // empty: none
};

class connection {
 public:
  // Connects to `host_port` ("host:port", "[v6addr]:port"; host may be a name) within
  // `timeout_ms` (TCP connect and hello exchange together), sending a client hello
  // {cluster "", node 0, version replication::client_protocol_version, address "", client = true}.
  // Returns the open connection once the node's hello has arrived and its version matches.
  static result<connection> connect(std::string host_port, uint64_t timeout_ms, const credentials& cred = {});

  connection(connection&& other) noexcept;
  connection& operator=(connection&& other) noexcept;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection();  // closes the socket

  // Sends `req` (assigning a fresh id if req.id == 0) and waits at most `timeout_ms` for the
  // response with its id. Other messages that arrive meanwhile are queued for next(). A response
  // with code != ok is still a response (the caller inspects code and message); errors of this
  // call are transport errors (see above) and timeout.
  result<response> call(request req, uint64_t timeout_ms);

  // Returns the next queued or arriving message (event, or response to a send()), waiting at most
  // `timeout_ms` (0: only what is already here); nullopt on timeout.
  result<std::optional<client_message>> next(uint64_t timeout_ms);

  // Sends `req` without waiting for its response (pipelining; collect responses with next()).
  // REQUIRES: req.id != 0 and unique among this connection's pending requests (next_id() gives
  // ids that call() will not reuse; explicitly chosen ids are remembered too).
  rumor::status send(const request& req);
  // Sends every request of `reqs`, in order, in one write (pipelining in bursts: one system call
  // for many requests on both ends). REQUIRES: as send() for each.
  rumor::status send_all(const std::vector<request>& reqs);

  // A fresh request id (1, 2, ...), above every id sent so far.
  uint64_t next_id() noexcept { return ++last_id_; }

  // Closes the socket; later calls return unavailable (queued messages stay readable by next()).
  void close() noexcept;

  // True iff the socket is open (no failure or close() so far).
  bool is_open() const noexcept { return fd_ >= 0; }
  // The address passed to connect().
  const std::string& address() const noexcept { return address_; }
  // The node's hello (its cluster, node id, version, peer address).
  const replication::hello& node_hello() const noexcept { return node_; }

 private:
  connection(int fd, std::string address, uint64_t write_timeout_ms);

  // Sends all of `bytes` before `deadline_ms` (steady clock, ms), through TLS when it is on.
  rumor::status write_all(const std::string& bytes, int64_t deadline_ms);
  // Sends `bytes` as they are (ciphertext with TLS).
  rumor::status write_raw(const std::string& bytes, int64_t deadline_ms);
  // The next whole frame before `deadline_ms`; nullopt on timeout.
  result<std::optional<std::string>> read_frame(int64_t deadline_ms);
  // The next decoded message from the socket (not the queue) before `deadline_ms`.
  result<std::optional<client_message>> read_message(int64_t deadline_ms);
  // Closes the socket and returns `e` (for failures that lose the stream).
  error fail(error e) noexcept;
  error closed_error() const;

  int fd_ = -1;
  std::string address_;
  uint64_t write_timeout_ms_ = 0;
  uint64_t last_id_ = 0;
  replication::frame_reader reader_;
  std::deque<client_message> queue_;
  replication::hello node_;
  std::unique_ptr<security::tls_session> tls_;  // null: plaintext
};

}  // namespace rumor::client
