#pragma once
// The client commands of `rumor` (get, incr, set, sadd, watch, members, status, ...): each
// connects to one node over the client protocol (client/connection.hpp), sends one request and
// prints the result — human-readable, or with --json one JSON object per line.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "client/connection.hpp"

namespace rumor::cli {

struct client_options {
  std::string connect;           // host:port; empty: $RUMOR_CONNECT or 127.0.0.1:7400
  bool json = false;
  std::string consistency = "local";
  uint32_t timeout_ms = 5000;
  // Security (--tls-ca, --tls-cert, --tls-key, --token; also $RUMOR_TLS_CA, $RUMOR_TLS_CERT,
  // $RUMOR_TLS_KEY, $RUMOR_TOKEN): tls.ca set = TLS (client/connection.hpp "Security").
  client::credentials credentials;
};

// Runs client command `command` with its positional `args` (and the few per-command flags
// folded into them by the caller). Returns the exit code (exit_codes.hpp).
struct client_command {
  std::string name;                 // get, incr, decr, set, mvput, mvget, sadd, srem, sismember, scard, smembers,
                                    // flag, text, splice, del, keys, watch, members, status, cas, lget
  std::vector<std::string> args;
  std::string context;              // mvput / splice --context
  bool show_context = false;        // text --context: print the context (stderr)
  int64_t amount = 1;               // incr / decr
  bool absent = false;              // cas --absent: expect no value
  bool remove = false;              // cas --delete: the new "value" is absent
  std::string field;                // --field a.b: a nested map field (get, sismember, scard, smembers;
                                    // writes: incr, decr, set, sadd, srem, flag; del)
  std::string type;                 // del --field --type: the type of the field to remove
  std::optional<std::string> after; // smembers --after: start after this member / field name
  std::optional<uint32_t> limit;    // smembers --limit: one page of at most this many (else: every page)
  bool value = false;               // sadd / srem / splice --value: print the value after the update
};

int run_client(const client_options& o, const client_command& c);

}  // namespace rumor::cli
