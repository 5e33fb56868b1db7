#pragma once
// status_render: a node's status (client::node_status) as JSON and as text for people, for
// `rumor status [--json]` and GET /v1/status: one shape everywhere. Pure functions; no I/O.
//
// JSON (one object, no trailing newline; docs/http-api.md shows one):
//   {"node": "<16 hex digits>", "address", "cluster", "readiness", "keys", "delta_log",
//    "local_updates", "remote_applied", "tombstones", "tombstones_collected", "cas_voters",
//    "write_behind": {"bytes", "log_backlog", "checkpoint", "last_materialize_ms", "error"},
//    "storage_error", "clock_drift_refusals", "clock_error",
//    "peers": [{"id": "<16 hex digits>", "behind": updates, "lag_ms": milliseconds}, ...]}
// Text: one "name  value" line per figure, then one line per peer (what `rumor status` prints).

#include <cstdint>
#include <string>

#include "client/client_messages.hpp"

namespace rumor::client {

// A node id as rumor shows it everywhere: 16 lowercase hex digits.
std::string node_id_hex(uint64_t id);

std::string render_status_json(const node_status& n);
std::string render_status_text(const node_status& n);

}  // namespace rumor::client
