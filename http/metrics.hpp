#pragma once
// rumor::http metrics — a node's state in the Prometheus text exposition format (version 0.0.4),
// for GET /metrics (docs/http-api.md, "Metrics", lists every family). Pure: the caller gathers
// the node's status, its members and the HTTP server's own counters; this only renders them.
// Names carry base units (_bytes, _seconds) and counters end in _total; every family has HELP
// and TYPE lines; label values are escaped as the format requires.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
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

// A histogram with fixed upper bounds (seconds); counts[i] = observations in (bounds[i-1],
// bounds[i]], counts.back() = above the last bound.
struct histogram {
  std::vector<double> bounds;
  std::vector<uint64_t> counts;
  uint64_t count = 0;
  double sum = 0;
  explicit histogram(std::vector<double> b = {}) : bounds(std::move(b)), counts(bounds.size() + 1, 0) {}
  void observe(double v, uint64_t n = 1);
};

// Bounds of the synchronisation-time histograms: 1 ms .. 60 s.
std::vector<double> sync_buckets();

// One metric family: its full name (counters end in _total), type ("counter" or "gauge"), help
// text, and samples: a rendered label set (e.g. `kind="push"`, made with label_escape; empty for
// none) and a value.
struct family {
  std::string name;
  std::string type;
  std::string help;
  std::vector<std::pair<std::string, double>> samples;
  // A family of one unlabelled sample.
  static family one(std::string name, std::string type, std::string help, double value) {
    return family{std::move(name), std::move(type), std::move(help), {{std::string{}, value}}};
  }
};

// What a node measures about itself beyond its status (actors/replica_actor.cpp keeps it). The
// founding model T_sync = T_change + T_x + T_apply, one histogram per term:
//   change:   a client's update request arrives -> durable at this (origin) node, acknowledged
//   transfer: a delta's HLC timestamp at its origin -> the delta arrives here (clocks of two
//             nodes: skew between them shows up here)
//   apply:    a peer message arrives here -> its deltas durable and visible here
struct node_metrics {
  histogram sync_change{sync_buckets()};
  histogram sync_transfer{sync_buckets()};
  histogram sync_apply{sync_buckets()};
  histogram commit{sync_buckets()};                   // a batch handed to storage -> committed
  uint64_t commits = 0;  // storage commits reported to the replica
  // Families the node adds as they are: the replica's event counters and message counts, the
  // transport's connections and bytes, the store's map, the compare-and-set lane's outcomes
  // (actors/node.cpp gathers them; docs/http-api.md lists each).
  std::vector<family> families;
};

struct server_counters {
  std::map<std::string, route_counters> routes;  // route name ("kv_get", "metrics"...) -> counters
  uint64_t sse_streams_open = 0;
};

// The exposition text. `status` nullopt: the node did not answer (only the server's families
// and rumor_up 0 are written).
std::string prometheus_text(const std::optional<client::node_status>& status,
                            const std::vector<client::member_info>& members, const server_counters& server,
                            const std::optional<node_metrics>& node = std::nullopt);

// GET /v1/sync: the node's synchronisation-time histograms as JSON, for the dashboard's chart:
//   {"bounds": [upper bounds, seconds],
//    "change"|"transfer"|"apply"|"commit": {"counts": [per bucket, not cumulative; one more than
//                                            bounds: the last is above the last bound],
//                                           "count": n, "sum": seconds}}
std::string sync_json(const node_metrics& m);

// `v` escaped for a label value (\\, \", \n).
std::string label_escape(std::string_view v);

}  // namespace rumor::http
