#pragma once
// The client commands of `rumor` (get, incr, set, sadd, watch, members, status, ...): each
// connects to one node over the client protocol (client/connection.hpp), sends one request and
// prints the result — human-readable, or with --json one JSON object per line.

#include <cstdint>
#include <string>
#include <vector>

namespace rumor::cli {

struct client_options {
  std::string connect;           // host:port; empty: $RUMOR_CONNECT or 127.0.0.1:7400
  bool json = false;
  std::string consistency = "local";
  uint32_t timeout_ms = 5000;
};

// Runs client command `command` with its positional `args` (and the few per-command flags
// folded into them by the caller). Returns the exit code (exit_codes.hpp).
struct client_command {
  std::string name;                 // get, incr, decr, set, mvput, mvget, sadd, srem, flag, del, keys, watch, members, status
  std::vector<std::string> args;
  std::string context;              // mvput --context
  int64_t amount = 1;               // incr / decr
  bool absent = false;              // cas --absent: expect no value
  bool remove = false;              // cas --delete: the new "value" is absent
};

int run_client(const client_options& o, const client_command& c);

}  // namespace rumor::cli
