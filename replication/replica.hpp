#pragma once
// replica: one node's keyspace and its gossip protocol as a pure, deterministic state machine
// (in the style of etcd's raft package: Step/Tick/Ready). See PROTOCOL.md.
//
// Inputs:  update() / read() from local clients, receive() of peer messages, tick() with the
//          current time, committed() / commit_failed() for the write batches it asked for.
// Outputs: take_ready(): write batches to commit (in order), messages to send, replies to
//          clients, key changes (for subscriptions).
// It reads the store directly (reads are cheap and never block the writer) but never writes it:
// every write is a batch in ready.batches. Messages and replies that depend on a batch are held
// back until committed() reports it durable, so nothing is sent or acknowledged before it is on
// disk (and a node never reuses a sequence number it already sent after a crash).
//
// Thread safety: none; the owner (the replica actor, or the simulator) serialises all calls.

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/result.hpp"
#include "crdt/hlc.hpp"
#include "crdt/value.hpp"
#include "persistence/store.hpp"
#include "replication/bucket_digests.hpp"
#include "replication/clock_monitor.hpp"
#include "replication/membership.hpp"
#include "replication/messages.hpp"
#include "replication/outgoing.hpp"
#include "replication/replica_sessions.hpp"
#include "replication/replica_types.hpp"

namespace rumor::replication {

// The replica's inputs and outputs, its settings and counters: replica_types.hpp.

class replica {
 public:
  // REQUIRES: `store` outlives the replica; nothing else writes it while the replica lives.
  replica(const persistence::store& store, std::string address, replica_config config, uint64_t rng_seed);
  ~replica();

  // Reads the persisted version vector, clock, digests and membership. Call once, before
  // anything else. Errors: the store's read errors, or corrupt meta records.
  status load(uint64_t now_ms);

  // Starts membership: joins through `seeds` (addresses; empty = first node of a new cluster).
  void start(const std::vector<std::string>& seeds, uint64_t now_ms);
  // Graceful leave, first half (PROTOCOL.md, "Leaving"): the number of live peers not known to
  // hold every update this node originated (0: the hand-off is done). With `ask`, each of them is
  // sent a sync_request; its answer tells its vector and makes this node push what it lacks
  // (on_sync_response). The owner calls it until it returns 0 or a deadline passes, then leave().
  size_t hand_off(uint64_t now_ms, bool ask);
  // Graceful leave: tells the members this node is leaving.
  void leave(uint64_t now_ms);

  // `touches` (or_set and or_map keys only; null for every other use): for a set, the members `fn`
  // reads or changes, and a promise that it calls only or_set::add/remove/contains/size with
  // them; for a map, the top-level field names, and a promise that it calls only or_map::update,
  // remove and get of them, and size. The value is then read and written in proportion to those
  // members or fields, not to the whole (set_records.hpp, map_records.hpp), and the reply's value
  // is a window onto it (or_set::window, or_map::window: its size() is the whole's). Without it the
  // whole value is loaded.
  // `reply_value` false: the caller does not read the reply's update_ok.value (it learns what the
  // update did from its mutator), which is then left the bottom value of the type where that
  // saves a copy — a text's decoded state stays in this replica's working set instead.
  void update(uint64_t request, std::string_view key, crdt::type_tag type, const mutator& fn,
              consistency c, uint64_t timeout_ms, uint64_t now_ms,
              const std::vector<std::string>* touches = nullptr, bool reply_value = true);
  // `view`: when the key holds only a non-empty or_set, the reply carries that view of it in
  // `set`, read from the set's records without reading the whole set; when it holds only a
  // non-empty decomposed or_map, the reply's value is a window onto the fields the view reads;
  // otherwise the reply carries the values, as without it. At majority/all a view read asks the peers for the key's
  // vector only, and answers here once this replica has applied every update those vectors name
  // (pulling what it lacks from the peers meanwhile): the set never travels.
  void read(uint64_t request, std::string_view key, consistency c, uint64_t timeout_ms, uint64_t now_ms,
            const set_view_request* view = nullptr);
  void receive(node_id from, const message& m, uint64_t now_ms);
  void tick(uint64_t now_ms);
  // Pushes the deltas applied since the last push now instead of at the next tick. The node
  // runtime calls it once per burst of inputs (when it drains), so that a delta is forwarded
  // within a step of its arrival; tick() pushes whatever is left.
  void push_now(uint64_t now_ms);

