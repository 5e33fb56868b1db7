#pragma once
// replica_types: what goes into and comes out of a replica (replica.hpp) — the consistency levels,
// the mutator of a local update, the settings, replies and their set views, the key changes
// watches see, the write batches to commit, and the counters for status and metrics. Plain
// values, no behaviour beyond set_diff::note.
//
// Thread safety: plain values; no internal synchronisation.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "crdt/hlc.hpp"
#include "crdt/value.hpp"
#include "persistence/write_batch.hpp"
#include "replication/membership.hpp"
#include "replication/outgoing.hpp"

namespace rumor::replication {

enum class consistency : uint8_t {
  local,     // acknowledged after the local durable commit
  majority,  // ... and after a majority of voting members durably applied it (reads: answered)
  all,       // ... every voting member
};

// A local update of one key: mutate `current` (the key's value, the bottom value of the key's
// type when absent) with one CRDT mutator and return the delta it produced. An error (e.g.
// errc::conflict from a conditional write) changes nothing and is passed to the client.
using mutator = std::function<result<crdt::value>(crdt::value& current, node_id self,
                                                  crdt::hlc_timestamp now)>;

struct replica_config {
  std::string cluster = "rumor";
  // Dissemination (PROTOCOL.md): each origin's deltas are pushed down a tree of this fanout
  // (push_tree.hpp), so each replica is sent each delta about once. With tree_push off, each
  // batch of new deltas goes to `fanout` random live peers instead (each replica then receives
  // a delta about `fanout` times).
  size_t fanout = 3;
  bool tree_push = true;
  // Lazy announcements: every lazy_interval_ms (0: never), a node that applied deltas since its
  // last announcement sends an ihave of their origins' seqs to the next lazy_fanout live peers (in
  // turn, until every live peer was told; peers known to hold them are skipped). A
  // peer that still lacks an announced delta graft_delay_ms later pulls it from the announcer.
  uint64_t lazy_interval_ms = 100;
  size_t lazy_fanout = 1;  // every live peer hears of a delta within (peers / lazy_fanout) intervals
  uint64_t graft_delay_ms = 50;
  // Deltas of other origins are pushed on before the batch that applied them here commits (their
  // origin made them durable before sending); false: they wait for it, as this node's own do.
  bool relay_before_commit = true;
  uint64_t gossip_interval_ms = 200;      // one anti-entropy exchange per interval
  // Periodic anti-entropy (the answer to a periodic sync_request, and what its requester pushes
  // back) leaves out the deltas that arrived at this node within the last entropy_settle_ms (its
  // vector of that long ago bounds what it sends): pushes are still carrying them, and a pull
  // that races the push tree sends them twice. A delta a push lost is pulled at the first round
  // once it is that old here. First pulls, grafts and `more` continuations are not capped.
  // Measured by this node's tick times, never by timestamps from other clocks. 0: no cap.
  uint64_t entropy_settle_ms = 100;
  size_t max_deltas_per_message = 1024;   // bound on deltas in one push / sync_response
  size_t max_message_bytes = 1 << 20;     // bound on delta / state bytes in one message
  // A requester that lacks many deltas is answered with up to this many sync_response chunks
  // in flight (PROTOCOL.md, "Streamed pull"), so that its decode, apply and commit of one chunk
  // overlap with the next one's transfer. 1: one chunk per round trip. Up to this many times
  // max_message_bytes may be on the way to one requester.
  size_t sync_window = 8;
  size_t reorder_limit = 65536;           // out-of-order deltas buffered (beyond: dropped, re-pulled)
  // Log retention (PROTOCOL.md): the delta log keeps what a live member lacks, and beyond that up
  // to this many of each origin's newest deltas while a member that is not live (dead, or left,
  // until reaped) lacks them: such a member that comes back having missed no more catches up
  // with a streamed pull, not a repair (a restart after a graceful leave, an outage longer than
  // failure detection). 0: only what live members lack.
  uint64_t log_retain_deltas = 262'144;
  unsigned bucket_bits = 16;              // reconciliation buckets = 2^bucket_bits
  size_t full_sync_threshold = 50'000;    // expected differences beyond which repair streams all
  // A repair compares an or_set or or_map of at least this many elements (fields) here, or one
  // whose element records pass set_recon_page_bytes, by its elements, and never sends it as one
  // value (PROTOCOL.md, "Big sets by their elements", "Big collections never travel whole").
  size_t set_recon_min_elements = 256;
  // A set whose element table still does not decode at this many cells (0: the cells of
  // full_sync_threshold pairs) is fetched in pages of about set_recon_page_bytes instead.
  size_t set_recon_max_cells = 0;
  size_t set_recon_page_bytes = 1 << 20;
  // A table answer (or a requester's last step) whose differing elements' records pass this is
  // not sent: the answer says too_big and the requester fetches pages; the last step is left to
  // the responder's own anti-entropy. A quarter of the 64 MiB frame limit: far past a message
  // budget, since after a round of pages a too_big answer ends the session unfinished.
  size_t set_recon_max_answer_bytes = 16 << 20;
  // Texts are kept decoded in memory between their writes, up to this many bytes of decoded
  // structure (crdt::text::memory_bytes; least recently written out first), so that a splice or
  // a remote text delta does not decode the whole stored text again (replica_texts.cpp). 0: off.
  size_t text_cache_bytes = 64 << 20;
  uint64_t recon_timeout_ms = 10'000;     // a repair session without progress is abandoned
  uint64_t max_drift_ms = 60'000;         // HLC: refuse to follow a peer clock further ahead
  // Collect deletion tombstones once causally stable: this node has joined, every voting member has
  // applied every update in the key's vector, every origin in it is a known (or reaped) member, and
  // this node has applied everything the voting members reported (PROTOCOL.md, "Key deletion").
  // Safe also when a member the collector never heard of still holds an older state: no state join
  // brings back a dot made by an update the receiver (or, in a repair, the responder) had applied
  // and no longer holds (seed 12082). Off, deleted keys stay as empty values with their context.
  bool collect_tombstones = true;
  membership_config membership;
};

struct update_ok {
  node_id origin = 0;
  uint64_t seq = 0;
  crdt::value value;    // the key's state after the update, at this replica
  std::string encoded;  // crdt::encode(value), as stored (a response need not encode it again)
};

// A read of part of an or_set (replica::read): its size, whether it holds `member`, or the
// first `limit` members after `after` (ascending byte order).
//
// The same request reads part of a decomposed or_map (replica::read; map_records.hpp): at `path`
// (nested field names, outermost first; empty: the key's map), its size, whether it has a field
// called `member`, the fields of the first `limit` names after `after`, or (kind value, with a
// path) the fields called path.back(). The reply then carries a window onto the map
// (or_map::window) holding at least the fields the request reads, for the client layer to read
// the part from (actors/collection_view.hpp); a page's window holds one name more than `limit`
// when more follow.
struct set_view_request {
  enum class kind : uint8_t { size, member, page, value };
  kind what = kind::size;
  std::string member;
  std::optional<std::string> after;
  size_t limit = 0;
  std::vector<std::string> path;  // maps only
};

struct set_view {
  uint64_t size = 0;
  bool contains = false;             // kind member
  std::vector<std::string> members;  // kind page
  bool more = false;                 // kind page: members after the last one
};

struct reply {
  uint64_t request = 0;
  status result;                        // ok, or the error (timeout, conflict, type_mismatch, ...)
  // Updates that succeeded. On the heap: a reply is moved several times on its way out (held
  // until its batch is durable), and a pointer moves for free where a value would not.
  std::unique_ptr<update_ok> update;
  std::vector<crdt::value> values;      // reads: every type stored under the key (normally one);
                                        // failed updates: the key's current value, if any
  std::optional<set_view> set;          // reads with a set_view_request answered from the set's
                                        // records (then `values` is empty)
};

// What one write of an or_set or an or_map did to its elements (watches report it instead of
// the whole value of a big collection): the members (a map: field names) that joined and that
// left, for a map the fields present before and after whose value changed, at most max_listed
// names in all (`complete` false: more changed than are listed), and the number of members (a
// map: fields, one per name and type) after. A map lists a name once per type that changed.
struct set_diff {
  static constexpr size_t max_listed = 1000;
  uint64_t size = 0;
  std::vector<std::string> added, removed, changed;
  bool complete = true;
  // An element that was (`was`) or is (`is`) present changed.
  void note(const std::string& name, bool was, bool is) {
    if (added.size() + removed.size() + changed.size() >= max_listed) {
      complete = false;
      return;
    }
    (was && is ? changed : is ? added : removed).push_back(name);
  }
};

struct change {
  std::string key;
  crdt::type_tag type = crdt::type_tag::g_counter;
  node_id origin = 0;  // 0 for state joins (repair), else the update's origin
  std::optional<set_diff> set;  // an or_set's or or_map's write: what it did to the elements
};

struct pending_batch {
  uint64_t id = 0;
  persistence::write_batch batch;
};

struct ready {
  std::vector<pending_batch> batches;  // commit in this order; report each with committed()
  outbox messages;
  std::vector<reply> replies;
  std::vector<change> changes;
  bool empty() const { return batches.empty() && messages.empty() && replies.empty() && changes.empty(); }
};

// Counters for status and metrics. sync_latency = apply time at this replica minus the update's
// HLC creation time at its origin (T_sync of the design's model), for remote deltas.
struct replica_stats {
  uint64_t local_updates = 0;
  uint64_t remote_applied = 0;
  uint64_t duplicates = 0;
  uint64_t buffered = 0;       // deltas waiting for a gap to fill
  uint64_t dropped = 0;        // out-of-order deltas dropped (buffer full)
  uint64_t bad_deltas = 0;     // undecodable deltas received
  uint64_t clock_drift_refusals = 0;
  uint64_t clock_rewinds = 0;  // the HLC forgot a position far ahead of the physical clock (hlc.hpp)
  uint64_t states_joined = 0;  // repair / read-repair / full-sync state joins
  uint64_t repairs_started = 0;
  uint64_t repairs_finished = 0;
  uint64_t full_transfers = 0;  // repairs that were full transfers (of repairs_started)
  uint64_t sets_repaired_by_elements = 0;  // big sets and maps of repairs compared by their elements
  uint64_t sets_transferred_in_pages = 0;  // big sets and maps of full transfers fetched in pages
  uint64_t gossip_rounds = 0;   // anti-entropy rounds (one per gossip interval)
  uint64_t announcements = 0;   // ihave messages sent
  uint64_t grafts = 0;          // pulls started by an ihave of deltas this node still lacked
  uint64_t tombstones_collected = 0;
  uint64_t stale_states = 0;   // states of collected keys dropped, or states whose dead dots were
                               // dropped (join_state, repairs: PROTOCOL.md, "Key deletion")
  uint64_t sync_latency_count = 0;
  uint64_t sync_latency_sum_ms = 0;
  uint64_t sync_latency_max_ms = 0;
};

}  // namespace rumor::replication
