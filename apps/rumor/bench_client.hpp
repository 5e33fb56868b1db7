#pragma once
#include <optional>
// bench_client: client-side helpers of `rumor bench`: connecting, status polls, pipelined writes
// (send() up to a window of requests, collect responses with next()), and bounded waits.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench_context.hpp"
#include "client/client_messages.hpp"
#include "client/connection.hpp"

namespace rumor::cli::bench {

// Connects (retrying within the scenario deadline). Throws timeout.
client::connection connect(const context& ctx, const std::string& address);

// The node's status. Throws std::runtime_error on a transport error.
client::node_status status(client::connection& c);
// The node's key count, or 0 while it answers status with an error (e.g. still loading).
// Throws std::runtime_error on a transport error.
uint64_t keys_of(client::connection& c);
// True iff the node answers status with readiness "ready".
bool is_ready(client::connection& c);

// The update number `i` of a workload: counter increments and register sets on key prefix+i.
using make_update = std::function<client::update(uint64_t i)>;
client::update counter_incr(std::string key, int64_t by = 1);
client::update register_set(std::string key, std::string value);

// Update i of the replicate / catchup workloads: a counter increment (even i) or a 16-byte
// register set (odd i) on key prefix+i.
client::update replicate_update(const std::string& prefix, uint64_t i);

struct write_result {
  uint64_t ok = 0, failed = 0;
  double ms = 0;  // from the first send to the last response
  std::string first_error;
};

// Sends updates [0, count) built by `make` with at most ctx.opt.window in flight and collects
// every response. Progress on stderr about once per second ("label"). Throws timeout, or
// std::runtime_error when `stop` becomes true or the connection fails.
write_result pipelined_writes(const context& ctx, client::connection& c, uint64_t count, const make_update& make,
                              const std::string& label, const std::atomic<bool>* stop = nullptr);

// Polls `pred` every `poll_ms` until it holds; returns the ms it took. Throws timeout.
double wait_until(const context& ctx, const std::string& what, const std::function<bool()>& pred, double poll_ms = 2);

// Waits until every node answers status readiness "ready" and lists `n` live members (alive).
void wait_cluster(const context& ctx, const std::vector<std::string>& addresses);

// The /metrics text of a node's HTTP endpoint `http` (host:port). Throws std::runtime_error if
// the address is bad or the node does not answer 200.
std::string metrics_text(const std::string& http);

// The value of the sample line starting with `sample` ("name{labels}") in a /metrics text, or
// nullopt when there is none.
std::optional<double> metric_value(const std::string& text, const std::string& sample);

}  // namespace rumor::cli::bench
