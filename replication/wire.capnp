@0xbdfb2da15400f5cf;
# rumor replication protocol — the peer-to-peer wire spec (protocol version 8; client connections say 4,
# messages.hpp client_protocol_version). Every frame on a
# peer connection is one Cap'n Proto message whose root is a `Message`: the hello in the standard
# flat form (segment table + segments), every later frame (since version 8) in the packed form of
# replication/capnp_frame.hpp (a u32 header with bit 31 set and the length, then the flat form in
# Cap'n Proto's packed encoding); a receiver reads both. Frames are at most 64 MiB and 512 segments; a peer that sends a bad frame
# is disconnected. The first frame on a connection, both ways, is a `hello`.
#
# The C++ mirror of every struct below is replication/messages.hpp (replication/wire_codec.hpp
# converts; it is the only code that sees these generated types).
#
# Evolution rules: append fields and union members with the next ordinal only; never change an
# ordinal, type or default; never delete a field (stop using it). A receiver refuses a `Message`
# whose union member it does not know (the frame is a decode error), so a new message kind may
# only be sent to peers whose hello version says they know it.
#
# Conventions:
#   - Node ids are random 64-bit values, never 0 for a real node.
#   - A (origin, seq) pair is an update's replication dot; seq counts 1, 2, ... per origin.
#   - Keys are user keys as raw bytes (`Data`: 1..256 bytes, no NUL; checked by the replication
#     layer, not by the codec). Values and deltas are crdt codec bytes (crdt/crdt.capnp `Value`,
#     type tag included, in the packed form of crdt/codec.hpp since version 2; version 1 sent the
#     unpacked form, which is still read), opaque at this layer.
#   - Lists are in no particular order unless a field says otherwise.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("rumor::replication::wire");

# ---- common ----

# One version-vector entry: every update 1..counter of `node` has been applied.
struct VvEntry {
  node @0 :UInt64;      # origin node id, != 0
  counter @1 :UInt64;   # highest contiguous seq applied, >= 1
}
# A version vector is a List(VvEntry) with node ids strictly increasing (hence unique); an absent
# node means counter 0.

# CRDT type of a key's value. Same numbers as crdt/crdt.capnp TypeTag (and crdt/type_tag.hpp);
# `unknown` (0) and values this build does not know are refused.
enum CrdtType {
  unknown @0;
  gCounter @1;
  pnCounter @2;
  lwwRegister @3;
  mvRegister @4;
  orSet @5;
  orMap @6;
  ewFlag @7;
}

# ---- handshake ----

# First frame on every connection, both ways. The side that opened the connection sends its
# hello at once. The side that accepted it reads that hello first and checks it: it answers with
# its own hello when it accepts the connection, or with a hello whose `refusal` says why (and
# `refusalCode` which rumor::errc applies) and then closes the connection. Refused, with
# refusalCode: another protocol version: unsupportedVersion (11); another cluster name:
# invalidArgument (1); a first frame that is no hello: invalidArgument (1); a peer hello with the
# node's own id: invalidArgument (1). An opener that receives a refusal must not retry at once.
#
# A connection opened by a client (the `rumor` CLI, an application) says role = client. For a
# client, `cluster` may be empty (= "whichever cluster this node is in") and `node` is ignored;
# the node's accepting hello says role = client too (what it accepted the connection as). After
# it, every further frame on that connection, both ways, is a client/client.capnp
# `ClientMessage` instead of a `Message`.
struct Hello {
  cluster @0 :Text;     # cluster name; non-empty for peers
  node @1 :UInt64;      # sender's node id; != 0 for peers, 0 for clients
  version @2 :UInt32;   # sender's protocol version, >= 1 (this spec: 2)
  address @3 :Text;     # where the sender listens for peers, "host:port" (clients: empty)
  role @4 :Role;        # the role of the connection (absent in old senders = peer)
  refusal @5 :Text;     # non-empty: the connection is refused, and why (the sender closes it)
  refusalCode @6 :UInt16;  # with a refusal: the rumor::errc number (ErrorCode in client.capnp)
  token @7 :Text;       # clients: a bearer token, for nodes that authenticate clients by token
                        # (--client-token-file); send it only over TLS
}

enum Role {
  peer @0;
  client @1;
}

# ---- membership (SWIM with Lifeguard refinements) ----

enum MemberStatus {
  alive @0;
  suspect @1;   # failed a probe; declared dead unless it refutes in time
  dead @2;      # confirmed failed (its data lives on in every replica)
  left @3;      # left gracefully
}

