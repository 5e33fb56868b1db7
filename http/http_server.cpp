#include "http/http_server.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "client/host_port.hpp"
#include "client/render.hpp"
#include "http/dashboard_page.hpp"
#include "http/http_api.hpp"
#include "http/metrics.hpp"

namespace rumor::http {

namespace {

using clock_type = std::chrono::steady_clock;

const char* route_name(route r) {
  switch (r) {
    case route::kv_get: return "kv_get";
    case route::kv_update: return "kv_update";
    case route::keys: return "keys";
    case route::members: return "members";
    case route::status: return "status";
    case route::cas_write: return "cas_write";
    case route::cas_read: return "cas_read";
  }
  return "other";
}

// One open watch stream: events queued by the node's thread, written by an HTTP worker.
struct stream {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> events;  // SSE frames, ready to write
  bool overflowed = false;
};

std::string sse_frame(const watch_event& e) {
  char origin[17];
  std::snprintf(origin, sizeof origin, "%016llx", static_cast<unsigned long long>(e.origin));
  std::string data = client::render_event_json(e.key, e.value ? &*e.value : nullptr, origin, e.set ? &*e.set : nullptr,
                                               e.value_omitted);
  return "event: change\ndata: " + data + "\n\n";
}

}  // namespace

struct server::impl {
  server_config cfg;
  backend b;
  httplib::Server svr;
  std::thread listener;
  std::string address;
  std::mutex counters_mu;
  server_counters counters;
  std::atomic<bool> stopping{false};
  std::mutex streams_mu;
  std::vector<std::shared_ptr<stream>> streams;

  void observe(const std::string& route, int status, clock_type::time_point start) {
    const double s = std::chrono::duration<double>(clock_type::now() - start).count();
    std::lock_guard lk(counters_mu);
    counters.routes[route].observe(status, s);
  }

  // Sends `req` to the node and waits for its answer (bounded).
  client::response call(client::request req) {
    auto p = std::make_shared<std::promise<client::response>>();
    auto f = p->get_future();
    const uint64_t wait_ms = uint64_t{req.timeout_ms} + 5'000;
    const uint64_t id = req.id;
    b.submit(std::move(req), [p](client::response r) { p->set_value(std::move(r)); });
    if (f.wait_for(std::chrono::milliseconds(wait_ms)) != std::future_status::ready)
      return client::response{id, errc::timeout, "the node did not answer in time", {}, {}, {}, {}};
    return f.get();
  }

  static void reply(httplib::Response& res, const http_reply& r) {
    res.status = r.status;
    res.set_content(r.body, r.content_type.c_str());
  }

  void api(const httplib::Request& req, httplib::Response& res) {
    const auto start = clock_type::now();
    http_request r{req.method, req.path, {}, req.body};
    for (const auto& [k, v] : req.params) r.query[k] = v;
    auto parsed = parse(r);
    if (auto* immediate = std::get_if<http_reply>(&parsed)) {
      reply(res, *immediate);
      observe("invalid", immediate->status, start);
      return;
    }
    auto& routed_req = std::get<routed>(parsed);
    client::request creq = routed_req.request;
    http_reply out = render(routed_req, call(std::move(creq)));
    reply(res, out);
    observe(route_name(routed_req.kind), out.status, start);
  }

  std::optional<client::node_status> node_status(uint32_t timeout_ms) {
    client::request req;
    req.timeout_ms = timeout_ms;
    req.body = client::status{};
    auto r = call(std::move(req));
    if (r.code != errc::ok || !r.node) return std::nullopt;
    return r.node;
  }

