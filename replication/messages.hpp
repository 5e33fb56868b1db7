#pragma once
// Peer-to-peer messages of the rumor replication protocol, as plain C++ values. wire.capnp is
// their encoding (wire_codec.hpp is the only code that touches it); PROTOCOL.md is the prose.
// The state machines in replication/ consume and produce these; they never see bytes.
//
// Naming: "origin" is the node that made an update; "seq" its per-origin sequence number (1, 2, ...)
// — together the update's replication dot. A version_vector maps origin -> highest contiguous seq
// applied.

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <variant>
#include <vector>

#include "base/error.hpp"
#include "crdt/dot.hpp"
#include "crdt/type_tag.hpp"
#include "crdt/version_vector.hpp"

namespace rumor::replication {

using crdt::node_id;
using crdt::version_vector;

// Protocol versions. Peers (and clients) of different versions refuse each other at the hello.
//   1: the first.
//   2: crdt codec bytes (deltas, stored records' values, contexts: Data fields) are in the packed
//      form (crdt/codec.hpp), which version-1 builds cannot decode.
//   3: counters' and registers' crdt codec bytes are in the compact form (crdt/codec_compact.hpp),
//      which version-2 builds cannot decode.
//   4: the client protocol reads parts of collections (GetRequest path / view, Response
//      collection) and answers updates of sets and maps with what they did (Response outcome)
//      instead of the whole value unless asked (UpdateRequest returnValue). Peer messages are
//      unchanged.
//   5: repair of big or_sets by their elements (set_recon_request, set_recon_answer). Peer
//      messages only: the client protocol is version 4's, and clients say 4
//      (client_protocol_version).
//   6: deltas of push and sync_response travel in the compact batch form (delta_batch.hpp,
//      wire.capnp Push.batch / SyncResponse.batch), which version-5 builds do not read. Peer
//      messages only, like 5.
//   7: lazy announcements (ihave), which version-6 builds do not read; pushes follow a tree per
//      origin (PROTOCOL.md, "Dissemination"). Peer messages only, like 5.
//   8: peer frames after the hello are in the packed form (wire_codec.hpp, capnp_frame.hpp),
//      which version-7 builds cannot cut from the stream; the hello stays flat, so a version-7
//      peer still reads it and refuses the version. Delta batches are in format 2 (deps relative
//      to the same key's entry before, delta_batch.hpp). Peer messages only, like 5.
//   9: text values (crdt type tag 8, crdt/text.hpp) in deltas, states and repair, which version-8
//      builds refuse as an unknown type: refused at the hello instead. The client protocol moves
//      to 5 (the text type and the splice operation); nodes still accept clients of version 4.
//  10: repair and full transfer of big or_maps by their fields (set_recon_* on a map's key, a
//      map's header in full_sync_chunk). Peer messages only.
//  11: a big set or map never travels whole: a repair answer (state_push) carries its header,
//      whose elements the requester fetches in pages, and a set_recon_answer may say too_big;
//      version-10 builds would take such a header for a value. Peer messages only.
inline constexpr uint32_t protocol_version = 11;
// The version on a client connection's hellos (both ways): the client protocol (docs/protocol.md).
// 5 adds the text type and the splice operation. A node accepts clients of versions
// min_client_protocol_version .. client_protocol_version and answers each with its own version; a
// client accepts a node of any of them (and sends a splice only to a node of version 5).
inline constexpr uint32_t client_protocol_version = 5;
inline constexpr uint32_t min_client_protocol_version = 4;

// First message on every connection, both ways. A peer with another cluster name or protocol
// version is refused. A client connection (client = true) may leave cluster empty and node 0;
// its later frames are client protocol frames (client/client_messages.hpp).
struct hello {
  std::string cluster;
  node_id node = 0;
  uint32_t version = protocol_version;
  std::string address;  // where the sender listens ("host:port")
  bool client = false;
  // Non-empty: the sender refuses the connection (and closes it); refusal_code says which error.
  std::string refusal;
  errc refusal_code = errc::ok;
  std::string token;  // clients: a bearer token (wire.capnp Hello.token); empty: none
  friend bool operator==(const hello&, const hello&) = default;
};

// ---- membership (SWIM with Lifeguard refinements; membership.hpp) ----

enum class member_status : uint8_t { alive = 0, suspect = 1, dead = 2, left = 3 };

// One member's state as gossiped. For the same member, a higher incarnation wins; at equal
// incarnation the more severe status wins (alive < suspect < dead < left).
struct member_update {
  node_id id = 0;
  std::string address;
  uint64_t incarnation = 0;
  member_status status = member_status::alive;
  friend bool operator==(const member_update&, const member_update&) = default;
};

struct ping {
  uint64_t probe = 0;  // probe number, echoed by the ack
  std::vector<member_update> gossip;
  uint64_t sent_ms = 0;  // the sender's physical clock when it sent the probe (0: not measured)
  friend bool operator==(const ping&, const ping&) = default;
};

struct ack {
  uint64_t probe = 0;
  node_id target = 0;  // the node that was probed (differs from the sender for relayed acks)
  std::vector<member_update> gossip;
  // A direct answer to a ping with sent_ms: that sent_ms, and the answering node's physical clock
  // when it answered (clock_monitor.hpp: the prober estimates the offset between the clocks).
  uint64_t echo_ms = 0;
  uint64_t now_ms = 0;
  friend bool operator==(const ack&, const ack&) = default;
};

// Asks the receiver to probe `target` on the sender's behalf and relay the ack.
struct ping_req {
  uint64_t probe = 0;
  node_id target = 0;
  std::string target_address;
  std::vector<member_update> gossip;
  friend bool operator==(const ping_req&, const ping_req&) = default;
};

// Sent to a seed address by a joining node; the seed answers with the whole membership.
struct join_request {
  member_update self;
  friend bool operator==(const join_request&, const join_request&) = default;
};

struct join_response {
  std::vector<member_update> members;
  friend bool operator==(const join_response&, const join_response&) = default;
};

// ---- data: deltas, anti-entropy, quorum reads, repair ----

// One update of one key: the CRDT delta (crdt codec bytes, which carry the type tag) plus the
// key, its type and the origin's HLC timestamp at creation (for T_sync metrics and LWW clocks).
struct delta_record {
  std::string key;
  crdt::type_tag type = crdt::type_tag::g_counter;
  uint64_t hlc = 0;
  std::string delta;
  // The key's causal past at the origin: per origin, the highest update sequence that had touched
  // this key there (its "key vector"). Lets every replica know when a deleted key is stable.
  version_vector deps;
  friend bool operator==(const delta_record&, const delta_record&) = default;
};

struct delta_entry {
  node_id origin = 0;
  uint64_t seq = 0;
  delta_record record;
  friend bool operator==(const delta_entry&, const delta_entry&) = default;
};

// Epidemic push of new deltas (any origin). With want_ack the receiver answers push_ack once the
// deltas it applied are durably committed (used for majority / all writes).
struct push {
  std::vector<delta_entry> deltas;
  bool want_ack = false;
  friend bool operator==(const push&, const push&) = default;
};

struct push_ack {
  version_vector applied;  // the receiver's version vector after its commit
  friend bool operator==(const push_ack&, const push_ack&) = default;
};

// Anti-entropy, each gossip round: "this is what I have". The answer carries exactly the deltas
// the requester lacks (bounded; `more` says another round is needed) and the responder's own
// vector, so the requester can push back what the responder lacks. Two replicas in sync exchange
// exactly one request and one empty response.
struct sync_request {
  version_vector vv;
  // A periodic anti-entropy round: the responder leaves out the deltas that arrived there within
  // its entropy_settle_ms (pushes are carrying them). false (first pulls, grafts, a `more`
  // continuation): every lacking delta.
  bool periodic = false;
  friend bool operator==(const sync_request&, const sync_request&) = default;
};

struct sync_response {
  version_vector vv;
  std::vector<delta_entry> deltas;
  bool more = false;
  // Origins whose deltas the requester needs but the responder has truncated from its log: the
  // requester must repair by reconciliation (recon_request).
  std::vector<node_id> truncated;
  friend bool operator==(const sync_response&, const sync_response&) = default;
};

// Full state of one stored value: the stored record (stored_value.hpp: key vector + crdt bytes).
struct key_state {
  std::string key;
  std::string value;
  friend bool operator==(const key_state&, const key_state&) = default;
};

// Quorum read: every value stored under `key` (normally one type).
// A read at majority/all. vector_only (a view of a big set: its size, one member, a page): the
// answer is the key's vector (the merge of its stored types' key vectors), not its values; a node
// before the field answers with values, and the reader takes their key vectors from them.
struct read_request {
  uint64_t id = 0;
  std::string key;
  bool vector_only = false;
  friend bool operator==(const read_request&, const read_request&) = default;
};

struct read_response {
  uint64_t id = 0;
  std::vector<key_state> values;  // empty when vector_only
  bool vector_only = false;
  version_vector key_vector;      // vector_only: the key's vector at the responder
  friend bool operator==(const read_response&, const read_response&) = default;
};

// States to join (read repair; the last steps of reconciliation). `wanted` asks the receiver to
// answer with its states of those keys; `wanted_hashes` names keys by key hash
// (bucket_digests::key_hash) instead, and the receiver looks each up in the bucket it names.
struct state_push {
  uint64_t session = 0;
  std::vector<key_state> states;
  std::vector<std::string> wanted;
  std::vector<uint64_t> wanted_hashes;
  friend bool operator==(const state_push&, const state_push&) = default;
};

// ---- reconciliation over stored bucket digests (reconcile.hpp) ----

// One cell of an invertible Bloom lookup table over (bucket id, bucket digest) pairs.
struct iblt_cell {
  int64_t count = 0;
  uint64_t id_sum = 0;
  uint64_t digest_sum = 0;
  uint64_t hash_sum = 0;
  friend bool operator==(const iblt_cell&, const iblt_cell&) = default;
};

// Requester -> responder: my bucket digests as an IBLT sized for the expected difference.
struct recon_request {
  uint64_t session = 0;
  std::vector<iblt_cell> cells;
  friend bool operator==(const recon_request&, const recon_request&) = default;
};

// A stored key and the hash of its encoded value.
struct key_hash {
  std::string key;
  uint64_t value_hash = 0;
  friend bool operator==(const key_hash&, const key_hash&) = default;
};

struct bucket_keys {
  uint32_t bucket = 0;
  std::vector<key_hash> keys;
  friend bool operator==(const bucket_keys&, const bucket_keys&) = default;
};

// A stored key by its 64-bit key hash (bucket_digests::key_hash; its top bucket_bits bits are the
// key's bucket) and the hash of its encoded value. 16 bytes on the wire, whatever the key length.
struct hashed_key {
  uint64_t key_hash = 0;
  uint64_t value_hash = 0;
  friend bool operator==(const hashed_key&, const hashed_key&) = default;
};

// Responder -> requester: the keys of every bucket that differs (decoded = true), or
// decoded = false when the IBLT was too small (the requester retries with more cells or asks for a
// full transfer). A differing bucket is listed either in `buckets` with its full keys (when two of
// its keys share a key hash) or in `hashed_buckets`, its keys then being the entries of `hashed`
// whose key hash falls in it.
struct recon_buckets {
  uint64_t session = 0;
  bool decoded = false;
  std::vector<bucket_keys> buckets;
  std::vector<uint32_t> hashed_buckets;
  std::vector<hashed_key> hashed;
  friend bool operator==(const recon_buckets&, const recon_buckets&) = default;
};

// Full transfer for a new or wiped node: states with keys after `after_key`, in key order.
struct full_sync_request {
  uint64_t session = 0;
  std::string after_key;
  friend bool operator==(const full_sync_request&, const full_sync_request&) = default;
};

struct full_sync_chunk {
  uint64_t session = 0;
  std::vector<key_state> states;
  bool done = false;
  friend bool operator==(const full_sync_chunk&, const full_sync_chunk&) = default;
};

// ---- element-level repair of a big or_set (PROTOCOL.md, "Repair of big sets by their elements") ----

// Requester -> responder, within a repair session: the requester's elements of the set at storage
// key `key` as an IBLT of (element id, element hash) pairs (set_records::element_id,
// set_records::element_hash), sized for the expected difference. No cells: the responder's
// elements one page at a time instead, those with a member key after `after` ("": from the first).
struct set_recon_request {
  uint64_t session = 0;
  std::string key;
  std::vector<iblt_cell> cells;
  std::string after;
  friend bool operator==(const set_recon_request&, const set_recon_request&) = default;
};

enum class set_recon_status : uint8_t {
  ok,         // `state` holds the sender's elements whose id is in `ids`, with the set's context
  undecoded,  // the difference did not decode: ask again with a bigger table
  absent,     // the sender holds no record of the key
  too_big,    // the differing elements pass set_recon_max_answer_bytes: fetch them in pages
};

// Responder -> requester (session != 0: the answer to a set_recon_request of that session), or
// the requester's last step (session 0: the requester's side of the same elements, to join).
// `ids`: the element ids that differ, ascending. `state`: a stored record (stored_value.hpp)
// whose value is an or_set holding the sender's elements with those ids and the context they are
// to be joined with. The answer to a page request instead holds the elements with member keys
// after the request's `after`, up to and including `last` (more = true), or all of them (more =
// false), with no ids.
struct set_recon_answer {
  uint64_t session = 0;
  std::string key;
  set_recon_status status = set_recon_status::ok;
  std::vector<uint32_t> ids;
  std::string state;
  uint32_t cells = 0;  // the size of the table answered (0 for a page)
  bool page = false;  // the answer to a page request
  bool more = false;
  std::string last;
  std::string after;  // a page: the request's `after` (the page holds the elements past it)
  node_id to = 0;     // session 0: the responder whose answer this completes; another ignores it
  friend bool operator==(const set_recon_answer&, const set_recon_answer&) = default;
};

// A lazy announcement (PROTOCOL.md, "Dissemination"): the sender has applied every delta of each
// origin up to the seq named, among them deltas it applied since its last announcement. A
// receiver that still lacks one of them a little later (graft_delay_ms: time for the pushed copy
// to arrive) pulls from the sender with a sync_request.
struct ihave {
  version_vector have;
  friend bool operator==(const ihave&, const ihave&) = default;
};

using message = std::variant<hello, ping, ack, ping_req, join_request, join_response, push, push_ack,
                             sync_request, sync_response, read_request, read_response, state_push,
                             recon_request, recon_buckets, full_sync_request, full_sync_chunk,
                             set_recon_request, set_recon_answer, ihave>;

// The number of message kinds, and each kind's name by its index in `message` (for logs and
// metrics: counters by kind are arrays indexed by message::index()).
inline constexpr std::size_t message_kinds = std::variant_size_v<message>;
inline constexpr const char* message_kind_names[] = {
    "hello",        "ping",          "ack",           "ping_req",          "join_request",   "join_response",
    "push",         "push_ack",      "sync_request",  "sync_response",     "read_request",   "read_response",
    "state_push",   "recon_request", "recon_buckets", "full_sync_request", "full_sync_chunk",
    "set_recon_request", "set_recon_answer", "ihave"};
static_assert(std::size(message_kind_names) == message_kinds);
inline const char* kind_name(const message& m) { return message_kind_names[m.index()]; }

// True for the messages of membership (SWIM probes, joins): those that carry no data to store.
inline bool is_membership_message(const message& m) {
  return std::holds_alternative<ping>(m) || std::holds_alternative<ack>(m) || std::holds_alternative<ping_req>(m) ||
         std::holds_alternative<join_request>(m) || std::holds_alternative<join_response>(m);
}

}  // namespace rumor::replication
