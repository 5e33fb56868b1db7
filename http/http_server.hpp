#pragma once
// rumor::http::server — a node's HTTP endpoint (`rumor node --http HOST:PORT`): the dashboard
// page at / (dashboard.html), the JSON API of
// http_api.hpp, GET /v1/watch?prefix=P as Server-Sent Events, GET /metrics (metrics.hpp),
// GET /healthz (the node answers) and GET /readyz (the node is ready). Runs on threads of its own
// (cpp-httplib: one listener thread and a pool of `threads` workers) and reaches the node only
// through `backend`, whose functions must be callable from any thread. A request waits for the
// node at most its timeout_ms (or 5 s) plus 5 s, then gets 504.
//
// Bounds: bodies over http_api.hpp's max_body_bytes get 413 before any parsing; at most
// max_streams watch streams are open at once (more: 503); a stream whose client reads too slowly
// for max_stream_backlog events is closed. Ownership: start() returns the running server;
// stop() (or the destructor) closes the listener and every stream and joins the threads.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/result.hpp"
#include "client/client_messages.hpp"
#include "crdt/value.hpp"
#include "http/metrics.hpp"

namespace spdlog { class logger; }

namespace rumor::http {

// A change a watch reports: the key's value after it (nullopt: gone, or value_omitted), its
// origin node, and with set_changes (client::watch) what it did to a set's members.
struct watch_event {
  std::string key;
  std::optional<crdt::value> value;
  uint64_t origin = 0;
  std::optional<client::set_changes> set;
  bool value_omitted = false;
};

struct backend {
  // Sends a client-protocol request to the node; `reply` is called exactly once, on any thread.
  std::function<void(client::request, std::function<void(client::response)>)> submit;
  // Starts a watch of the keys starting with `prefix` (set_changes, field_changes: as
  // client::watch's); returns its id for unwatch.
  std::function<uint64_t(std::string prefix, bool set_changes, bool field_changes,
                         std::function<void(const watch_event&)>)>
      watch;
  std::function<void(uint64_t id)> unwatch;
  // The node's own measurements for /metrics (empty function or nullopt: left out).
  std::function<std::optional<node_metrics>()> metrics;
};

struct server_config {
  std::string listen;        // HOST:PORT; port 0 = any free port
  size_t threads = 8;        // worker threads (each open watch stream holds one)
  size_t max_streams = 4;    // open /v1/watch streams at most (below threads: the API keeps serving)
  size_t max_stream_backlog = 10'000;  // events queued for one stream before it is closed
  std::shared_ptr<spdlog::logger> log;  // REQUIRED
};

class server {
 public:
  // Binds and starts serving. Errors: invalid_argument (bad HOST:PORT), busy (cannot bind).
  static result<std::unique_ptr<server>> start(server_config cfg, backend b);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;
  void stop();
  std::string address() const;  // host:bound port

 private:
  struct impl;
  explicit server(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace rumor::http