  // The batch `batch_id` from ready.batches is durable. REQUIRES: batches are reported in order.
  void committed(uint64_t batch_id);
  // The batch failed: the replica's memory is now ahead of its store; it refuses further input
  // (failed() is true) and the owner must build a new replica from the store.
  void commit_failed(uint64_t batch_id, const error& e);
  bool failed() const noexcept { return failed_; }
  // `raw`, a value-table record of `skey`, as a whole record (stored_value.hpp): itself, or the
  // whole or_set whose header it is (O(set)). `committed`: `raw` was read from the store itself
  // (committed state), not through this replica's uncommitted writes (read_raw), and the set's
  // elements are read the same way.
  result<std::string> whole_record(const std::string& skey, std::string raw, bool committed = false) const;

  // Everything to carry out since the last call. The writes of all steps since then form at
  // most one new batch (group commit: callers that take_ready() once per burst of inputs get
  // one batch, one vector record, per burst); their messages and replies are held until it is
  // committed().
  ready take_ready();

  // ---- queries (local state, synchronous) ----
  node_id id() const noexcept { return self_; }
  const version_vector& vv() const noexcept { return vv_; }
  const version_vector& truncated() const noexcept { return truncated_; }
  const membership& members() const noexcept { return *members_; }
  const replica_stats& stats() const noexcept { return stats_; }
  const bucket_digests& digests() const noexcept { return digests_; }
  // False while a node that joined with an empty store has not yet copied a peer's state.
  bool bootstrapped() const noexcept { return bootstrapped_; }
  // Every value stored under `key` (normally one type). Errors: store read errors.
  // The answer to `q` when `user_key` holds only a non-empty or_set, read from the set's records
  // (never the whole set); nullopt otherwise (replica_sets.cpp). Sees uncommitted writes, as get.
  result<std::optional<set_view>> view_set(std::string_view user_key, const set_view_request& q) const;
  // When the key holds only a non-empty decomposed or_map: a window onto it holding the fields
  // `q` reads (set_view_request); nullopt otherwise (read it whole). Costs the fields it loads.
  result<std::optional<crdt::value>> view_map(std::string_view user_key, const set_view_request& q) const;
  result<std::vector<crdt::value>> get(std::string_view key) const;
  // Keys (with their types) starting with `prefix`, in order, at most `limit`. Deleted keys (whose
  // value holds nothing until the tombstone is collected) are not listed. Reads every stored value
  // (they are in hash order): = list_keys(store, prefix, limit, uncommitted_under(prefix)).
  result<std::vector<std::pair<std::string, crdt::type_tag>>> keys(std::string_view prefix, size_t limit) const;
  // This replica's writes and collections under `prefix` that the store may not hold yet: what
  // list_keys needs besides the store. A copy: list_keys may run on another thread (the store's
  // reads are thread-safe) while the replica goes on.
  struct uncommitted_keys {
    std::vector<std::pair<std::string, std::string>> written;  // storage key -> record
    std::vector<std::string> erased;                           // storage keys
  };
  uncommitted_keys uncommitted_under(std::string_view prefix) const;
  static result<std::vector<std::pair<std::string, crdt::type_tag>>> list_keys(const persistence::store& store,
                                                                              std::string_view prefix, size_t limit,
                                                                              const uncommitted_keys& mine);
  // Why local writes are refused because this node's clock is too far ahead of its peers'
  // (clock_monitor.hpp: more than config.max_drift_ms ahead of more than half of the live peers
  // measured through membership probes); nullopt when it is not.
  std::optional<std::string> clock_problem(uint64_t now_ms) const;
  // Peers' last known version vectors.
  const std::unordered_map<node_id, version_vector>& peer_vvs() const noexcept { return peer_vv_; }
  // The physical time (HLC milliseconds at its origin) of the oldest committed delta in this
  // node's log that a node whose vector is `have` lacks, over every origin: how far behind it is
  // in time. nullopt when it lacks none (or only uncommitted ones, or only truncated ones).
  // One log read per origin it lacks deltas of.
  std::optional<uint64_t> oldest_lacking_ms(const version_vector& have) const;
  // Deltas in the log that not every live member has acknowledged (an estimate of log size).
  uint64_t delta_log_size() const noexcept;
  // Deleted keys whose tombstones are stored, waiting for collection (committed state; a scan of
  // the tombstone markers, O(their count)). Errors: store read errors.
  result<uint64_t> stored_tombstones() const;
  // Value records (keys and tombstones), counting this replica's uncommitted writes: the store's
  // count at load, kept up by every write and collection since (no store look-up).
  uint64_t value_records() const noexcept { return value_records_; }

