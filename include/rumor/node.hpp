#pragma once
// rumor/node.hpp (public) — one rumor node inside your program.
//
//   #include <rumor/node.hpp>
//
//   rumor::node_config cfg;
//   cfg.data_dir = "/var/lib/myapp/rumor";
//   cfg.listen = "127.0.0.1:7401";
//   cfg.seeds = {"127.0.0.1:7400"};                  // empty: start a new cluster
//   auto n = rumor::node::start(cfg);                 // result<std::unique_ptr<node>>
//   if (!n) { std::cerr << n.err().describe() << "\n"; return 1; }
//   (*n)->apply("visits", rumor::op::increment());   // blocks until durable here
//   auto v = (*n)->get("visits");                     // result<std::optional<entry>>
//   if (v && *v) std::cout << (*v)->value.counter << "\n";
//   auto f = (*n)->apply_async("cart:42", rumor::op::add({"apple"}),
//                              {rumor::consistency::majority, std::chrono::seconds(2)});
//   f.get();                                          // std::future<result<entry>>
//   (*n)->stop();
//
// Build against it with CMake (`find_package(rumor CONFIG REQUIRED)`,
// `target_link_libraries(app PRIVATE rumor::rumor)`) or pkg-config (`pkg-config --cflags --libs
// rumor`). The node speaks the same protocol as `rumor node` processes: embedded nodes and node
// processes form one cluster, and the `rumor` CLI can talk to an embedded node at address().
//
// Semantics. Every update is acknowledged once it is durable in this node's data directory (with
// durability::durable: fsynced) and, with consistency majority/all, on that many members; it then
// spreads to every member by gossip until all converge. Errors are values (rumor::error, see
// rumor/error.hpp): timeout (the consistency level was not reached in time; the update is durable
// here and keeps spreading), conflict (a conditional mv_put whose context is stale), type_mismatch
// (the key holds another type), invalid_argument, too_large, map_full (the store is full; the
// update was not applied), unavailable (the node is stopped or not ready).
//
// Thread safety: every member function may be called from any thread. Blocking calls and
// future::get() must not be called from inside a subscription callback, which runs on the node's
// own thread and would wait for itself.
//
// API and ABI stability. The headers under <rumor/> are the whole public API; nothing else of
// the project is installed, and they expose no type of the libraries rumor uses inside (CAF,
// Cap'n Proto, LMDB, spdlog). While the version is 0.x, the shared library's SONAME carries
// major.minor (librumor.so.0.1): a release that changes the API or ABI changes the minor version,
// patch releases keep both. From 1.0 on, the SONAME carries the major version only and minor
// releases only add. Structs such as node_config may gain fields (with defaults) in minor
// releases: initialise them with designated or default construction, not positionally.

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rumor/error.hpp>
#include <rumor/result.hpp>
#include <rumor/value.hpp>
#include <rumor/version.hpp>

