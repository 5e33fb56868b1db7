#include "bench_client.hpp"

#include <cstdlib>
#include <stdexcept>

#include <httplib.h>

#include "client/host_port.hpp"
#include <thread>

namespace rumor::cli::bench {

client::connection connect(const context& ctx, const std::string& address) {
  while (true) {
    auto c = client::connection::connect(address, 2000, ctx.client_credentials());
    if (c) return std::move(*c);
    ctx.check("connecting to " + address + " (" + c.err().message + ")");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

client::node_status status(client::connection& c) {
  client::request r;
  r.body = client::status{};
  auto resp = c.call(r, 10'000);
  if (!resp) throw std::runtime_error("status request to " + c.address() + " failed: " + resp.err().message);
  if (!resp->node)
    throw std::runtime_error("status request to " + c.address() + " answered " +
                             (resp->code == errc::ok ? std::string("without a status") : "with an error: " + resp->message));
  return *resp->node;
}

uint64_t keys_of(client::connection& c) {
  client::request r;
  r.body = client::status{};
  auto resp = c.call(r, 10'000);
  if (!resp) throw std::runtime_error("status request to " + c.address() + " failed: " + resp.err().message);
  return resp->node ? resp->node->keys : 0;
}

bool is_ready(client::connection& c) {
  client::request r;
  r.body = client::status{};
  auto resp = c.call(r, 10'000);
  if (!resp) throw std::runtime_error("status request to " + c.address() + " failed: " + resp.err().message);
  return resp->node && resp->node->readiness == "ready";
}

client::update counter_incr(std::string key, int64_t by) {
  client::update u;
  u.key = std::move(key);
  u.op = client::op_kind::counter_add;
  u.type = crdt::type_tag::pn_counter;
  u.amount = by;
  return u;
}

client::update register_set(std::string key, std::string value) {
  client::update u;
  u.key = std::move(key);
  u.op = client::op_kind::register_set;
  u.type = crdt::type_tag::lww_register;
  u.value = std::move(value);
  return u;
}

write_result pipelined_writes(const context& ctx, client::connection& c, uint64_t count, const make_update& make,
                              const std::string& label, const std::atomic<bool>* stop) {
  write_result w;
  uint64_t sent = 0, done = 0;
  const uint64_t window = std::max<uint64_t>(1, ctx.opt.window);
  double start = now_ms(), last_progress = start;
  while (done < count) {
    // Refill the window in bursts, one write each (as Redis clients pipeline), once half of it
    // has been answered.
    if (sent < count && sent - done <= window / 2) {
      std::vector<client::request> burst;
      while (sent < count && sent - done < window) {
        client::request r;
        r.id = c.next_id();
        r.body = make(sent);
        burst.push_back(std::move(r));
        ++sent;
      }
      if (auto st = c.send_all(burst); !st) throw std::runtime_error(label + ": send to " + c.address() + " failed: " + st.err().message);
    }
    auto m = c.next(1000);
    if (!m) throw std::runtime_error(label + ": " + c.address() + ": " + m.err().message);
    if (*m) {
      if (auto* resp = std::get_if<client::response>(&**m)) {
        ++done;
        if (resp->code == errc::ok) ++w.ok;
        else {
          ++w.failed;
          if (w.first_error.empty()) w.first_error = resp->message;
        }
      }
    }
    double t = now_ms();
    if (t - last_progress >= 1000) {
      last_progress = t;
      ctx.progress(label + ": " + std::to_string(done) + "/" + std::to_string(count) + " acknowledged (" +
                   fmt(double(done) / ((t - start) / 1000)) + " updates/s)");
    }
    if (stop && stop->load()) throw std::runtime_error(label + ": stopped");
    ctx.check(label + " (" + std::to_string(done) + " of " + std::to_string(count) + " acknowledged)");
  }
  w.ms = now_ms() - start;
  return w;
}

double wait_until(const context& ctx, const std::string& what, const std::function<bool()>& pred, double poll_ms) {
  double start = now_ms();
  while (!pred()) {
    ctx.check(what);
    std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(poll_ms * 1000)));
  }
  return now_ms() - start;
}

void wait_cluster(const context& ctx, const std::vector<std::string>& addresses) {
  std::vector<client::connection> conns;
  for (auto& a : addresses) conns.push_back(connect(ctx, a));
  double last = now_ms();
  wait_until(
      ctx, "waiting for " + std::to_string(addresses.size()) + " nodes to be ready and see each other",
      [&] {
        size_t good = 0;
        for (auto& c : conns) {
          bool ready = is_ready(c);
          client::request r;
          r.body = client::members{};
          auto m = c.call(r, 10'000);
          size_t alive = 0;
          if (m)
            for (auto& mi : m->member_list) alive += mi.status == 0;
          if (ready && alive >= addresses.size()) ++good;
        }
        if (now_ms() - last > 2000) {
          last = now_ms();
          ctx.progress(std::to_string(good) + "/" + std::to_string(addresses.size()) + " nodes ready with a full member list");
        }
        return good == addresses.size();
      },
      50);
}

std::string metrics_text(const std::string& http) {
  auto hp = client::parse_host_port(http);
  if (!hp) throw std::runtime_error("bad --http address " + http);
  httplib::Client cli(hp->host, hp->port);
  cli.set_connection_timeout(2);
  cli.set_read_timeout(10, 0);
  auto res = cli.Get("/metrics");
  if (!res || res->status != 200) throw std::runtime_error("GET /metrics on " + http + " failed");
  return std::move(res->body);
}

std::optional<double> metric_value(const std::string& text, const std::string& sample) {
  const std::string want = sample + " ";
  for (size_t at = text.find(want); at != std::string::npos; at = text.find(want, at + 1))
    if (at == 0 || text[at - 1] == '\n') return std::strtod(text.c_str() + at + want.size(), nullptr);
  return std::nullopt;
}

}  // namespace rumor::cli::bench