  void metrics(httplib::Response& res) {
    const auto start = clock_type::now();
    auto st = node_status(2'000);
    std::vector<client::member_info> members;
    if (st) {
      client::request req;
      req.timeout_ms = 2'000;
      req.body = client::members{};
      members = call(std::move(req)).member_list;
    }
    server_counters snapshot;
    {
      std::lock_guard lk(counters_mu);
      snapshot = counters;
    }
    {
      std::lock_guard lk(streams_mu);
      snapshot.sse_streams_open = streams.size();
    }
    res.status = 200;
    std::optional<node_metrics> own;
    if (st && b.metrics) own = b.metrics();
    res.set_content(prometheus_text(st, members, snapshot, own), "text/plain; version=0.0.4; charset=utf-8");
    observe("metrics", 200, start);
  }

  void watch(const httplib::Request& req, httplib::Response& res) {
    const auto start = clock_type::now();
    std::string prefix = req.has_param("prefix") ? req.get_param_value("prefix") : "";
    const bool set_changes = req.has_param("set_changes") && req.get_param_value("set_changes") != "0";
    const bool field_changes = req.has_param("field_changes") && req.get_param_value("field_changes") != "0";
    auto s = std::make_shared<stream>();
    {
      std::lock_guard lk(streams_mu);
      if (streams.size() >= cfg.max_streams) {
        reply(res, error_reply(errc::unavailable, "too many open watch streams (at most " +
                                                      std::to_string(cfg.max_streams) + "); close one and retry"));
        observe("watch", 503, start);
        return;
      }
      streams.push_back(s);
    }
    const size_t backlog = cfg.max_stream_backlog;
    uint64_t id = b.watch(prefix, set_changes, field_changes, [s, backlog](const watch_event& e) {
      std::lock_guard lk(s->mu);
      if (s->events.size() >= backlog) {
        s->overflowed = true;
      } else {
        s->events.push_back(sse_frame(e));
      }
      s->cv.notify_one();
    });
    observe("watch", 200, start);
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, s, first = std::make_shared<bool>(true)](size_t, httplib::DataSink& sink) {
          if (*first) {
            *first = false;
            const std::string hello = ": watching\n\n";
            return sink.write(hello.data(), hello.size());
          }
          std::deque<std::string> ready;
          bool overflow = false;
          {
            std::unique_lock lk(s->mu);
            s->cv.wait_for(lk, std::chrono::seconds(10), [&] { return !s->events.empty() || s->overflowed || stopping.load(); });
            ready.swap(s->events);
            overflow = s->overflowed;
          }
          if (stopping.load()) return false;
          if (ready.empty() && !overflow) {
            const std::string ping = ": ping\n\n";  // keeps proxies from closing an idle stream
            return sink.write(ping.data(), ping.size());
          }
          for (const auto& f : ready)
            if (!sink.write(f.data(), f.size())) return false;
          if (overflow) {
            const std::string bye = "event: overflow\ndata: {\"error\":\"too_large\",\"message\":\"the client read too slowly; watch again\"}\n\n";
            sink.write(bye.data(), bye.size());
            return false;
          }
          return true;
        },
        [this, s, id](bool) {
          b.unwatch(id);
          std::lock_guard lk(streams_mu);
          std::erase(streams, s);
        });
  }

