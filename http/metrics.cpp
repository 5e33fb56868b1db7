#include "http/metrics.hpp"

#include <cstdio>

#include "client/render.hpp"
#include "client/status_render.hpp"

namespace rumor::http {

namespace {

struct writer {
  std::string out;
  void family(const char* name, const char* type, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
  }
  void sample(const std::string& name, const std::string& labels, double v) {
    char b[64];
    if (v == static_cast<double>(static_cast<int64_t>(v)) && v < 9.0e15 && v > -9.0e15)
      std::snprintf(b, sizeof b, "%lld", static_cast<long long>(v));
    else
      std::snprintf(b, sizeof b, "%.9g", v);
    out += name;
    if (!labels.empty()) out += "{" + labels + "}";
    out += ' ';
    out += b;
    out += '\n';
  }
  void one(const char* name, const char* type, const char* help, double v) {
    family(name, type, help);
    sample(name, "", v);
  }
};

using client::node_id_hex;

std::string bucket_label(double b) {
  char s[32];
  std::snprintf(s, sizeof s, "%g", b);
  return s;
}

}  // namespace

std::vector<double> sync_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

void histogram::observe(double v, uint64_t n) {
  std::size_t i = 0;
  while (i < bounds.size() && v > bounds[i]) ++i;
  counts[i] += n;
  count += n;
  sum += v * static_cast<double>(n);
}

void route_counters::observe(int status, double seconds) {
  ++by_status[status];
  ++count;
  sum_seconds += seconds;
  for (std::size_t i = 0; i < latency_buckets.size(); ++i)
    if (seconds <= latency_buckets[i]) {
      ++buckets[i];
      break;
    }
}

std::string sync_json(const node_metrics& m) {
  auto number = [](double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.9g", v);
    return std::string(b);
  };
  auto hist = [&](const histogram& h) {
    std::string out = "{\"counts\":[";
    for (std::size_t i = 0; i < h.counts.size(); ++i) out += (i ? "," : "") + std::to_string(h.counts[i]);
    return out + "],\"count\":" + std::to_string(h.count) + ",\"sum\":" + number(h.sum) + "}";
  };
  std::string out = "{\"bounds\":[";
  const auto& bounds = m.sync_change.bounds;
  for (std::size_t i = 0; i < bounds.size(); ++i) out += (i ? "," : "") + number(bounds[i]);
  return out + "],\"change\":" + hist(m.sync_change) + ",\"transfer\":" + hist(m.sync_transfer) +
         ",\"apply\":" + hist(m.sync_apply) + ",\"commit\":" + hist(m.commit) + "}";
}

std::string label_escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string prometheus_text(const std::optional<client::node_status>& status,
                            const std::vector<client::member_info>& members, const server_counters& server,
                            const std::optional<node_metrics>& node) {
  writer w;
  auto hist = [&](const char* name, const char* help, const histogram& h) {
    w.family(name, "histogram", help);
    uint64_t cum = 0;
    const std::string n(name);
    for (std::size_t i = 0; i < h.bounds.size(); ++i) {
      cum += h.counts[i];
      w.sample(n + "_bucket", "le=\"" + bucket_label(h.bounds[i]) + "\"", static_cast<double>(cum));
    }
    w.sample(n + "_bucket", "le=\"+Inf\"", static_cast<double>(h.count));
    w.sample(n + "_sum", "", h.sum);
    w.sample(n + "_count", "", static_cast<double>(h.count));
  };
  if (node) {
    hist("rumor_sync_change_seconds", "Client update request arrival to durable at this (origin) node.", node->sync_change);
    hist("rumor_sync_transfer_seconds", "A delta's origin timestamp (HLC) to its arrival here.", node->sync_transfer);
    hist("rumor_sync_apply_seconds", "A peer message's arrival to its deltas durable and visible here.", node->sync_apply);
    w.one("rumor_storage_commits_total", "counter", "Storage commits (commit groups) of the replica's batches.",
          static_cast<double>(node->commits));
    hist("rumor_storage_commit_seconds", "A batch of the replica handed to storage to its commit (log append, fsync).",
         node->commit);
    for (const auto& f : node->families) {
      w.family(f.name.c_str(), f.type.c_str(), f.help.c_str());
      for (const auto& [labels, value] : f.samples) w.sample(f.name, labels, value);
    }
  }
  w.one("rumor_up", "gauge", "1 when the node answered this scrape's status request, else 0.", status ? 1 : 0);
  if (status) {
    const auto& n = *status;
    w.family("rumor_node_info", "gauge", "Constant 1, labelled with the node's identity.");
    w.sample("rumor_node_info",
             "node=\"" + node_id_hex(n.node) + "\",address=\"" + label_escape(n.address) + "\",cluster=\"" +
                 label_escape(n.cluster) + "\"",
             1);
    w.family("rumor_readiness", "gauge", "1 for the node's current readiness state, 0 for the others.");
    for (const char* s : {"loading", "joining", "ready", "stopping", "failed"})
      w.sample("rumor_readiness", std::string("state=\"") + s + "\"", n.readiness == s ? 1 : 0);
    w.one("rumor_keys", "gauge", "Value records stored on this node (keys x types, deleted ones until collected).",
          static_cast<double>(n.keys));
    w.one("rumor_delta_log_entries", "gauge", "Deltas in the log not yet acknowledged by every member.",
          static_cast<double>(n.delta_log));
    w.one("rumor_updates_local_total", "counter", "Updates made by clients of this node since it started.",
          static_cast<double>(n.local_updates));
    w.one("rumor_updates_remote_applied_total", "counter", "Deltas from peers applied here since the node started.",
          static_cast<double>(n.remote_applied));
    w.family("rumor_peer_behind_updates", "gauge",
             "Deltas this node holds that the peer's last known version vector lacks.");
    for (const auto& p : n.peers) w.sample("rumor_peer_behind_updates", "peer=\"" + node_id_hex(p.id) + "\"", static_cast<double>(p.behind));
    w.family("rumor_peer_lag_seconds", "gauge",
             "Age of the oldest delta this node holds that the peer's last known vector lacks (0: none).");
    for (const auto& p : n.peers)
      w.sample("rumor_peer_lag_seconds", "peer=\"" + node_id_hex(p.id) + "\"", static_cast<double>(p.lag_ms) / 1000.0);
    w.one("rumor_tombstones", "gauge", "Deleted keys waiting until every member has seen the delete.",
          static_cast<double>(n.tombstones));
    w.one("rumor_tombstones_collected_total", "counter", "Deleted keys collected since the node started.",
          static_cast<double>(n.tombstones_collected));
    w.one("rumor_cas_voters", "gauge", "Voters of the compare-and-set lane (0: the lane is disabled).", n.cas_voters);
    w.one("rumor_write_behind_bytes", "gauge",
          "Bytes acknowledged on the write-ahead log and not yet materialized into the B-trees.",
          static_cast<double>(n.write_behind_bytes));
    w.one("rumor_write_behind_log_records", "gauge", "Write-ahead log records (commit groups) not yet materialized.",
          static_cast<double>(n.log_backlog));
    w.one("rumor_write_behind_checkpoint", "gauge", "The last write-ahead log record materialized.",
          static_cast<double>(n.checkpoint));
    w.one("rumor_materialize_last_seconds", "gauge", "How long the last materialization took.",
          static_cast<double>(n.last_materialize_ms) / 1000.0);
    w.one("rumor_write_behind_failing", "gauge", "1 while materialization fails (see rumor status), else 0.",
          n.write_behind_error.empty() ? 0 : 1);
    w.one("rumor_storage_full", "gauge", "1 while writes are refused because the store is full, else 0.",
          n.storage_error.empty() ? 0 : 1);
    w.one("rumor_clock_drift_refusals_total", "counter",
          "Peer clock readings refused for being too far ahead of this node's clock, since start.",
          static_cast<double>(n.clock_drift_refusals));
    w.one("rumor_clock_ahead", "gauge", "1 while local writes are refused because this clock is ahead of its peers'.",
          n.clock_error.empty() ? 0 : 1);
    std::map<std::string, uint64_t> by_status{{"alive", 0}, {"suspect", 0}, {"dead", 0}, {"left", 0}};
    for (const auto& m : members) ++by_status[client::member_status_name(m.status)];
    w.family("rumor_members", "gauge", "Cluster members this node knows, by status.");
    for (const auto& [s, c] : by_status) w.sample("rumor_members", "status=\"" + label_escape(s) + "\"", static_cast<double>(c));
  }
  w.family("rumor_http_requests_total", "counter", "HTTP requests answered, by route and status code.");
  for (const auto& [route, c] : server.routes)
    for (const auto& [code, count] : c.by_status)
      w.sample("rumor_http_requests_total", "route=\"" + label_escape(route) + "\",code=\"" + std::to_string(code) + "\"",
               static_cast<double>(count));
  w.family("rumor_http_request_duration_seconds", "histogram", "Time from a request's arrival to its reply, by route.");
  for (const auto& [route, c] : server.routes) {
    const std::string rl = "route=\"" + label_escape(route) + "\"";
    uint64_t cum = 0;
    for (std::size_t i = 0; i < latency_buckets.size(); ++i) {
      cum += c.buckets[i];
      w.sample("rumor_http_request_duration_seconds_bucket", rl + ",le=\"" + bucket_label(latency_buckets[i]) + "\"",
               static_cast<double>(cum));
    }
    w.sample("rumor_http_request_duration_seconds_bucket", rl + ",le=\"+Inf\"", static_cast<double>(c.count));
    w.sample("rumor_http_request_duration_seconds_sum", rl, c.sum_seconds);
    w.sample("rumor_http_request_duration_seconds_count", rl, static_cast<double>(c.count));
  }
  w.one("rumor_http_sse_streams", "gauge", "Open /v1/watch event streams.", static_cast<double>(server.sse_streams_open));
  return w.out;
}

}  // namespace rumor::http
