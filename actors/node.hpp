#pragma once
// rumor::actors::node — one rumor node inside a program: the runtime behind the public embedding
// API (include/rumor/node.hpp, which wraps it in public types) and behind `rumor node`. Internal:
// its types are the replication and client protocol's own.
//
//   rumor::actors::node_config cfg;
//   cfg.data_dir = "/var/lib/myapp/rumor";
//   cfg.listen = "127.0.0.1:7401";
//   cfg.seeds = {"127.0.0.1:7400"};
//   auto n = rumor::actors::node::start(cfg);              // result<std::unique_ptr<node>>
//   if (!n) { std::cerr << n.err().describe(); return 1; }
//   (*n)->apply("visits", rumor::actors::op::increment(1));            // blocking, local durability
//   auto v = (*n)->get("visits");                               // result<std::optional<entry>>
//   auto f = (*n)->apply_async("cart:42", rumor::actors::op::add({"apple"}),
//                              {rumor::consistency::majority, std::chrono::seconds(2)});
//   f.get();                                                     // std::future<result<entry>>
//   (*n)->stop();
//
// A node is a CAF actor system of its own (replica actor, storage actor on its own thread,
// transport broker on the network thread; actors/ has the pieces). Every update is acknowledged
// only once it is durable in the node's LMDB store (and, with majority/all, on that many
// members). Errors are values (rumor::error): timeout (consistency not reached in time — the
// update is durable locally and keeps spreading), conflict (conditional put with a stale context;
// entry holds the current siblings), type_mismatch, invalid_argument, unavailable (stopped node).
//
// Thread safety: every member function may be called from any thread. Blocking calls and
// future::get() must not be called from inside a subscription callback (which runs on the node's
// replica actor and would wait for itself).

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "client/client_messages.hpp"
#include "http/metrics.hpp"
#include "security/tls_context.hpp"
#include "crdt/value.hpp"
#include "persistence/options.hpp"
#include "replication/cas.hpp"
#include "replication/replica.hpp"

namespace spdlog { class logger; }

