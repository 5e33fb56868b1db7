#include "client/status_render.hpp"

#include <cstdio>

#include "client/render.hpp"

namespace rumor::client {

std::string node_id_hex(uint64_t id) {
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(id));
  return b;
}

std::string render_status_json(const node_status& n) {
  auto q = [](std::string_view s) { return json_quote(s); };
  auto u = [](uint64_t v) { return std::to_string(v); };
  std::string out = "{\"node\":\"" + node_id_hex(n.node) + "\",\"address\":" + q(n.address) +
                    ",\"cluster\":" + q(n.cluster) + ",\"readiness\":" + q(n.readiness) + ",\"keys\":" + u(n.keys) +
                    ",\"delta_log\":" + u(n.delta_log) + ",\"local_updates\":" + u(n.local_updates) +
                    ",\"remote_applied\":" + u(n.remote_applied) + ",\"tombstones\":" + u(n.tombstones) +
                    ",\"tombstones_collected\":" + u(n.tombstones_collected) + ",\"cas_voters\":" + u(n.cas_voters) +
                    ",\"write_behind\":{\"bytes\":" + u(n.write_behind_bytes) + ",\"log_backlog\":" +
                    u(n.log_backlog) + ",\"checkpoint\":" + u(n.checkpoint) + ",\"last_materialize_ms\":" +
                    u(n.last_materialize_ms) + ",\"error\":" + q(n.write_behind_error) +
                    "},\"storage_error\":" + q(n.storage_error) +
                    ",\"clock_drift_refusals\":" + u(n.clock_drift_refusals) + ",\"clock_error\":" + q(n.clock_error) + ",\"security\":" + q(n.security) +
                    ",\"peers\":[";
  for (size_t i = 0; i < n.peers.size(); ++i)
    out += std::string(i ? "," : "") + "{\"id\":\"" + node_id_hex(n.peers[i].id) + "\",\"behind\":" +
           u(n.peers[i].behind) + ",\"lag_ms\":" + u(n.peers[i].lag_ms) + "}";
  return out + "]}";
}

std::string render_status_text(const node_status& n) {
  auto u = [](uint64_t v) { return std::to_string(v); };
  std::string out = "node        " + node_id_hex(n.node) + "\naddress     " + n.address + "\ncluster     " + n.cluster +
                    "\nreadiness   " + n.readiness + "\nkeys        " + u(n.keys) + "\ndelta log   " + u(n.delta_log) +
                    " (not yet acknowledged by every member)\nupdates     " + u(n.local_updates) + " local, " +
                    u(n.remote_applied) + " from peers\ntombstones  " + u(n.tombstones) +
                    " deleted keys waiting until every member has seen the delete (" + u(n.tombstones_collected) +
                    " collected since start)\nsecurity    " + (n.security.empty() ? std::string("unknown") : n.security) +
                    (n.security == "none" ? " (plaintext TCP: anyone who reaches the port may join and write)" : "") +
                    "\ncas lane    ";
  if (n.cas_voters == 0) out += "disabled (rumor node --cas-voters)\n";
  else out += u(n.cas_voters) + " voters, quorum " + u(n.cas_voters / 2 + 1) + "\n";
  out += "write-behind " + u(n.write_behind_bytes) + " bytes in memory, " + u(n.log_backlog) +
         " log records not yet materialized (checkpoint " + u(n.checkpoint) + ", last took " +
         u(n.last_materialize_ms) + " ms)\n";
  if (!n.write_behind_error.empty())
    out += "STORAGE     materialization fails: " + text_escape(n.write_behind_error) +
           " (writes are refused once the backlog is full)\n";
  if (!n.storage_error.empty()) out += "STORAGE     " + text_escape(n.storage_error) + "\n";
  if (!n.clock_error.empty()) out += "CLOCK       " + text_escape(n.clock_error) + "\n";
  if (n.clock_drift_refusals > 0)
    out += "CLOCK       " + u(n.clock_drift_refusals) +
           " peer clock readings refused: more than the drift bound ahead of this node's clock (check the clocks)\n";
  for (const auto& p : n.peers) {
    out += "peer        " + node_id_hex(p.id) + "  behind by " + u(p.behind) + " updates";
    if (p.behind > 0) out += ", the oldest " + u(p.lag_ms) + " ms old";
    out += "\n";
  }
  return out;
}

}  // namespace rumor::client
