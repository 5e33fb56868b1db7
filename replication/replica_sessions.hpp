#pragma once
// replica_sessions: the work a replica (replica.hpp) holds in flight between steps — client
// writes and reads waiting for their consistency level (replica_consistency.cpp), repair
// sessions with the big sets and maps they compare by their elements (replica_repair.cpp,
// replica_element_repair.cpp), and the texts it keeps decoded or has yet to write
// (replica_texts.cpp). Internal to the replica: its private state, in their own header so that
// replica.hpp stays the replica's contract.
//
// Thread safety: plain values, owned by one replica.

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/dot_context.hpp"
#include "replication/messages.hpp"
#include "replication/replica_types.hpp"

namespace rumor::replication::detail {

struct write_wait {
  uint64_t request;
  uint64_t seq;
  size_t needed;
  std::set<node_id> acked;
  uint64_t deadline;
  bool local_committed = false;
  std::unique_ptr<update_ok> result;
};
struct read_wait {
  uint64_t request;
  std::string key;
  size_t needed;  // responses from peers still to collect
  std::map<node_id, std::vector<key_state>> responses;
  uint64_t deadline;
  std::optional<set_view_request> view;  // a view read: peers answer with key vectors
  version_vector need;                   // view reads: the merge of the answered key vectors
};
// One big set of a repair session compared by its elements: the request in flight, and our
// context when we built its table (what our answer at the end may claim).
struct set_repair {
  size_t cells = 0;
  std::vector<iblt_cell> table;  // the table in flight (sent again as it is: ctx is its context)
  crdt::dot_context ctx;
  // Fetched in pages: the last member key joined, and the context (and key vector) of the first
  // page, which the set takes once the last page is joined.
  bool paged = false;
  std::string after;
  uint64_t sent_ms = 0;  // when the request in flight was sent
  bool started = false;
  version_vector first_kv;
  crdt::dot_context first_ctx;
  size_t rounds = 0;  // tables that followed pages
  // Fetched from a header (fetch_set_in_pages: a full transfer, or a repair answer for a key we
  // may not hold): the pages create the set if we do not hold it.
  bool create = false;
};
// Which of our elements of a set a join reads: those with an id in `ids`, or (page) those with a
// member key in (after, last] — (after, end) without `last`.
struct element_choice {
  const std::set<uint32_t>* ids = nullptr;
  bool page = false;
  std::string after;
  std::optional<std::string> last;
  bool create = false;  // a set we do not hold is created (pages from a header), not left alone
  bool chooses(std::string_view member_key) const;
};
struct recon_session {
  uint64_t id;
  node_id peer;
  version_vector peer_vv;  // the peer's vector when the repair began
  size_t cells;
  bool full = false;
  uint64_t last_progress_ms;
  bool compared = false;          // recon: the responder's buckets were compared, states asked
  std::set<std::string> asked;    // recon: our keys whose states we asked for
  std::optional<std::string> streamed_to;  // full transfer: the last key of the last chunk joined
  bool streamed_all = false;               // full transfer: the last chunk is joined
  bool states_asked = false;      // recon: a state_push asking for states is unanswered
  // recon: big sets and maps compared by their elements (replica_element_repair.cpp), by storage key
  std::map<std::string, set_repair> sets;
};

// A text kept decoded after its last write (replica_texts.cpp).
struct decoded_text {
  crdt::value value;
  version_vector kv;
  uint64_t record_hash = 0;  // bucket_digests::value_hash of the record it was written as
  size_t bytes = 0;          // memory_bytes() when kept
  std::list<std::string>::iterator lru;
};

// Remote text deltas joined by apply() and not yet written (flush_text_writes).
struct pending_text {
  crdt::value value;
  version_vector kv;
  std::optional<std::string> old_record;  // the record the first delta found (nullopt: none)
  bool was_empty = true;
};

}  // namespace rumor::replication::detail