  void install() {
    svr.new_task_queue = [n = cfg.threads] { return new httplib::ThreadPool(n); };
    // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, with which a second process could
    // bind the same port and take half of the connections instead of being refused.
    svr.set_socket_options([](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    svr.set_payload_max_length(max_body_bytes);
    svr.set_read_timeout(std::chrono::seconds(10));
    svr.set_write_timeout(std::chrono::seconds(10));
    svr.set_keep_alive_timeout(30);
    auto api_handler = [this](const httplib::Request& req, httplib::Response& res) { api(req, res); };
    svr.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) { metrics(res); });
    svr.Get("/v1/sync", [this](const httplib::Request&, httplib::Response& res) {
      const auto start = clock_type::now();
      std::optional<node_metrics> m;
      if (b.metrics) m = b.metrics();
      if (m) {
        res.status = 200;
        res.set_content(sync_json(*m) + "\n", "application/json");
      } else {
        reply(res, error_reply(errc::unavailable, "the node does not answer"));
      }
      observe("sync", res.status, start);
    });
    auto page = [this](const httplib::Request&, httplib::Response& res) {
      const auto start = clock_type::now();
      const auto p = dashboard_page();
      res.set_content(p.data(), p.size(), "text/html; charset=utf-8");
      res.set_header("Cache-Control", "no-cache");
      observe("dashboard", 200, start);
    };
    svr.Get("/", page);
    svr.Get("/index.html", page);
    svr.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
      const auto start = clock_type::now();
      const bool up = node_status(2'000).has_value();
      res.status = up ? 200 : 503;
      res.set_content(up ? "ok\n" : "the node does not answer\n", "text/plain");
      observe("healthz", res.status, start);
    });
    svr.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
      const auto start = clock_type::now();
      auto st = node_status(2'000);
      const bool ready = st && st->readiness == "ready";
      res.status = ready ? 200 : 503;
      res.set_content((st ? st->readiness : std::string("not answering")) + "\n", "text/plain");
      observe("readyz", res.status, start);
    });
    svr.Get("/v1/watch", [this](const httplib::Request& req, httplib::Response& res) { watch(req, res); });
    svr.Get("/v1/.*", api_handler);
    svr.Post("/v1/.*", api_handler);
    svr.Delete("/v1/.*", api_handler);
    svr.Put("/v1/.*", api_handler);
    svr.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
      // Routes that do not exist, and errors httplib raises itself (413 for a body over the bound).
      if (!res.body.empty()) return;
      if (res.status == 413) {
        reply(res, error_reply(errc::too_large, "the body is larger than " + std::to_string(max_body_bytes) +
                                                    " bytes (or, sent as a form, 8192: use Content-Type: application/json)"));
      } else if (res.status == 404) {
        reply(res, error_reply(errc::not_found, "no route " + req.path + " (see docs/http-api.md)"));
      } else {
        const int status = res.status;
        reply(res, error_reply(errc::invalid_argument, "bad request"));
        res.status = status;
      }
    });
    svr.set_exception_handler([this](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "internal error";
      try {
        if (ep) std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      cfg.log->error("http: {}", what);
      reply(res, error_reply(errc::io_error, what));
      res.status = 500;
    });
  }
};

server::server(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
server::~server() { stop(); }

result<std::unique_ptr<server>> server::start(server_config cfg, backend b) {
  auto hp = client::parse_host_port(cfg.listen);
  uint16_t port = 0;
  std::string host;
  if (!hp) {
    // "HOST:0" (any free port) is allowed here, unlike for clients.
    auto colon = cfg.listen.rfind(':');
    if (colon == std::string::npos || cfg.listen.substr(colon + 1) != "0" || colon == 0)
      return error{errc::invalid_argument, "--http: " + hp.err().message};
    host = cfg.listen.substr(0, colon);
  } else {
    host = hp->host;
    port = hp->port;
  }
  auto p = std::make_unique<impl>();
  p->cfg = std::move(cfg);
  p->b = std::move(b);
  p->install();
  int bound = port;
  if (port == 0) bound = p->svr.bind_to_any_port(host);
  else if (!p->svr.bind_to_port(host, port)) bound = -1;
  if (bound <= 0) return error{errc::busy, "--http: cannot listen on " + p->cfg.listen + " (in use, or not an address of this host)"};
  p->address = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(bound);
  p->listener = std::thread([s = &p->svr] { s->listen_after_bind(); });
  p->cfg.log->info("http: serving the JSON API, /metrics and /v1/watch on http://{}", p->address);
  return std::unique_ptr<server>(new server(std::move(p)));
}

void server::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  {
    std::lock_guard lk(impl_->streams_mu);
    for (auto& s : impl_->streams) {
      std::lock_guard sl(s->mu);
      s->cv.notify_all();
    }
  }
  impl_->svr.stop();
  if (impl_->listener.joinable()) impl_->listener.join();
}

std::string server::address() const { return impl_->address; }

}  // namespace rumor::http
