#pragma once
// The client protocol of a rumor node, as plain C++ values. client.capnp is their encoding
// (client_codec.hpp converts; it is the only code that touches it). A client connects to a node's
// listener, exchanges `hello` frames with role = client (replication/wire.capnp), then sends
// `request`s and receives `response`s (matched by id, possibly out of order) and, after a
// `watch`, `event`s. Used by the `rumor` CLI and by any Cap'n Proto client.
//
// Values travel as crdt codec bytes (crdt/codec.hpp: type tag + canonical state), so a client
// renders them with the same code the node uses; contexts as crdt::encode_context bytes.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/error.hpp"
#include "crdt/type_tag.hpp"

namespace rumor::client {

enum class consistency : uint8_t { local = 0, majority = 1, all = 2 };

// One update of one key. `path` names nested or_map fields, outermost first: with path = {a, b}
// the key holds an or_map whose field (a, or_map) holds an or_map whose field (b, `type`) gets the
// operation. Empty path: the key itself has `type`.
enum class op_kind : uint8_t {
  counter_add = 0,   // type g_counter (amount >= 0) or pn_counter
  register_set = 1,  // lww_register := value
  mv_put = 2,        // mv_register := value, superseding `context` (if any); conditional: fail
                     // with conflict when anything was written since that context
  set_add = 3,       // or_set += members
  set_remove = 4,    // or_set -= members (as observed)
  flag_set = 5,      // ew_flag := flag
  remove_key = 6,    // delete the key (every type stored under it), or with a non-empty path the
                     // last field of the path (type = the field's type)
  splice = 7,        // text: replace delete_count codepoints at `position` with `value` (UTF-8);
                     // conditional: fail with conflict when the text changed since `context`
};

struct update {
  std::string key;
  std::vector<std::string> path;
  op_kind op = op_kind::counter_add;
  crdt::type_tag type = crdt::type_tag::pn_counter;
  int64_t amount = 0;                  // counter_add
  std::string value;                   // register_set, mv_put
  std::vector<std::string> members;    // set_add, set_remove
  bool flag = false;                   // flag_set
  std::optional<std::string> context;  // mv_put: an encoded context from an earlier read
  bool conditional = false;            // mv_put, splice; REQUIRES context
  uint64_t position = 0;               // splice
  uint64_t delete_count = 0;           // splice
  // The response's values hold the value after the update. Without it they do only for counters,
  // registers and flags updated without a path: an or_set / or_map update answers with the
  // response's `outcome` (what it did), not a value that grows with the collection.
  bool return_value = false;
  friend bool operator==(const update&, const update&) = default;
};

// What a get answers (client.capnp ViewKind).
enum class view_kind : uint8_t {
  value = 0,   // the value(s), in response.values
  member = 1,  // response.collection->contains: is `member` in the or_set (a field name of the or_map)
  size = 2,    // response.collection->size
  page = 3,    // response.collection->members / fields: the next `limit` after `after`
};

inline constexpr uint32_t max_page_limit = 100'000;

// Reads a key, or with `path` the or_map fields called path.back() inside it (path = {a, b}: the
// key holds an or_map whose field (a, or_map) holds an or_map; every field called b of it). The
// views other than `value` read the or_set / or_map there (client.capnp GetRequest).
struct get {
  std::string key;
  std::vector<std::string> path;
  view_kind view = view_kind::value;
  std::string member;                // view member
  std::optional<std::string> after;  // view page: start after this; nullopt: from the first
  uint32_t limit = 1000;             // view page: 1..max_page_limit
  friend bool operator==(const get&, const get&) = default;
};

struct keys {
  std::string prefix;
  uint32_t limit = 1000;
  friend bool operator==(const keys&, const keys&) = default;
};

// Streams an `event` for every change of a key starting with `prefix` (made locally or arriving
// from peers), until `unwatch` with the same request id or the connection closes.
struct watch {
  std::string prefix;
  bool set_changes = false;    // or_set events carry set_changes; a big set's value is omitted
  bool field_changes = false;  // or_map events likewise (their fields); a big map's value is omitted
  friend bool operator==(const watch&, const watch&) = default;
};

struct unwatch {
  uint64_t watch_id = 0;  // the id of the watch request
  friend bool operator==(const unwatch&, const unwatch&) = default;
};

struct members {
  friend bool operator==(const members&, const members&) = default;
};

struct status {
  friend bool operator==(const status&, const status&) = default;
};

// The linearizable compare-and-set lane (replication/CAS.md): registers in their own key
// namespace, never mixed with CRDT keys. Sets `key` to `value` iff it currently holds `expected`
// (nullopt: the key must be absent); value nullopt deletes (cas_delete). On errc::conflict the
// response's values hold the current value (none: absent). Always linearizable (the consistency
// level is ignored); no quorum → errc::timeout or unavailable, never a wrong answer.
struct cas {
  std::string key;
  std::optional<std::string> expected;
  std::optional<std::string> value;
  friend bool operator==(const cas&, const cas&) = default;
};

// Linearizable read of a lane key: values = {the value} or {} when absent.
struct lget {
  std::string key;
  friend bool operator==(const lget&, const lget&) = default;
};

struct request {
  uint64_t id = 0;  // chosen by the client; echoed in the response
  consistency level = consistency::local;
  uint32_t timeout_ms = 5000;  // for majority / all
  std::variant<update, get, keys, watch, unwatch, members, status, cas, lget> body;
  friend bool operator==(const request&, const request&) = default;
};

// ---- responses ----

struct key_value {
  std::string key;
  std::string value;  // crdt codec bytes (type tag inside)
  // An mv_register's siblings' dots (crdt::encode_context bytes): what a later mv_put supersedes.
  // Empty for other types, cas / lget, and older nodes.
  std::string context;
  friend bool operator==(const key_value&, const key_value&) = default;
};

struct key_type {
  std::string key;
  crdt::type_tag type = crdt::type_tag::g_counter;
  friend bool operator==(const key_type&, const key_type&) = default;
};

struct member_info {
  uint64_t id = 0;
  std::string address;
  uint8_t status = 0;  // replication::member_status: 0 alive, 1 suspect, 2 dead, 3 left
  uint64_t incarnation = 0;
  friend bool operator==(const member_info&, const member_info&) = default;
};

struct peer_lag {
  uint64_t id = 0;
  uint64_t behind = 0;  // deltas this node has that the peer's last known vector lacks
  uint64_t lag_ms = 0;  // age of the oldest of them (now - its origin's HLC time); 0: none
  friend bool operator==(const peer_lag&, const peer_lag&) = default;
};

struct node_status {
  uint64_t node = 0;
  std::string address;
  std::string cluster;
  std::string readiness;  // "loading", "joining", "ready", "stopping", "failed"
  uint64_t keys = 0;
  uint64_t delta_log = 0;  // deltas not yet acknowledged by every member
  uint64_t local_updates = 0;
  uint64_t remote_applied = 0;
  std::vector<peer_lag> peers;
  uint64_t tombstones = 0;            // deleted keys stored, waiting for collection
  uint64_t tombstones_collected = 0;  // since the node started
  uint32_t cas_voters = 0;            // compare-and-set lane voters; 0: the lane is disabled
  uint64_t write_behind_bytes = 0;    // store: bytes acknowledged but not yet materialized
  uint64_t log_backlog = 0;           // store: log records (commit groups) not yet materialized
  uint64_t checkpoint = 0;            // store: the last log record materialized
  uint64_t last_materialize_ms = 0;   // store: how long the last materialization took
  std::string write_behind_error;     // store: why materialization fails; empty when it works
  std::string storage_error;          // why writes are refused (the store is full); empty: accepted
  uint64_t clock_drift_refusals = 0;  // peer timestamps refused for being too far ahead (since start)
  std::string clock_error;            // why local writes are refused (this clock is ahead); empty: not
  std::string security;               // "tls", "tls+token", "token" or "none" (NodeStatus.security)
  friend bool operator==(const node_status&, const node_status&) = default;
};

// A part of an or_set / or_map (client.capnp CollectionView).
struct collection_view {
  std::optional<crdt::type_tag> type;  // or_set or or_map; nullopt: nothing is stored there
  uint64_t size = 0;                   // members / fields
  bool contains = false;               // view member
  std::vector<std::string> members;    // view page of an or_set: ascending
  std::vector<key_value> fields;       // view page of an or_map: key = field name, ascending
  bool more = false;                   // view page: more after the last member / field name
  friend bool operator==(const collection_view&, const collection_view&) = default;
};

// What an update did (client.capnp UpdateOutcome).
struct update_outcome {
  uint64_t changed = 0;  // members (fields) that appeared or disappeared; removing a key: 1 if it held a value
  uint64_t size = 0;     // the set's members / the enclosing map's fields after the update; else 0
  friend bool operator==(const update_outcome&, const update_outcome&) = default;
};

// A response. `error` (errc::ok = success) says what failed: conflict (values = the current
// siblings), type_mismatch, timeout (consistency not reached; the update is durable locally and
// may still spread), invalid_argument, too_large, unavailable...
struct response {
  uint64_t id = 0;
  errc code = errc::ok;
  std::string message;              // human-readable, for errors
  std::vector<key_value> values;    // get: the key's value(s); update: the value after it (see
                                    // update::return_value);
                                    // cas / lget: the register's raw bytes (not crdt bytes)
  std::vector<key_type> key_list;   // keys
  std::vector<member_info> member_list;
  std::optional<node_status> node;  // status
  std::optional<collection_view> collection;  // get with a view other than value
  std::optional<update_outcome> outcome;      // a successful update
  friend bool operator==(const response&, const response&) = default;
};

// What changes of an or_set did to its members, or of an or_map to its fields (client.capnp
// SetChanges). A map's lists hold field names.
struct set_changes {
  uint64_t size = 0;                  // members (a map: fields) after
  std::vector<std::string> added;     // joined since the key's previous event
  std::vector<std::string> removed;   // left since then
  bool complete = true;               // false: more changed than are listed (at most 1,000)
  std::vector<std::string> changed;   // a map's fields present before and after, written since
  crdt::type_tag type = crdt::type_tag::or_set;  // or_set or or_map
  friend bool operator==(const set_changes&, const set_changes&) = default;
};
// Above this many members (fields) an or_set's (or_map's) events to a watch with set_changes omit
// the value.
inline constexpr uint64_t watch_value_max_members = 1000;

// A change seen by a watch.
struct event {
  uint64_t watch_id = 0;
  std::string key;
  std::string value;  // crdt codec bytes of the key's value after the change (empty: deleted/none,
                      // or value_omitted)
  uint64_t origin = 0;  // node that made the update (0: a repair / state transfer)
  std::optional<set_changes> set;  // watches with set_changes, or_set and or_map keys
  bool value_omitted = false;      // a big set's or map's value is not sent (watch_value_max_members)
  friend bool operator==(const event&, const event&) = default;
};

using client_message = std::variant<request, response, event>;

}  // namespace rumor::client