namespace rumor::actors {

using consistency = client::consistency;

struct node_config {
  std::string data_dir;                  // REQUIRED; created if missing (its parent must exist)
  std::string listen = "127.0.0.1:0";    // host:port for peers and clients; port 0 = any free port
  std::string advertise;                 // address peers should dial; empty = the bound listen address
  std::vector<std::string> seeds;        // peers to join through ("host:port"); empty = new cluster
  std::string cluster = "rumor";         // peers of another cluster name are refused
  persistence::durability durability = persistence::durability::durable;
  // Memory for updates acknowledged on the write-ahead log and not yet materialized into the
  // B-trees (persistence/FORMAT.md, "Write-behind"); beyond it writers wait. At least 1 MiB.
  uint64_t write_behind_bytes = uint64_t{256} << 20;
  // The largest frame the node reads from a connection or answers a client with (a response
  // that would be larger is errc::too_large: the client reads such a value in pages). 64 B..64 MiB.
  size_t max_frame_bytes = size_t{64} << 20;
  uint64_t gossip_interval_ms = 200;
  size_t fanout = 3;
  size_t threads = 2;                    // CAF scheduler threads
  // stop() first hands this node's own updates to the live peers, for at most this long.
  uint64_t leave_handoff_ms = 5000;
  replication::replica_config replica;   // advanced protocol settings (cluster, gossip interval
                                         // and fanout above override the ones in here)
  // The linearizable compare-and-set lane (replication/CAS.md): the voters' advertised addresses,
  // the same list on every node (empty: the lane is disabled). Quorum = a majority of the list.
  // Change it one address at a time, on every node, as CAS.md "Membership" says.
  std::vector<std::string> cas_voters;
  replication::cas_config cas;           // lane settings (its voters field is ignored)
  std::shared_ptr<spdlog::logger> log;   // empty: a stderr logger named after the node
  // HOST:PORT of the HTTP endpoint (JSON API, /metrics, /v1/watch: http/http_server.hpp and
  // docs/http-api.md); empty: none. Port 0 = any free port (http_address() tells which).
  std::string http;
  // Security (actors/transport.hpp "Security", README "Security"): PEM files of the cluster CA
  // bundle and this node's certificate and key (`rumor certs`); tls.ca set = TLS 1.3 on every
  // connection, peers and clients. client_token_file: bearer tokens clients may authenticate with
  // instead of a certificate (security/tokens.hpp). reload_credentials() re-reads them all.
  security::tls_files tls;
  std::string client_token_file;
};

enum class readiness : uint8_t { loading, joining, ready, stopping, stopped, failed };
std::string_view to_string(readiness r) noexcept;

struct op_options {
  consistency level = consistency::local;
  std::chrono::milliseconds timeout{5000};
  // apply() of an or_set / or_map key (or a map field): entry.value is the whole value after the
  // update. Off, it is the empty value of the key's type and entry.outcome says what the update
  // did (the value grows with the collection; client::update::return_value).
  bool return_value = false;
};

// A key's value with its causal context (what a later conditional write supersedes).
struct entry {
  std::string key;
  crdt::value value;
  std::string context;  // crdt::encode_context of value.context(); pass it to op::mv_put
  client::update_outcome outcome;  // apply(): what the update did to its collection (else zeros)
};

// One update, built by the functions in rumor::op.
using operation = client::update;

namespace op {
operation increment(int64_t by = 1);   // pn-counter
operation decrement(int64_t by = 1);   // pn-counter
operation grow(uint64_t by = 1);       // g-counter
operation set(std::string value);      // lww-register
// mv-register: supersede exactly what `context` covers; conditional: fail with conflict if
// anything was written since that read.
operation mv_put(std::string value, std::optional<std::string> context = std::nullopt, bool conditional = false);
operation add(std::vector<std::string> members);     // or-set
operation remove(std::vector<std::string> members);  // or-set, as observed
operation flag(bool on);                             // ew-flag
// text: delete `del` codepoints at codepoint `pos`, insert `text` (UTF-8) there. With a context
// (entry::context of a read) and conditional: fail with conflict if the text changed since.
operation splice(uint64_t pos, uint64_t del, std::string text, std::optional<std::string> context = std::nullopt,
                 bool conditional = false);
operation del();                                     // delete the key (as observed)
// The operation applied to a field of an or-map key: in_map({"a", "b"}, op::increment()) updates
// field b of the map in field a of the key's map.
operation in_map(std::vector<std::string> path, operation inner);
// Deletes the last field of `path` from its map; `field_type` is that field's type.
operation map_remove(std::vector<std::string> path, crdt::type_tag field_type);
}  // namespace op

struct change {
  std::string key;
  std::optional<crdt::value> value;  // after the change; nullopt if the key is gone or value_omitted
  uint64_t origin = 0;               // node that made the update; 0 for repairs
  std::optional<client::set_changes> set;  // subscriptions with set_changes, or_set and or_map keys
  bool value_omitted = false;        // an or_set (or_map) over client::watch_value_max_members
};

struct member {
  uint64_t id = 0;
  std::string address;
  std::string status;  // alive, suspect, dead, left
  uint64_t incarnation = 0;
};

class node {
 public:
  // Opens the data directory (creating identity and store on first start), binds the listener,
  // starts the actors and joins `seeds`. Returns once the node listens; readiness() then says
  // joining until the node has the cluster's state (or it is the first node), then ready.
  // Errors: busy (directory locked by another process, port in use), invalid_argument (bad
  // address), io_error / corrupt (unusable data directory), with messages naming the problem.
  static result<std::unique_ptr<node>> start(node_config cfg);

  ~node();  // stop()
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  // Leaves the cluster gracefully: refuses new operations, waits (at most leave_handoff_ms) until
  // every live peer holds this node's own updates, leaves (the others stop counting this node in
  // majority/all quorums), commits what is queued and stops every actor. Idempotent. Pending operations complete with
  // errc::unavailable.
  void stop();
  // Stops like stop() but stays a member, as a crashed node would: peers keep counting it in
  // quorums, suspect it, then mark it dead, until it returns on the same directory (for restarts
  // that should not shrink the quorum, and for tests).
  void stop_without_leaving();

