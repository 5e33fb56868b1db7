#pragma once
// rumor::http metrics — a node's state in the Prometheus text exposition format (version 0.0.4),
// for GET /metrics (docs/http-api.md, "Metrics", lists every family). Pure: the caller gathers
// the node's status, its members and the HTTP server's own counters; this only renders them.
// Names carry base units (_bytes, _seconds) and counters end in _total; every family has HELP
// and TYPE lines; label values are escaped as the format requires.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "client/client_messages.hpp"

namespace rumor::http {

// Request latency buckets (seconds) of rumor_http_request_duration_seconds.
inline constexpr std::array<double, 10> latency_buckets = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                           0.025,  0.05,  0.1,    0.5,   2.5};

// One route's requests, for rumor_http_requests_total and the latency histogram.
struct route_counters {
  std::map<int, uint64_t> by_status;  // HTTP status -> requests answered with it
  std::array<uint64_t, latency_buckets.size()> buckets{};  // not cumulative: [i] = in (b[i-1], b[i]]
  uint64_t count = 0;
  double sum_seconds = 0;
  void observe(int status, double seconds);
};

struct server_counters {
  std::map<std::string, route_counters> routes;  // route name ("kv_get", "metrics"...) -> counters
  uint64_t sse_streams_open = 0;
};

// The exposition text. `status` nullopt: the node did not answer (only the server's families
// and rumor_up 0 are written).
std::string prometheus_text(const std::optional<client::node_status>& status,
                            const std::vector<client::member_info>& members, const server_counters& server);

// `v` escaped for a label value (\\, \", \n).
std::string label_escape(std::string_view v);

}  // namespace rumor::http