 private:
  // Client waits and repair sessions in flight (replica_sessions.hpp).
  using write_wait = detail::write_wait;
  using read_wait = detail::read_wait;
  using set_repair = detail::set_repair;
  using element_choice = detail::element_choice;
  using recon_session = detail::recon_session;
  struct held {
    uint64_t batch_id;
    outbox messages;
    std::vector<reply> replies;
    std::vector<uint64_t> write_requests;  // write waits whose local commit this is
  };

  // ---- step plumbing (replica.cpp) ----
  std::vector<node_id> live_peer_ids() const;
  void end_step();
  // Turns the open batch (if any) into ready_.batches' last entry.
  void close_batch();
  void send(node_id to, message m);
  void reply_now(reply r);

  // ---- values (replica_values.cpp): reads see the uncommitted writes (dirty_, erased_) ----
  // The value-table record of `skey` as stored: for an or_set, its header (set_records.hpp).
  result<std::optional<std::string>> read_raw(const std::string& skey) const;
  // The whole value's record (stored_value.hpp), as it travels: an or_set's is assembled from its
  // header and element records (O(set)).
  result<std::optional<std::string>> read_encoded(const std::string& skey) const;

  // True iff an uncommitted batch writes or collects a value of `user_key` (any type).
  bool touches_uncommitted(std::string_view user_key) const;
  result<std::vector<key_state>> read_all_types(std::string_view user_key) const;
  // read_all_types without assembling sets: each type's record as stored (read_raw).
  result<std::vector<key_state>> read_all_types_raw(std::string_view user_key) const;

  struct loaded {
    crdt::value value;   // the whole value
    version_vector kv;   // the key vector (stored_value.hpp)
    std::string record;  // the stored bytes (read_raw: an or_set's header)
  };
  result<std::optional<loaded>> load(const std::string& skey) const;
  static result<loaded> decode_record(std::string_view record);
  // Writes `v` as the value of `skey` (an or_set: its header and the element records that
  // differ from the stored ones). `old_record`: the raw record (read_raw) it replaces. Returns
  // crdt::encode(v).
  // `diff`: set, for an or_set or or_map, to what the write did to its elements (left alone otherwise).
  std::string write_value(const std::string& skey, const crdt::value& v, const version_vector& kv,
                          const std::optional<std::string>& old_record, bool old_held_nothing,
                          std::optional<set_diff>* diff = nullptr);
  // The writing half of write_value and write_set: puts `record` (the value-table record) of
  // `skey` into the open batch's overlay, with its bucket digest and tombstone marker.
  void put_record(const std::string& skey, std::string record, const std::optional<std::string>& old_record,
                  bool old_held_nothing, bool empty);
  // Joins a peer's state of one key (returns true iff the local value changed). The dots of the
  // incoming state that this replica's vector shows it has seen, and no longer holds, are dead
  // and left out. `sender_vv` (repair answers only): a vector the sender had applied before it
  // read the state; our dots that it shows the sender has seen, and that the state lacks, are dead
  // too (PROTOCOL.md, "Key deletion").
  bool join_state(const key_state& s, const version_vector* sender_vv = nullptr);

  // ---- texts kept decoded between writes (replica_texts.cpp) ----
  // The decoded text whose stored record is `record` (read_raw of `skey`), taken out of the
  // working set; nullopt when it holds none for these bytes (checked by their hash, so a write
  // that bypassed keep_decoded is never mistaken for the cached state). loaded.record is empty.
  std::optional<loaded> take_decoded(const std::string& skey, const std::string& record);
  // take_decoded, else decode_record(record): a text's value and key vector (record left empty).
  result<loaded> take_or_decode(const std::string& skey, const std::string& record);
  // load() for a text: the working set's decoded state if it matches the stored record.
  result<std::optional<loaded>> load_text(const std::string& skey);
  // Keeps `v` (a text just written as the value of `skey`, key vector `kv`) decoded for the next
  // write; evicts the least recently kept texts past config.text_cache_bytes.
  void keep_decoded(const std::string& skey, crdt::value v, version_vector kv);
  void forget_decoded(const std::string& skey);
  // Remote text deltas joined by apply() but not yet written: one write per key per message.
  using pending_text = detail::pending_text;
  std::map<std::string, pending_text> text_writes_;
  // Writes (and keeps decoded) every text of text_writes_. Called after each message's deltas.
  void flush_text_writes();
  using decoded_text = detail::decoded_text;
  std::unordered_map<std::string, decoded_text> texts_;
  std::list<std::string> texts_lru_;  // least recently kept first
  size_t texts_bytes_ = 0;