# One member's state as gossiped. For the same member a higher incarnation wins; at equal
# incarnation the more severe status wins (alive < suspect < dead < left).
struct MemberUpdate {
  id @0 :UInt64;            # member's node id, != 0
  address @1 :Text;         # member's peer address, "host:port"
  incarnation @2 :UInt64;   # incremented only by the member itself, to refute suspicion
  status @3 :MemberStatus;
}

# Direct probe. The receiver answers with an `ack` echoing `probe`.
struct Ping {
  probe @0 :UInt64;                 # probe number chosen by the sender
  gossip @1 :List(MemberUpdate);    # piggybacked membership updates (bounded by the sender)
  sentMs @2 :UInt64;                # the sender's physical clock (Unix ms) at sending; 0: none
}

# Answer to a `ping`, or relayed answer to a `pingReq`.
struct Ack {
  probe @0 :UInt64;                 # the probe number being answered
  target @1 :UInt64;                # node that was probed (differs from the sender when relayed)
  gossip @2 :List(MemberUpdate);    # piggybacked membership updates
  echoMs @3 :UInt64;                # direct answers: the ping's sentMs (0: none)
  nowMs @4 :UInt64;                 # direct answers: the answering node's physical clock (Unix ms)
}

# Indirect probe: asks the receiver to ping `target` on the sender's behalf and relay the ack.
struct PingReq {
  probe @0 :UInt64;                 # the sender's probe number, echoed in the relayed ack
  target @1 :UInt64;                # node to probe, != 0
  targetAddress @2 :Text;           # its peer address, "host:port"
  gossip @3 :List(MemberUpdate);    # piggybacked membership updates
}

# Sent to a seed address by a joining node.
struct JoinRequest {
  member @0 :MemberUpdate;          # the joining node itself (id, address, incarnation, status)
}

# The seed's answer: the whole membership as it knows it (the seed included).
struct JoinResponse {
  members @0 :List(MemberUpdate);
}

# ---- data: deltas, anti-entropy, quorum reads, repair ----

# One update of one key, stamped with its replication dot (origin, seq).
struct DeltaEntry {
  origin @0 :UInt64;        # node that made the update, != 0
  seq @1 :UInt64;           # origin's sequence number of the update, >= 1
  key @2 :Data;             # user key
  type @3 :CrdtType;        # type of the key's value (must be known: 1..7)
  hlc @4 :UInt64;           # origin's HLC timestamp at creation: 48-bit Unix ms << 16 | 16-bit
                            # logical counter
  delta @5 :Data;           # the CRDT delta, crdt codec bytes
  deps @6 :List(VvEntry);   # the key's vector at the origin: per origin, the highest update seq
                            # that had touched this key there (for tombstone stability)
}

# Epidemic push of new deltas (of any origin).
struct Push {
  deltas @0 :List(DeltaEntry);  # not written since version 6 (`batch` instead); still read
  wantAck @1 :Bool;         # true: answer `pushAck` once the applied deltas are durably committed
  batch @2 :Data;           # version 6: the deltas in the compact batch form of
                            # replication/delta_batch.hpp (after any in `deltas`)
}

struct PushAck {
  applied @0 :List(VvEntry);   # the receiver's version vector after that commit
}

# Anti-entropy, once per gossip round: "this is what I have applied".
struct SyncRequest {
  vv @0 :List(VvEntry);
  periodic @1 :Bool;  # a periodic round: the responder may leave out the deltas that arrived
                      # there within its entropy_settle_ms (replica.hpp); false: all it lacks
}

# Answer to `syncRequest`: exactly the deltas the requester lacks (bounded), plus the responder's
# own vector so the requester can push back what the responder lacks. Two replicas in sync
# exchange one request and one empty response.
struct SyncResponse {
  vv @0 :List(VvEntry);          # the responder's version vector
  deltas @1 :List(DeltaEntry);   # deltas the requester lacks (bounded)
  more @2 :Bool;                 # true: the answer was cut at its size bound; ask again
  truncated @3 :List(UInt64);    # origins (!= 0) whose needed deltas the responder no longer has
                                 # in its log: the requester must repair by reconciliation
  batch @4 :Data;                # version 6: the deltas in batch form, as in `Push` (`deltas` is
                                 # not written since)
}

# Full state of one stored value.
struct KeyState {
  key @0 :Data;     # user key
  value @1 :Data;   # the stored record: key vector + crdt codec bytes (stored_value.hpp)
}

# Quorum read: every value the receiver stores under `key` (normally one type).
struct ReadRequest {
  id @0 :UInt64;    # request id chosen by the sender, echoed in the response
  key @1 :Data;     # user key
  vectorOnly @2 :Bool;  # answer with the key's vector only (a view of a big set; PROTOCOL.md,
                        # "Consistency per operation"); a node before this field answers with values
}