namespace rumor {

enum class durability : uint8_t {
  durable,  // each commit group is fsynced before its updates are acknowledged
  relaxed,  // no fsync: an OS crash (not a process crash) may lose acknowledged updates
};

enum class log_level : uint8_t { trace, debug, info, warn, error, off };

struct node_config {
  std::string data_dir;                  // REQUIRED; created if missing (its parent must exist)
  std::string listen = "127.0.0.1:0";    // host:port for peers and clients; port 0 = any free port
  std::string advertise;                 // address peers should dial; empty = the bound listen address
  std::vector<std::string> seeds;        // peers to join through ("host:port"); empty = new cluster
  std::string cluster = "rumor";         // peers of another cluster name are refused
  rumor::durability durability = rumor::durability::durable;
  // Memory for updates acknowledged on the write-ahead log and not yet written into the store's
  // B-trees; beyond it writers wait. At least 1 MiB.
  uint64_t write_behind_bytes = uint64_t{256} << 20;
  uint64_t gossip_interval_ms = 200;     // one anti-entropy exchange with one peer per interval
  size_t fanout = 3;                     // children of each node in an origin's push tree
  size_t threads = 2;                    // worker threads of the node
  // stop() first hands this node's own updates to the live peers, waiting at most this long.
  uint64_t leave_handoff_ms = 5000;
  // The linearizable compare-and-set lane: the voters' advertised addresses, the same list on
  // every node (empty: the lane is disabled). Quorum = a majority of the list. Change it one
  // address at a time, on every node.
  std::vector<std::string> cas_voters;
  uint64_t cas_timeout_ms = 2000;        // default deadline of a lane operation
  // Deleted keys leave a tombstone until every member has seen the deletion; then it is
  // collected. Off: tombstones stay forever.
  bool collect_tombstones = true;
  // A peer whose hybrid logical clock is further ahead than this is refused (its updates are
  // not applied until the clocks agree).
  uint64_t max_clock_drift_ms = 60'000;
  // Logging: messages at `log_level` and above go to `log_sink`, or to stderr when it is empty.
  // The sink is called from the node's threads, possibly concurrently.
  rumor::log_level log_level = rumor::log_level::info;
  std::function<void(rumor::log_level, std::string_view message)> log_sink;
  // Security (README "Security"): with tls_ca set, every connection (peers and clients) speaks
  // TLS 1.3 only. tls_ca: the PEM bundle of the cluster CA(s) every certificate is checked against;
  // tls_cert / tls_key: this node's certificate and key (`rumor certs node`: a node certificate
  // naming the hosts the node is reached at). Peers must hold node certificates of the same CA;
  // clients a certificate of the CA, or one of the tokens in client_token_file (one per line).
  // node::reload_credentials() re-reads these files (certificate rotation without a restart).
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string client_token_file;
};

enum class readiness : uint8_t { loading, joining, ready, stopping, stopped, failed };
std::string_view to_string(readiness r) noexcept;

enum class consistency : uint8_t {
  local,     // this node
  majority,  // a majority of the voting members (writes: acknowledged by; reads: joined from)
  all,       // every voting member
};

struct op_options {
  consistency level = consistency::local;
  std::chrono::milliseconds timeout{5000};  // for majority / all
  // apply() of an or_set or or_map key (or of a map field): entry.value holds the whole value
  // after the update. Off (the default), entry.value is the type's empty value and entry.outcome
  // says what the update did: a collection's value grows with it, and sending it back would make
  // every update cost in proportion to the collection. Counters, registers and flags always
  // return their value.
  bool return_value = false;
};

// What an update did to the collection it names (zeros for counters, registers and flags).
struct update_outcome {
  // add: members that were absent and now are present; remove: members that were present and
  // now are not; an update of a map field: 1 if the field appeared (map_remove: disappeared);
  // del: 1 if the key held a value.
  uint64_t changed = 0;
  // After the update: the set's members (add, remove), or the fields of the map holding the
  // updated field; 0 otherwise.
  uint64_t size = 0;
};

// A key's value with its causal context: what a later conditional write supersedes (pass it to
// op::mv_put). The context is opaque bytes, valid on every node of the cluster.
struct entry {
  std::string key;
  rumor::value value;
  std::string context;
  update_outcome outcome;  // apply() only
};

// Where a collection read looks: the key's value, or with `path` the nested or_map fields
// called path.back() (path as in op::in_map: {"a", "b"} is field b of the map in field a).
struct place {
  place(std::string k) : key(std::move(k)) {}  // NOLINT: a key is a place
  place(const char* k) : key(k) {}            // NOLINT
  place(std::string k, std::vector<std::string> p) : key(std::move(k)), path(std::move(p)) {}
  std::string key;
  std::vector<std::string> path;
};

// One page of a collection (node::page): the next members or fields after a point.
struct collection_page {
  std::optional<value_type> type;           // or_set or or_map; nullopt: nothing is stored there
  uint64_t size = 0;                        // all members / fields of the collection
  std::vector<std::string> members;         // or_set: ascending byte order
  std::vector<map_field> fields;            // or_map: ascending name order (a name once per type)
  bool more = false;                        // more follow: ask again with after = last()
  // The member or field name to pass as `after` for the next page (empty when the page is).
  std::string last() const {
    if (!members.empty()) return members.back();
    return fields.empty() ? std::string() : fields.back().name;
  }
};

// One update, built by the functions in rumor::op; cheap to copy, immutable.
class operation {
 public:
  struct spec;  // the library's own description of the update
  explicit operation(std::shared_ptr<const spec> s) noexcept : spec_(std::move(s)) {}
  const spec& get() const noexcept { return *spec_; }