  // ---- or_sets stored decomposed (replica_sets.cpp, set_records.hpp) ----
  // Element and dot index records go through their own uncommitted overlay (dirty_meta_), as
  // values go through dirty_: read_meta/scan_meta_range see the open and in-flight batches.
  // What a window onto a decomposed set or map knows of it besides its elements.
  struct decomposed_window {
    std::string id;                                 // set_records::set_id(skey)
    std::optional<std::string> old_raw;             // the record replaced (nullopt: none)
    bool stored_whole = false;                      // old_raw is an older build's whole record
    version_vector kv;
    uint64_t count = 0;                             // elements (fields) stored
    uint64_t element_sum = 0;
  };
  // Fills `w` from the header `raw` (a set's or a map's) and returns its context.
  static result<crdt::dot_context> read_header(decomposed_window& w, const std::string& raw);
  struct set_window : decomposed_window {
    std::map<std::string, crdt::dot_set> before;    // loaded member -> dots, as stored
    crdt::or_set set;                               // the window (or the whole set)
    std::map<std::string, crdt::dot_set> whole_before;  // stored_whole: the members it held
  };
  // Loads the set at `skey` with the members `members` (nullptr: every member). `raw`: read_raw.
  // `committed`: as whole_record's.
  result<set_window> load_set(const std::string& skey, const std::optional<std::string>& raw,
                              const std::vector<std::string>* members, bool committed = false) const;
  // Adds to `w` the members holding dots of `ctx` (a delta's context) that the set holds.
  status load_set_dots(set_window& w, const crdt::dot_context& ctx) const;
  // Writes w.set (changed from w.before) with key vector `kv`; returns what it did to the members.
  set_diff write_set(const std::string& skey, const set_window& w, const version_vector& kv);
  // `committed`: the store's records only, without the uncommitted ones.
  result<std::optional<std::string>> read_meta(const std::string& name, bool committed = false) const;
  status scan_meta_range(const persistence::key_range& range,
                         const std::function<bool(std::string_view, std::string_view)>& visit,
                         bool committed = false) const;
  void put_meta_now(const std::string& name, std::string bytes);
  void erase_meta_now(const std::string& name);
  // Joins the or_set delta `delta` of update (origin, seq), with dependencies `deps`, into its
  // key: reads and writes only the elements it touches. Errors: the store's, corrupt records.
  result<set_diff> apply_set_delta(const std::string& skey, const crdt::or_set& delta, const version_vector& deps,
                                  node_id origin, uint64_t seq);

  // Reads the element records of the decomposed value `id` that hold dots of `delta_ctx` which
  // the value holds (`mine`: its context) and which `held` (the dots of the records already
  // loaded) lacks — the records a delta with that context can change — and hands each to `take`
  // (an error from it stops the read and is returned). Through the dot index: one point read per
  // loose dot, one range scan per node of the compact part. Errors: the store's; corrupt (an
  // index record naming a missing record).
  status read_indexed(const std::string& id, const crdt::dot_context& mine, const std::set<crdt::dot>& held,
                      const crdt::dot_context& delta_ctx, const std::function<status(std::string_view)>& take) const;
  // Hands each meta record in `range` (through the uncommitted overlay unless `committed`) to
  // `take`, in name order; an error from it stops the scan and is returned.
  status scan_records(const persistence::key_range& range, const std::function<status(std::string_view)>& take,
                      bool committed = false) const;

  // ---- or_maps stored decomposed (replica_maps.cpp, map_records.hpp) ----
  // As or_sets, with top-level fields for elements.
  struct map_window : decomposed_window {
    std::map<crdt::field_key, crdt::nested_store> before;   // loaded fields, as stored
    crdt::or_map map;                                       // the window (or the whole map)
    std::map<crdt::field_key, crdt::nested_store> whole_before;  // stored_whole: the fields it held
  };
  // Loads the map at `skey` with every field (of any type) named in `names` (nullptr: every
  // field). `raw`: read_raw. `committed`: as whole_record's.
  result<map_window> load_map(const std::string& skey, const std::optional<std::string>& raw,
                              const std::vector<std::string>* names, bool committed = false) const;
  // Adds to `w` the fields holding dots of `ctx` (a delta's context) that the map holds.
  status load_map_dots(map_window& w, const crdt::dot_context& ctx) const;
  // Writes w.map (changed from w.before) with key vector `kv`; returns what that did to the fields.
  set_diff write_map(const std::string& skey, const map_window& w, const version_vector& kv);
  // Joins the or_map delta `delta` of update (origin, seq) into its key, as apply_set_delta.
  result<set_diff> apply_map_delta(const std::string& skey, const crdt::or_map& delta, const version_vector& deps,
                         node_id origin, uint64_t seq);

