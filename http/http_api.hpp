#pragma once
// rumor::http — the node's HTTP/JSON API (docs/http-api.md) as pure functions: a parsed HTTP
// request becomes a client-protocol request (client/client_messages.hpp) or an immediate reply,
// and the node's response becomes an HTTP reply. No sockets, no threads (http_server.hpp serves
// it), so every route and error is testable on its own.
//
// Routes (KEY: the rest of the path, percent-decoded, may contain '/'):
//   GET    /v1/kv/KEY      ?consistency=local|majority|all &timeout_ms=N   the key's value;
//                          &field=a.b: the nested map fields called b in field a instead;
//                          &member=M | &size | &after=X&limit=N: a part of the set or map there
//                          (client::get views; at most one of them)
//   POST   /v1/kv/KEY      same query; body: one operation (see parse_operation)
//   DELETE /v1/kv/KEY      same query; deletes the key
//   GET    /v1/keys        ?prefix=P &limit=N (1..100000, default 1000)
//   GET    /v1/members
//   GET    /v1/status
//   POST   /v1/cas/KEY     body {"expected": "x"|null, "value": "y"|null}   linearizable lane
//   GET    /v1/cas/KEY     linearizable read of a lane key
// Replies are JSON objects. Errors: {"error": "<errc name>", "message": "..."} with the status of
// status_of(code) (400 bad request, 404 not found, 409 conflict / type mismatch, 413 too large,
// 503 unavailable, 504 timeout, 507 storage full, 500 other); a conflict also carries the
// current value(s).
//
// Values are rendered as `rumor get --json` renders them (client/render.hpp).

#include <cstdint>
#include <map>
#include <string>
#include <variant>

#include "base/error.hpp"
#include "base/result.hpp"
#include "client/client_messages.hpp"

namespace rumor::http {

struct http_request {
  std::string method;                        // GET, POST, DELETE...
  std::string path;                          // percent-decoded, without the query
  std::map<std::string, std::string> query;  // decoded parameters
  std::string body;
};

struct http_reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

// Bound on a request body (larger: 413 before it reaches the node). Keys and values are bounded
// again by the node (errc::too_large).
inline constexpr std::size_t max_body_bytes = 1u << 20;

enum class route : uint8_t { kv_get, kv_update, keys, members, status, cas_write, cas_read };

// A request the node must answer: which route, and the client-protocol request for it.
struct routed {
  route kind = route::kv_get;
  std::string key;  // kv and cas routes
  client::request request;
};

// Routes and validates `r`. A reply instead of a request: the route does not exist (404), the
// method is wrong (405), or the request is malformed (400).
std::variant<routed, http_reply> parse(const http_request& r);

// The HTTP reply for the node's answer `resp` to `req`.
http_reply render(const routed& req, const client::response& resp);

// The HTTP status for an error code (errc::ok: 200).
int status_of(errc code) noexcept;

// {"error": "<name of code>", "message": message} with status_of(code).
http_reply error_reply(errc code, const std::string& message);

// Parses an operation body into `u` (key and path set by the caller). The body is a JSON object
// with "op" and its arguments; "path": ["field", ...] applies it to a nested or_map field:
//   {"op":"incr","by":N}  {"op":"decr","by":N}        pn_counter (N >= 0, default 1)
//   {"op":"grow","by":N}                             g_counter
//   {"op":"set","value":"v"}                         lww_register
//   {"op":"mvput","value":"v","context":"C"}         mv_register; with context: conditional
//   {"op":"sadd","members":["a",...]}  {"op":"srem","members":[...]}   or_set
//   {"op":"flag","on":true|false}                    ew_flag
// "return_value": true makes a set or map update answer with the value after it; otherwise it
// answers {"key", "changed", "size"} (client::update_outcome).
//   {"op":"del"}  (with "path": also "type": the field's type)
// Errors: invalid_argument naming the problem.
status parse_operation(const std::string& body, client::update& u);

}  // namespace rumor::http