 private:
  std::shared_ptr<const spec> spec_;
};

namespace op {
operation increment(int64_t by = 1);   // pn_counter
operation decrement(int64_t by = 1);   // pn_counter
operation grow(uint64_t by = 1);       // g_counter
operation set(std::string value);      // lww_register
// mv_register: supersedes exactly what `context` (from an entry) covers, or nothing; conditional:
// fails with errc::conflict if anything was written since that read.
operation mv_put(std::string value, std::optional<std::string> context = std::nullopt, bool conditional = false);
operation add(std::vector<std::string> members);     // or_set
operation remove(std::vector<std::string> members);  // or_set: removes the adds seen here
operation flag(bool on);                             // ew_flag
// text: deletes `del` codepoints at codepoint `pos` and inserts `text` (UTF-8) there; the entry's
// value.text is the text after it when asked for (op_options::return_value), its outcome says
// how many codepoints changed and the new length. With `context` (entry::context of a read) and
// conditional: fails with errc::conflict if the text changed since that read, so positions
// computed from that read are safe to use. errc::invalid_argument: a range past the end, text
// that is not UTF-8.
operation splice(uint64_t pos, uint64_t del, std::string text, std::optional<std::string> context = std::nullopt,
                 bool conditional = false);
operation del();                                     // deletes the key (what is seen here)
// `inner` applied to a field of an or_map key: in_map({"a", "b"}, op::increment()) updates the
// field b of the map in the field a of the key's map.
operation in_map(std::vector<std::string> path, operation inner);
// Deletes the last field of `path` from its map; `field_type` is that field's type.
operation map_remove(std::vector<std::string> path, value_type field_type);
}  // namespace op

// What the changes of a set did to its members since its previous change event; for a map, the
// same of its field names (a name holding fields of two types is listed once per type changed).
struct set_changes {
  uint64_t size = 0;                 // members (a map: fields) after
  std::vector<std::string> added;    // members that joined (fields that appeared)
  std::vector<std::string> removed;  // members that left (fields that went)
  bool complete = true;              // false: more changed than are listed (at most 1,000)
  std::vector<std::string> changed;  // a map's fields present before and after, written since
  value_type type = value_type::or_set;  // or_set or or_map
};

struct change {
  std::string key;
  std::optional<rumor::value> value;  // after the change; nullopt when the key is gone, or
                                      // value_omitted
  uint64_t origin = 0;                // node that made the update; 0 for repairs
  std::optional<set_changes> set;     // subscriptions with set_changes, set and map keys
  bool value_omitted = false;         // a set (map) of over 1,000 members (fields): read it in pages
                                      // (node::page) or by field (node::fields)
};

struct subscribe_options {
  // A set's changes carry `set` (what joined and left), and its whole value only while it has at
  // most 1,000 members: a subscriber to a big set does not make the node assemble it per change.
  // A map's likewise (fields that appeared, went or were written; at most 1,000 fields).
  bool set_changes = false;
};

struct member {
  uint64_t id = 0;
  std::string address;
  std::string status;  // alive, suspect, dead, left
  uint64_t incarnation = 0;
};

struct key_info {
  std::string key;
  value_type type = value_type::pn_counter;
};

struct node_status {
  uint64_t id = 0;
  std::string address;
  std::string cluster;
  rumor::readiness readiness = rumor::readiness::loading;
  uint64_t keys = 0;
  uint64_t delta_log = 0;             // deltas not yet acknowledged by every member
  uint64_t local_updates = 0;         // since start
  uint64_t remote_applied = 0;        // since start
  struct peer_lag {
    uint64_t id = 0;
    uint64_t behind = 0;              // deltas this node has that the peer's last known vector lacks
    uint64_t lag_ms = 0;              // age of the oldest of them (0: none)
  };
  std::vector<peer_lag> peers;
  uint64_t tombstones = 0;            // deleted keys waiting for collection
  uint64_t tombstones_collected = 0;  // since start
  uint32_t cas_voters = 0;            // 0: the lane is disabled
  uint64_t write_behind_bytes = 0;    // acknowledged, not yet written into the B-trees
  uint64_t log_backlog = 0;           // log records not yet materialized
  uint64_t checkpoint = 0;            // the last log record materialized
  uint64_t last_materialize_ms = 0;
  std::string write_behind_error;     // why materialization fails; empty when it works
  std::string storage_error;          // why writes are refused (the store is full); empty: accepted
  uint64_t clock_drift_refusals = 0;  // peer clock readings refused as too far ahead, since start
  std::string clock_error;            // why local writes are refused (this clock is ahead); empty: not
  std::string security;               // "tls", "tls+token", "token" or "none" (who may connect)
};

class node {
 public:
  // Opens the data directory (creating identity and store on first start), binds the listener,
  // starts the node and joins `seeds`. Returns once the node listens; state() then says joining
  // until the node has the cluster's state (or it is the first node), then ready.
  // Errors: busy (directory locked by another process, port in use), invalid_argument (bad
  // address or setting), io_error / corrupt / unsupported_version (unusable data directory).
  static result<std::unique_ptr<node>> start(node_config cfg);