  // ---- deltas, push, anti-entropy, log truncation (replica_gossip.cpp) ----
  void offer(const delta_entry& e, node_id from, uint64_t now_ms);
  bool apply(const delta_entry& e, node_id from, uint64_t now_ms);
  void persist_vv();
  // The logged deltas after `have`, bounded by count and bytes (`more`: cut at a bound). With
  // `upto`, only those it covers.
  std::vector<delta_entry> log_entries_after(const version_vector& have, size_t max_count,
                                             size_t max_bytes, bool& more,
                                             std::vector<node_id>* truncated_origins,
                                             const version_vector* upto = nullptr) const;
  // Each tick: keeps this node's vector as it was entropy_settle_ms ago (vv_history_).
  void note_vv_history(uint64_t now_ms);
  // What anti-entropy may send at `now_ms`: this node's vector of entropy_settle_ms ago, or null
  // (no cap: the setting is 0, or no snapshot is that old yet, as just after start).
  const version_vector* settled_vv(uint64_t now_ms) const;
  void flush_push();
  // The peers to push `origin`'s deltas to: its tree children, or (tree_push off) `random`.
  const std::vector<node_id>& push_targets(node_id origin, const std::vector<node_id>& live,
                                           const std::vector<node_id>& random,
                                           std::unordered_map<node_id, std::vector<node_id>>& cache) const;
  // Lazy announcements (replica_gossip.cpp): announce() sends the ihave of what was applied
  // since the last one; on_ihave() notes what the announcer has that we lack; graft_due() pulls
  // it from the announcer once graft_delay_ms has passed without it arriving.
  void announce(uint64_t now_ms);
  void on_ihave(node_id from, const ihave& m, uint64_t now_ms);
  void graft_due(uint64_t now_ms);
  // Sends one random live peer a sync_request; `periodic`: a periodic round's (PROTOCOL.md).
  void anti_entropy(uint64_t now_ms, bool periodic);
  void maybe_truncate();
  // Pointwise minimum of this replica's vector and the last known vectors of `peers`; nullopt
  // when one of them is unknown.
  std::optional<version_vector> applied_by_all(const std::vector<node_id>& peers) const;
  void on_sync_request(node_id from, const sync_request& q, uint64_t now_ms);
  // tick(): one anti-entropy exchange and a truncation check. pull_if_first(): that round at
  // once if none ran yet and a peer is live (returns whether it ran); its request is not
  // periodic, so it is answered in full (a restarted node may be in no one's push tree yet).
  void gossip_round(uint64_t now_ms, bool periodic = true);
  bool pull_if_first(uint64_t now_ms);
  void on_sync_response(node_id from, const sync_response& r, uint64_t now_ms);

  // ---- tombstone collection (replica_tombstones.cpp) ----
  void collect_tombstones(const version_vector& stable_everywhere);

  // ---- consistency levels (replica_consistency.cpp) ----
  size_t quorum(consistency c) const;
  void check_write_waits();
  void finish_read(read_wait& w, bool timed_out);
  // A view read's answer from `from`: merges its key vector (taken from its values, for a node
  // that answered with them); once enough peers answered, asks those ahead of this replica for
  // what it lacks. Returns true when the read was answered.
  bool on_view_read_answer(read_wait& w, node_id from, const read_response& r);
  // Answers every view read whose peers have answered and whose key vectors this replica has
  // applied (each step's end).
  void check_view_reads();
  // The reply to a read of `key` from this replica's state: the view (nullptr: none) when the key
  // holds only a non-empty or_set, else its values.
  reply local_read_reply(uint64_t request, std::string_view key, const set_view_request* view) const;
  // The merge of the key vectors of `user_key`'s stored types. Errors: the store's, corrupt.
  result<version_vector> key_vector(std::string_view user_key) const;
  void expire(uint64_t now_ms);