struct ReadResponse {
  id @0 :UInt64;                # the request id being answered
  values @1 :List(KeyState);    # every stored value of the key (empty: not found, or vectorOnly)
  vectorOnly @2 :Bool;          # an answer to a vectorOnly request
  keyVector @3 :List(VvEntry);  # vectorOnly: the merge of the key vectors of the key's stored types
}

# States to join into the receiver's store (read repair; last steps of reconciliation).
struct StatePush {
  session @0 :UInt64;           # repair/reconciliation session id chosen by the initiator
  states @1 :List(KeyState);    # values to join
  wanted @2 :List(Data);        # user keys whose states the receiver should send back
  wantedHashes @3 :List(UInt64);  # the same, by key hash (KeyHashPair.keyHash); the receiver
                                  # finds the key in the bucket the hash names
}

# ---- reconciliation over stored bucket digests ----

# One cell of an invertible Bloom lookup table over (bucket id, bucket digest) pairs.
struct IbltCell {
  count @0 :Int64;       # number of pairs inserted minus removed
  idSum @1 :UInt64;      # XOR of the bucket ids
  digestSum @2 :UInt64;  # XOR of the bucket digests
  hashSum @3 :UInt64;    # XOR of a hash of each pair (purity check)
}

# Requester -> responder: the requester's bucket digests as an IBLT sized for the expected
# difference.
struct ReconRequest {
  session @0 :UInt64;          # session id chosen by the requester
  cells @1 :List(IbltCell);    # the cells, or empty when packedCells holds them
  packedCells @2 :Data;        # the cells, compactly: per cell zigzag-varint count, varint
                               # idSum, digestSum and hashSum as u64 little-endian. Empty when
                               # `cells` holds them; a receiver accepts either (not both).
}

# A stored key and the hash of its encoded value.
struct KeyHash {
  key @0 :Data;            # user key
  valueHash @1 :UInt64;    # 64-bit hash of the key's encoded value
}

# The keys of one bucket.
struct BucketKeys {
  bucket @0 :UInt32;       # bucket id
  keys @1 :List(KeyHash);
}

# A stored key by its 64-bit key hash (XXH3 of the storage key with the bucket seed; its top
# bucket-bits bits are the key's bucket) and the hash of its encoded value.
struct KeyHashPair {
  keyHash @0 :UInt64;
  valueHash @1 :UInt64;
}

# Responder -> requester: the keys of every bucket that differs (decoded = true), or decoded =
# false when the IBLT was too small (the requester retries with more cells or asks for a full
# transfer).
struct ReconBuckets {
  session @0 :UInt64;            # the requester's session id
  decoded @1 :Bool;
  buckets @2 :List(BucketKeys);  # differing buckets listed with their full keys (used when two
                                 # keys of a bucket share a key hash); empty unless decoded
  hashedBuckets @3 :List(UInt32);     # the other differing buckets, ascending ...
  hashedKeys @4 :List(KeyHashPair);   # ... and every key the responder holds in them, by hash
}

# Full transfer for a new or wiped node: states of keys after `afterKey`, in key order.
struct FullSyncRequest {
  session @0 :UInt64;   # session id chosen by the requester
  afterKey @1 :Data;    # exclusive lower bound (bytewise order); empty: from the first key
}

struct FullSyncChunk {
  session @0 :UInt64;          # the requester's session id
  states @1 :List(KeyState);   # next states in key order (bounded); ask again from the last key
  done @2 :Bool;               # true: no keys after this chunk
}

# ---- repair of a big or_set by its elements (protocol version 5) ----

# Requester -> responder, within a repair session: the requester's elements of one or_set as an
# IBLT of (element id, element hash) pairs: element id = the low 32 bits of XXH3-64 (seed 0) of the
# element's member key, element hash = XXH3-64 of the element record (persistence/FORMAT.md, "or_set
# records"; the record form is the same on every replica). Since protocol version 10 the key may
# also be an or_map's: its elements are its top-level fields, the member key is the field's key
# bytes (map_records.hpp: name key, then type) and the element record is the field record; the
# answer's state is then an or_map of those fields.
struct SetReconRequest {
  session @0 :UInt64;   # the requester's repair session
  key @1 :Data;         # storage key of the set (or map)
  packedCells @2 :Data; # the cells, as ReconRequest.packedCells; empty: send a page instead
  after @3 :Data;       # a page: the elements with member keys after this one ("": from the first)
}

enum SetReconStatus {
  ok @0;         # state holds the sender's elements whose id is in ids, and the set's context
  undecoded @1;  # the difference did not decode: ask again with a bigger table
  absent @2;     # the sender holds no record of the key
  tooBig @3;     # (version 11) the differing elements' records pass the sender's answer limit
                 # (set_recon_max_answer_bytes, 16 MiB): fetch the elements in pages instead
}