  ~node();  // stop()
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  // Leaves the cluster gracefully: refuses new operations, waits (at most leave_handoff_ms) until
  // every live peer holds the updates this node made, so that none is stranded here; then leaves
  // (the others stop counting this node in majority/all quorums), commits what is queued and
  // stops. Idempotent. Pending operations complete with unavailable.
  void stop();
  // Stops like stop() but stays a member, as a crashed node would: peers keep counting it in
  // quorums until it returns on the same directory (restarts that should not shrink the quorum).
  void stop_without_leaving();

  uint64_t id() const noexcept;
  std::string address() const;  // host:port peers and clients use
  readiness state() const noexcept;
  // Waits until state() is ready (true) or the timeout passes (false).
  bool wait_ready(std::chrono::milliseconds timeout) const;

  // ---- operations (async: the future's value arrives when the consistency level is reached) ----
  std::future<result<entry>> apply_async(std::string key, operation op, op_options o = {});
  result<entry> apply(std::string key, operation op, op_options o = {});
  // Reads: local = this node's value; majority/all = joined with that many members' values (and
  // written back where stale). nullopt: no such key (never written, or deleted).
  std::future<result<std::optional<entry>>> get_async(std::string key, op_options o = {});
  result<std::optional<entry>> get(std::string key, op_options o = {});
  // ---- parts of a collection, without reading all of it (or_set members, or_map fields) ----
  // The or_set at `at` holds `member` (an or_map: has a field called `member`). Absent: false.
  // Errors: type_mismatch (neither an or_set nor an or_map there), and those of get().
  result<bool> contains(place at, std::string member, op_options o = {});
  // Its members (or fields). Absent: 0.
  result<uint64_t> size(place at, op_options o = {});
  // Up to `limit` (1..100000) members or fields after `after` (nullopt: from the first), in
  // ascending byte order. Walk a collection of any size page by page:
  //   std::optional<std::string> after;
  //   do { auto p = n->page("big", after); ...; after = p->last(); } while (p->more);
  result<collection_page> page(place at, std::optional<std::string> after = std::nullopt, uint32_t limit = 1000,
                               op_options o = {});
  // Every field called path.back() at `at` (one per type; empty when there is none). An empty
  // path is invalid_argument (use get()).
  result<std::vector<map_field>> fields(place at, op_options o = {});

  // Keys starting with `prefix`, in order, at most `limit`. Reads every stored key (values are
  // kept in hash order): an administrative listing, like Redis's SCAN, not a hot-path query.
  result<std::vector<key_info>> keys(std::string prefix = {}, uint32_t limit = 1000);
  result<std::vector<member>> members();
  result<node_status> status();
  // Re-reads the TLS files and the client token file of the config: connections opened from now
  // on use them, open connections keep theirs. On an error (unreadable file, key not matching its
  // certificate) nothing changes. Turning TLS or tokens on or off needs a restart.
  // Errors: invalid_argument, not_found, io_error (naming the file), unavailable (stopped).
  rumor::status reload_credentials();

  // Calls `fn` for every change of a key starting with `prefix`, local or from peers, on the
  // node's own thread (keep it quick; do not block on this node inside it). Returns an id for
  // unsubscribe(). One call per key per step of the node (several updates that arrive together
  // give one change: the value after them). opts.set_changes: see subscribe_options.
  uint64_t subscribe(std::string prefix, std::function<void(const change&)> fn, subscribe_options opts = {});
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

  struct impl;

 private:
  explicit node(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace rumor