  uint64_t id() const noexcept;
  std::string address() const;  // host:port peers and clients use
  std::string http_address() const;  // host:port of the HTTP endpoint; empty when it is off
  // The replica actor's own measurements (sync-time histograms, message counters: /metrics);
  // nullopt when it does not answer within 2 s or the node is stopped.
  std::optional<http::node_metrics> metrics();
  readiness state() const noexcept;
  // Waits until state() is ready (true) or the timeout passes (false).
  bool wait_ready(std::chrono::milliseconds timeout) const;

  // ---- operations (async: the future's value arrives when the consistency level is reached) ----
  std::future<result<entry>> apply_async(std::string key, operation op, op_options o = {});
  result<entry> apply(std::string key, operation op, op_options o = {});
  // As apply_async, but `done` is called with the result (from the node's replica actor: keep it
  // quick, do not block on this node inside it) instead of fulfilling a future.
  void apply_then(std::string key, operation op, op_options o, std::function<void(result<entry>)> done);
  // Reads: local = this node's value; majority/all = joined with that many members' values
  // (and written back where stale). nullopt: no such key.
  std::future<result<std::optional<entry>>> get_async(std::string key, op_options o = {});
  result<std::optional<entry>> get(std::string key, op_options o = {});
  // As get_async, with a callback (as apply_then).
  void get_then(std::string key, op_options o, std::function<void(result<std::optional<entry>>)> done);
  // A part of a collection without reading all of it: `g` names the key, the path and the view
  // (client::get, client.capnp GetRequest); view value reads the fields at the path (all types).
  // Errors: type_mismatch (not an or_set / or_map there), invalid_argument (bad limit), and
  // those of get().
  result<client::collection_view> view(client::get g, op_options o = {});
  result<std::vector<crdt::value>> get_at(client::get g, op_options o = {});
  // Keys starting with `prefix`, in order, at most `limit`.
  result<std::vector<std::pair<std::string, crdt::type_tag>>> keys(std::string prefix = {}, uint32_t limit = 1000);
  result<std::vector<member>> members();
  result<client::node_status> status();
  // Re-reads the TLS files and the client token file named in the config (certificate rotation,
  // e.g. on SIGHUP): connections opened from now on use them; open ones keep theirs. On an error
  // (unreadable file, key not matching the certificate) nothing changes. Turning TLS on or off
  // needs a restart (errc::invalid_argument).
  rumor::status reload_credentials();

  // Calls `fn` for every change of a key starting with `prefix`, local or from peers, from the
  // node's replica actor (keep it quick; do not block on this node inside it). Returns an id for
  // unsubscribe().
  // `set_changes`, `field_changes`: as client::watch's.
  uint64_t subscribe(std::string prefix, std::function<void(const change&)> fn, bool set_changes = false,
                     bool field_changes = false);
  void unsubscribe(uint64_t id);

  // ---- the linearizable compare-and-set lane (its own key namespace; never a CRDT key) ----
  // Sets `key` to `desired` (nullopt: deletes it) iff it holds `expected` (nullopt: absent).
  // applied = false: the compare failed (nothing changed); `current` is the value the key holds.
  // Errors: timeout (no quorum in time, or the node stopped: the outcome is unknown; lget before
  // retrying), unavailable (certainly not applied: lane disabled, no quorum reachable, contention),
  // invalid_argument (empty key, value over 1 MiB).
  struct cas_outcome {
    bool applied = false;
    std::optional<std::string> current;  // applied: the new value
  };
  result<cas_outcome> cas(std::string key, std::optional<std::string> expected,
                          std::optional<std::string> desired,
                          std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Linearizable read (a Paxos round: it sees every cas completed before it began). nullopt: absent.
  result<std::optional<std::string>> lget(std::string key, std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // The raw client protocol (what the CLI speaks over TCP): `reply` is called exactly once, from
  // the replica actor, with the response to `req`.
  void submit(client::request req, std::function<void(client::response)> reply);

  struct impl;

 private:
  explicit node(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace rumor::actors