# Responder -> requester (session != 0: the answer to that session's SetReconRequest), or the
# requester's last step (session 0: its side of the same elements, to be joined by the receiver).
struct SetReconAnswer {
  session @0 :UInt64;
  key @1 :Data;               # storage key of the set
  status @2 :SetReconStatus;
  ids @3 :List(UInt32);       # the element ids that differ, strictly ascending
  state @4 :Data;             # a stored record (key vector + crdt bytes of an or_set: the
                              # sender's elements with those ids, and the context to join them with)
  more @5 :Bool;              # a page: elements after `last` follow on request
  last @6 :Data;              # a page: the member key of its last element (with more)
  page @7 :Bool;              # the answer to a page request (no cells)
  cells @8 :UInt32;           # the number of cells of the table answered (0 for a page)
  after @9 :Data;             # a page: the request's `after` (the page holds the member keys past it)
  to @10 :UInt64;             # session 0: the node whose answer this completes (any other ignores
                              # it: a wiped node's new identity at the same address)
}

# ---- the linearizable compare-and-set lane (replication/cas_messages.hpp, CAS.md) ----

# A Paxos ballot: ordered by counter, then node. {0, 0} is "none"; real ballots have counter >= 1.
struct Ballot {
  counter @0 :UInt64;
  node @1 :UInt64;
}

# A lane register's value: absent (never written or deleted) or bytes (possibly empty).
struct CasValue {
  union {
    absent @0 :Void;
    bytes @1 :Data;
  }
}

# Phase 1a, proposer -> acceptor: promise to ignore ballots below `ballot`.
struct CasPrepare {
  key @0 :Data;
  ballot @1 :Ballot;
}

# Phase 1b, acceptor -> proposer: promised `ballot` (durably); its last accepted proposal.
struct CasPromise {
  key @0 :Data;
  ballot @1 :Ballot;
  accepted @2 :Ballot;         # zero: nothing accepted yet
  value @3 :CasValue;          # the accepted proposal's value
  lineage @4 :List(Ballot);    # its lineage, newest first (at most cas_max_lineage)
}

# Phase 2a, proposer -> acceptor: accept `value` at `ballot`; with a non-zero `next` (a later
# ballot of the same proposer) accepting also promises `next` (CAS.md, "One round trip").
struct CasAccept {
  key @0 :Data;
  ballot @1 :Ballot;
  value @2 :CasValue;
  lineage @3 :List(Ballot);
  next @4 :Ballot;
}

# Phase 2b, acceptor -> proposer: accepted (durably) the proposal of `ballot`.
struct CasAccepted {
  key @0 :Data;
  ballot @1 :Ballot;
}

# Acceptor -> proposer: refused `ballot`; it has promised `promised`.
struct CasNack {
  key @0 :Data;
  ballot @1 :Ballot;
  promised @2 :Ballot;
}

# Lazy announcement (protocol version 7): the sender has applied each origin's deltas up to the
# seq named (entries with origin != 0, seq != 0, each origin once). replication::ihave.
struct IHave {
  have @0 :List(VvEntry);
}

# ---- the envelope ----

# Root of every frame. Union ordinals 0-16 follow the first alternatives of replication::message,
# 22-24 its last three (the compare-and-set lane took 17-21 first).
struct Message {
  union {
    hello @0 :Hello;
    ping @1 :Ping;
    ack @2 :Ack;
    pingReq @3 :PingReq;
    joinRequest @4 :JoinRequest;
    joinResponse @5 :JoinResponse;
    push @6 :Push;
    pushAck @7 :PushAck;
    syncRequest @8 :SyncRequest;
    syncResponse @9 :SyncResponse;
    readRequest @10 :ReadRequest;
    readResponse @11 :ReadResponse;
    statePush @12 :StatePush;
    reconRequest @13 :ReconRequest;
    reconBuckets @14 :ReconBuckets;
    fullSyncRequest @15 :FullSyncRequest;
    fullSyncChunk @16 :FullSyncChunk;
    # The compare-and-set lane (decode_peer_frame gives these as replication::cas_message).
    casPrepare @17 :CasPrepare;
    casPromise @18 :CasPromise;
    casAccept @19 :CasAccept;
    casAccepted @20 :CasAccepted;
    casNack @21 :CasNack;
    setReconRequest @22 :SetReconRequest;   # protocol version 5
    setReconAnswer @23 :SetReconAnswer;     # protocol version 5
    ihave @24 :IHave;                       # protocol version 7
  }
}