  // ---- repair (replica_repair.cpp) ----
  void start_repair(node_id peer, const version_vector& peer_vv, uint64_t estimate, uint64_t now_ms);
  void on_recon_request(node_id from, const recon_request& r);
  // The buckets whose digests differ between the peer's IBLT `cells` and ours; nullopt when the
  // table does not decode (too small for the difference) or is invalid.
  std::optional<std::set<uint32_t>> differing_buckets(const std::vector<iblt_cell>& cells) const;
  // Appends `bucket`'s keys and value hashes to `out`: by key hash (hashed_buckets / hashed), or
  // with full keys when two of them share a key hash. Returns false on a store read error.
  bool describe_bucket(uint32_t bucket, recon_buckets& out) const;
  // Requester side of one differing bucket (mine: key -> value hash; theirs: key, or key hash,
  // -> value hash): adds to `out` the keys to fetch (wanted / wanted_hashes) and our states of
  // the keys the peer lacks. Returns false on a store read error.
  // Keys the peer lacks whose updates it had all applied are retired (retire_dead), not sent;
  // our keys whose states are fetched are listed in s.asked.
  bool compare_bucket(const std::map<std::string, uint64_t>& mine, const std::map<std::string, uint64_t>& theirs,
                      recon_session& s, state_push& out);
  bool compare_hashed_bucket(const std::map<std::string, uint64_t>& mine,
                             const std::map<uint64_t, uint64_t>& theirs, recon_session& s, state_push& out);
  // Our states of the keys `r` asks for (wanted, wanted_hashes); keys we no longer hold are left out.
  state_push answer_wanted(const state_push& r) const;
  void on_recon_buckets(node_id from, const recon_buckets& r, uint64_t now_ms);
  void on_state_push(node_id from, const state_push& r, uint64_t now_ms);
  void on_full_sync_request(node_id from, const full_sync_request& r);
  void on_full_sync_chunk(node_id from, const full_sync_chunk& r, uint64_t now_ms);
  void finish_repair(recon_session& s);
  // ---- repair of big sets and maps by their elements (replica_element_repair.cpp) ----
  // The element kinds (element_kinds.hpp): K below is one of them. A map's elements are its
  // top-level fields; "set" in what follows means either.
  struct set_elements;
  struct map_elements;
  // If our record of `skey` is a set or map that travels in pages (in_pages), registers it in
  // s.sets (to be compared by its elements) and returns true.
  bool compare_by_elements(const std::string& skey, recon_session& s);
  // True iff `skey` names an or_set or or_map.
  static bool is_collection(const std::string& skey);
  // True iff `raw` (read_raw of `skey`) is the header of a set or map that never travels whole
  // (repair answers, full transfers, pushed states): set_recon_min_elements elements (fields) or
  // more, or element records that pass set_recon_page_bytes in all (summed from the stored
  // records, nothing decoded). It travels as its header, its elements fetched in pages.
  // `committed`: as scan_meta_range's. Errors: the store's, a corrupt header.
  result<bool> in_pages(const std::string& skey, const std::string& raw, bool committed = false) const;
  // What a repair answer carries of `skey` (answer_wanted): its header if it travels in pages,
  // else its whole record; nullopt if we hold no record.
  result<std::optional<std::string>> answer_state(const std::string& skey) const;
  // Our whole record of `skey` to send unasked (states the peer lacks or holds in less); nullopt
  // if we hold none or it travels in pages (the peer's own anti-entropy fetches it in pages).
  result<std::optional<std::string>> sendable(const std::string& skey) const;
  // A full transfer or a repair answer brought the header of a big set: its elements are fetched in
  // pages within the session, which finishes only after them; a set we do not hold is created.
  void fetch_set_in_pages(recon_session& s, const std::string& skey);
  // Sends the request of the set `skey` of s.sets: its page, or its element table — a new one
  // with `rebuild` (or none yet), else the one in flight again. False: the store failed (the
  // caller abandons the session).
  bool send_set_recon(recon_session& s, const std::string& skey, bool rebuild = false);
  // Ends the session when nothing is outstanding.
  void maybe_finish_repair(std::map<uint64_t, recon_session>::iterator it);
  void on_set_recon_request(node_id from, const set_recon_request& q);
  void on_set_recon_answer(node_id from, const set_recon_answer& a, uint64_t now_ms);
  template <class K>
  void answer_element_recon(node_id from, const set_recon_request& q);
  template <class K>
  void join_element_answer(node_id from, const set_recon_answer& a, uint64_t now_ms);
  // The IBLT of `cells` cells over the elements of the set at `skey` (raw: read_raw).
  template <class K>
  result<iblt> element_table(const std::string& skey, const std::string& raw, size_t cells) const;
  // A stored record of the set holding our elements of `skey` whose id is in `ids` and those
  // named in `named`, with key vector `kv` and context `ctx` plus their dots; nullopt when their
  // element records pass set_recon_max_answer_bytes in all (too big for one message: pages).
  template <class K>
  result<std::optional<std::string>> elements_state(const std::string& skey, const std::string& raw,
                                                    const std::set<uint32_t>& ids,
                                                    const std::set<typename K::key_type>& named,
                                                    const version_vector& kv, crdt::dot_context ctx) const;
  // Joins `state` (the set of a set_recon_answer) into our set at `skey`: only our elements
  // `ours` chooses and those it names are read and written. `sender_vv`: as join_state's. Without
  // `merge_context` the set's context gains only the dots of the elements joined (a page). A key
  // we do not hold as a set is left alone (the whole-key repair brings it).
  // `since` (a requester joining an answer to its table): the context of that table; our elements
  // holding dots the answer's context covers and `since` does not (added here after the table)
  // are joined too, with what the responder held of them then — the dots within `since`.
  template <class K>
  void join_elements(const std::string& skey, const std::string& state, const element_choice& ours,
                     const version_vector* sender_vv, bool merge_context = true,
                     const crdt::dot_context* since = nullptr);
  // For join_elements' `since`: our elements of the set `id` (not chosen by `ours`, not in the
  // answer) that hold a dot `answer`'s context covers and `since` does not; `incoming` is the
  // answer plus those of them that held dots within `since` (with just those dots), if any did.
  template <class K>
  struct grown_elements {
    std::vector<typename K::key_type> keys;
    std::optional<typename K::value_type> incoming;
  };
  template <class K>
  result<grown_elements<K>> grown_since(const std::string& id, const typename K::value_type& answer,
                                        const crdt::dot_context& since, const element_choice& ours) const;
  // A page answer: our elements of `skey` with member keys after `after`, about
  // set_recon_page_bytes of them, with the set's key vector and whole context.
  template <class K>
  result<set_recon_answer> set_page(const std::string& skey, const std::string& raw, const std::string& after) const;
  result<std::map<std::string, uint64_t>> bucket_contents(uint32_t bucket) const;
  // The responder of a repair whose vector was `peer_vv` no longer holds `skey`: our dots of
  // origins whose updates in the key vector it had all applied are dead; drops them. Returns
  // our record afterwards if the peer still needs it (it lacks some of the key's updates) and
  // it is sendable. A set or map stored by its elements is never loaded whole: when some dot can
  // be dead (the peer had applied every update of some origin in its key vector: it collected the
  // key), only the elements holding dots of such origins are read (retire_dead_elements); the
  // common case, a collection the peer has not received yet, costs its header.
  std::optional<std::string> retire_dead(const std::string& skey, const version_vector& peer_vv);
  // retire_dead of a set or map stored by its elements (`raw`: its header): drops the dead dots
  // through a window onto the elements that hold dots of the origins whose updates in the key
  // vector the peer had all applied; elements of other origins are not read. Returns false on a
  // store error or a corrupt record (nothing is written then).
  template <class K>
  bool retire_dead_elements(const std::string& skey, const std::string& raw, const version_vector& peer_vv);
  // Full transfer: retires (retire_dead) our keys in `range`, stored or uncommitted, other than
  // `carried` — the responder of a repair whose vector was `peer_vv` streamed that range without them.
  void retire_uncarried(const persistence::key_range& range, const std::set<std::string>& carried,
                        const version_vector& peer_vv);

  const persistence::store& store_;
  replica_config config_;
  node_id self_;
  std::string address_;
  std::mt19937_64 rng_;
  crdt::hlc_clock clock_;
  // Above every timestamp this clock ever issued or observed (also before a rewind): a key's
  // first dot of this node in a new life is above it, so dots are never reused (replica.cpp).
  uint64_t dot_floor_ = 0;
  std::unique_ptr<membership> members_;
  bucket_digests digests_;
  clock_monitor clocks_;
  // clock_problem() held at the last tick or clock measurement: update() looks at this flag only
  // (no peer list on the write path), and asks clock_problem() for the reason when it is set.
  bool clock_ahead_ = false;

  version_vector vv_;         // applied, contiguous per origin
  version_vector truncated_;  // deltas with seq <= truncated_[origin] are gone from the log
  std::unordered_map<node_id, version_vector> peer_vv_;
  // This node's vector at tick times, about entropy_settle_ms / 4 apart: the front is the newest
  // one at least entropy_settle_ms old (settled_vv), the rest are newer.
  struct vv_snapshot {
    uint64_t at_ms;
    version_vector vv;
  };
  std::deque<vv_snapshot> vv_history_;
  // Streamed pull, per requester: how far the chunks sent to it reach, the vector of its last
  // sync_request, and when a request last showed progress (on_sync_request).
  struct pull_stream {
    version_vector sent;
    version_vector last_request;
    uint64_t progress_ms = 0;
  };
  std::unordered_map<node_id, pull_stream> pull_streams_;
  version_vector reaped_;  // members reaped from the membership table (id -> 1)
  std::map<std::pair<node_id, uint64_t>, delta_record> reorder_;
  std::vector<std::pair<delta_entry, node_id>> to_push_;  // new deltas and who sent them to us
  // Lazy announcements (announce()): the origins of the deltas applied since the announcements
  // last reached every live peer (with the seqs applied then), how many peers are still to be
  // told (recounted at the next announcement once new deltas arrived: announce_fresh_), and the
  // round-robin position in the live peers.
  version_vector to_announce_;
  bool announce_fresh_ = false;
  size_t announce_left_ = 0;
  size_t announce_cursor_ = 0;
  uint64_t last_announce_ms_ = 0;
  // Per announcer: what it announced that we lacked, and when we pull it if still lacking.
  struct graft_wait {
    version_vector announced;
    uint64_t due_ms = 0;
  };
  std::unordered_map<node_id, graft_wait> grafts_;

  // uncommitted state
  std::map<std::string, std::pair<std::string, uint64_t>> dirty_;  // skey -> (encoded, batch id)
  std::map<std::string, uint64_t> erased_;  // collected keys whose erase is not committed -> batch id
  // Meta records of set elements not yet committed: name -> (bytes, or nullopt if erased; batch id).
  std::map<std::string, std::pair<std::optional<std::string>, uint64_t>> dirty_meta_;
  // The keys (of dirty_, erased_ or dirty_meta_) each uncommitted batch wrote, in batch order, so that
  // committed() visits only those; batch_keys_: the open batch's (its id is next_batch_id_).
  std::deque<std::pair<uint64_t, std::vector<std::string>>> uncommitted_keys_;
  std::vector<std::string> batch_keys_;
  // Puts into the open batch, once per key of batch_keys_, the key's last operation in it: its
  // erase (erased_ stamped with the batch), or its record (dirty_ stamped with the batch) —
  // however many steps wrote it, a hot key's big value is copied into the batch (and the
  // write-ahead log) once, not once per update.
  void put_batch_values();
  // The open batch: the writes of every step since the last take_ready() (one batch, one
  // vector record, however many steps); its held entry is in_flight_.back().
  persistence::write_batch cur_;
  bool batch_open_ = false;
  bool vv_dirty_ = false;  // vv_ / the clock advanced since the last batch closed
  outbox step_messages_;
  std::vector<reply> step_replies_;
  std::vector<uint64_t> step_write_requests_;
  std::deque<held> in_flight_;
  uint64_t next_batch_id_ = 1;
  uint64_t committed_through_ = 0;  // the highest batch id committed()
  uint64_t value_records_ = 0;      // see value_records()
  // Tombstone markers may be stored (collect_tombstones scans for them only then): true at load
  // and whenever write_value lists a deleted key; false once a scan of the committed state
  // found none and no batch that lists one is uncommitted (marker_batch_ <= committed_through_).
  bool tombstones_maybe_ = true;
  uint64_t marker_batch_ = 0;

  ready ready_;
  std::vector<write_wait> write_waits_;
  std::vector<read_wait> read_waits_;
  std::map<uint64_t, recon_session> repairs_;
  uint64_t next_session_ = 1;  // set at random by the constructor: not reused after a restart
  uint64_t now_ms_ = 0;
  uint64_t last_gossip_ms_ = 0;
  bool pulled_ = false;  // the first anti-entropy pull has gone out
  bool failed_ = false;
  bool bootstrapped_ = false;  // a full copy of a peer's state has been taken (or first node)
  replica_stats stats_;
};

}  // namespace rumor::replication
