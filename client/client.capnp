@0x96b2b7105b60f6b7;
# rumor client protocol — the client-to-node wire spec (protocol version 5, the version of the
# hello, replication/wire.capnp; a node also accepts version 4 clients and answers their hello
# with version 4: version 5 adds the text type and the splice operation, nothing else). docs/protocol.md is the guide: handshake, errors, ordering,
# absent keys, reading values, contexts. A client opens a TCP connection to a node's listener and
# sends a replication `Message` whose member is a `hello` with role = client (cluster may be
# empty, node 0, address empty; a client's `node` is ignored). The node checks it and answers
# with its own hello (role = client: accepted) or a refusal hello saying why, then closes
# (wire.capnp, "handshake"). From then on every frame, both ways, is one standard, unpacked Cap'n
# Proto message (segment table + segments) whose root is a `ClientMessage`. Frames are at most
# 64 MiB including their segment table (the 8-byte header of a one-segment frame counts) and at
# most 512 segments.
#
# Errors. A request the node can read but not carry out gets a `response` with an error code
# (invalidArgument: empty key, an operation whose `type` is not the one it implies, ...). A
# request the node cannot read (a well-formed ClientMessage holding a request with an enumerant,
# request kind or field value it does not know or accept, e.g. type = unknown) gets a `response`
# with decodeError and its message. Either way the connection and the other requests on it go
# on. The node closes the connection, losing what is pipelined on it, only for frames that are not
# a well-formed ClientMessage (bad framing, bad pointers, over the limits) and for a client that
# sends a `response` or an `event`.
#
# The client sends `request`s; the node sends one `response` per request (matched by id, possibly
# out of order: a majority write may finish after a later local read) and, for an active watch,
# `event`s. Requests may be pipelined (sent without waiting for earlier responses).
#
# The C++ mirror of every struct below is client/client_messages.hpp (client/client_codec.hpp
# converts; it is the only code that sees these generated types).
#
# Evolution rules: append fields, union members and enumerants with the next ordinal only; never
# change an ordinal, type or default; never delete a field (stop using it). A receiver refuses a
# frame whose union member or enumerant it does not know (decode error), so a new request kind,
# op kind or error code may only be sent to a peer whose hello version says it knows it.
#
# Conventions:
#   - Keys, field names, set members and register values are raw bytes (`Data`); the node checks
#     the key rules (1..256 bytes, no NUL), the codec does not.
#   - Values are crdt codec bytes: the byte 0xFF followed by one standard packed Cap'n Proto
#     message (packed segment table + segments) whose root is crdt/crdt.capnp `Value`; the type
#     is the `Value` union's member, not a prefix byte (`tail -c +2 | capnp decode --packed
#     crdt.capnp Value` reads it). Causal contexts are the same with root `Context`; an empty
#     byte string is the empty context. Nodes also read the older unpacked form (a standard
#     framed message, first byte 0x00..0x3F) and never write it. Both are opaque at this layer. Since
#     version 2 a node writes them in the packed form (crdt/codec.hpp); it still reads contexts in
#     the unpacked form of version 1.
#   - Lists are in no particular order unless a field says otherwise.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("rumor::client::wire");

# ---- enumerations ----

# Consistency of one request. Writes: acknowledged after the local durable commit (local), after a
# majority of the members / every member applied the update (majority / all). Reads: answered
# from the local replica (local), or after querying and joining that many replicas' states.
enum Consistency {
  local @0;
  majority @1;
  all @2;
}

# CRDT type of a value. Same numbers as crdt/crdt.capnp TypeTag (and crdt/type_tag.hpp); `unknown`
# (0) and values this build does not know are refused.
enum CrdtType {
  unknown @0;
  gCounter @1;
  pnCounter @2;
  lwwRegister @3;
  mvRegister @4;
  orSet @5;
  orMap @6;
  ewFlag @7;
  text @8;        # (version 5) collaborative text (crdt/text.hpp)
}

# The operation of an `UpdateRequest` (client_messages.hpp op_kind).
enum OpKind {
  counterAdd @0;    # gCounter (amount >= 0) or pnCounter: += amount
  registerSet @1;   # lwwRegister := value
  mvPut @2;         # mvRegister := value, superseding `context` (if present); conditional: fail
                    # with `conflict` when anything was written since that context
  setAdd @3;        # orSet += members
  setRemove @4;     # orSet -= members (the additions observed by the node)
  flagSet @5;       # ewFlag := flag
  removeKey @6;     # delete the key (every type stored under it), or with a non-empty path the
                    # last field of the path (type = that field's type)
  splice @7;        # (version 5) text: replace `deleteCount` codepoints at codepoint `position`
                    # with `value` (UTF-8); conditional: fail with `conflict` when the text
                    # changed since `context` was read
}

# Outcome of a request. Same numbers as rumor::errc (include/rumor/error.hpp); values this build
# does not know are refused.
enum ErrorCode {
  ok @0;
  invalidArgument @1;     # malformed request (empty key, bad path, negative g-counter amount)
  typeMismatch @2;        # operation of one CRDT type on a key (or field) of another
  conflict @3;            # conditional mvPut whose context is stale; `values` = current siblings
  decodeError @4;         # bytes that are not a valid encoding
  overflow @5;            # a counter or clock would overflow
  clockDrift @6;          # a timestamp too far ahead of the node's clock
  notFound @7;            # not sent by nodes of this version (an absent key answers ok with no
                          # values)
  ioError @8;             # the node's storage reported an I/O failure
  mapFull @9;             # the node's storage is full
  corrupt @10;            # a stored record failed its checksum or decoding
  unsupportedVersion @11; # data or protocol of a version the node does not understand
  busy @12;               # resource held by someone else
  timeout @13;            # the consistency level was not reached in time (the update is durable
                          # locally and may still spread)
  unavailable @14;        # not enough peers / node not ready
  tooLarge @15;           # a value, key or frame exceeds its bound
  unauthenticated @16;    # the connection's credentials were refused (hello refusals only)
}

# A member's state (replication/wire.capnp MemberStatus).
enum MemberStatus {
  alive @0;
  suspect @1;
  dead @2;
  left @3;
}

# ---- requests ----

# One update of one key.
struct UpdateRequest {
  key @0 :Data;              # user key
  path @1 :List(Data);       # nested orMap field names, outermost first; empty: the key itself.
                             # With path = [a, b] the key holds an orMap whose field (a, orMap)
                             # holds an orMap whose field (b, `type`) gets the operation.
  op @2 :OpKind;
  type @3 :CrdtType;         # type of the value the operation applies to (must be known: 1..7,
                             # and the one the op implies: registerSet lwwRegister, mvPut
                             # mvRegister, setAdd/setRemove orSet, flagSet ewFlag, counterAdd
                             # gCounter or pnCounter; else invalidArgument). removeKey with an
                             # empty path: any known type, ignored (every type under the key
                             # goes); with a path: the type of the field it removes.
  amount @4 :Int64;          # counterAdd: the amount (may be negative for pnCounter)
  value @5 :Data;            # registerSet, mvPut: the new value
  members @6 :List(Data);    # setAdd, setRemove: the members
  flag @7 :Bool;             # flagSet: the new flag value
  context @8 :Data;          # mvPut: a causal context from an earlier read (crdt codec context
                             # bytes). Absent (null pointer) = no context; present and empty =
                             # the empty context.
  conditional @9 :Bool;      # mvPut: fail with `conflict` if the context is stale; the node
                             # refuses it without a context (invalidArgument)
  returnValue @10 :Bool;     # (version 4) the response's `values` hold the key's value after the
                             # update. Without it they do only for a gCounter, pnCounter,
                             # lwwRegister, mvRegister or ewFlag key updated without a path; an
                             # orSet, orMap or text key's value grows with the collection, so its
                             # update answers with `outcome` only.
  position @11 :UInt64;      # (version 5) splice: the codepoint position (0 .. the text's length)
  deleteCount @12 :UInt64;   # (version 5) splice: codepoints to delete from `position` on
}

# Read one key: the response's `values` hold every value stored under it (normally one). A key
# that is absent, never written or deleted alike, answers ok with no values (never notFound);
# `keys` does not list it either.
#
# (Version 4) Parts of a collection, without reading or sending the whole of it:
#   - `path` reads nested orMap fields: with path = [a, b] the key holds an orMap whose field
#     (a, orMap) holds an orMap; `values` hold every field called b in it (one per type), and
#     the views below apply to the field (b, orSet) or (b, orMap).
#   - `view` = member / size / page answers in the response's `collection` (values stay empty);
#     an absent key or field is an empty collection (type unknown, size 0). A key (or field) of
#     another type than orSet / orMap answers typeMismatch.
# The consistency level applies as for whole reads (majority: the joined value is viewed).
struct GetRequest {
  key @0 :Data;
  path @1 :List(Data);       # nested orMap field names, outermost first; empty: the key itself
  view @2 :ViewKind;
  member @3 :Data;           # view = member: the orSet member (orMap: the field name) to look for
  after @4 :Data;            # view = page: start after this member / field name; null: the first
  limit @5 :UInt32 = 1000;   # view = page: at most this many members / field names (1..100000)
}

enum ViewKind {
  value @0;     # the value(s), in `values` (the whole read, as before version 4)
  member @1;    # collection.contains: whether `member` is in the orSet / a field name of the orMap
  size @2;      # collection.size: members of the orSet / fields of the orMap
  page @3;      # collection.members (orSet) or .fields (orMap): the next `limit` after `after`
}

# List keys starting with `prefix` (bytewise order), at most `limit` of them. The node reads every
# key it stores to answer (values are kept in hash order): an administrative listing.
struct KeysRequest {
  prefix @0 :Data;           # empty: every key
  limit @1 :UInt32 = 1000;
}

# Stream an `event` for every change of a key starting with `prefix` (made locally or arriving
# from peers), until an `unwatch` naming this request's id or the connection closes. The response
# to the watch request confirms it is active.
struct WatchRequest {
  prefix @0 :Data;           # empty: every key
  setChanges @1 :Bool;       # an or_set's events carry `setChanges`, and its whole `value` only
                             # while it has at most 1,000 members (else `valueOmitted`). false (and
                             # nodes before this field): every event carries the whole value
  fieldChanges @2 :Bool;     # the same for an or_map's events and its fields (`setChanges` of type
                             # orMap). false (and nodes before this field): a map's events carry
                             # the whole value and no `setChanges`
}

# Stop the watch started by request `watchId`.
struct UnwatchRequest {
  watchId @0 :UInt64;
}

# List the cluster members as the node knows them (response `memberList`).
struct MembersRequest {}

# The node's own state (response `node`).
struct StatusRequest {}

struct Request {
  id @0 :UInt64;                  # chosen by the client (unique among its pending requests);
                                  # echoed in the response
  level @1 :Consistency;
  timeoutMs @2 :UInt32 = 5000;    # for majority / all: how long the node waits
  body :union {
    update @3 :UpdateRequest;
    get @4 :GetRequest;
    keys @5 :KeysRequest;
    watch @6 :WatchRequest;
    unwatch @7 :UnwatchRequest;
    members @8 :MembersRequest;
    status @9 :StatusRequest;
    cas @10 :CasRequest;
    lget @11 :LgetRequest;
  }
}

# The linearizable compare-and-set lane (replication/CAS.md): registers in a key namespace of
# their own. Sets `key` to `value` iff it holds `expected`; a null pointer means "absent" for
# `expected` (the key must not exist) and "delete" for `value`. The consistency level is ignored
# (always linearizable). On `conflict` the response's values hold the current value (none:
# absent); values are the register's raw bytes.
struct CasRequest {
  key @0 :Data;
  expected @1 :Data;
  value @2 :Data;
}

# Linearizable read of a lane key: values = [the value], or none when absent.
struct LgetRequest {
  key @0 :Data;
}

# ---- responses ----

struct KeyValue {
  key @0 :Data;                   # user key
  value @1 :Data;                 # crdt codec bytes of the value (see Conventions)
  context @2 :Data;               # an mvRegister value in a get, update or conflict response: its
                                  # siblings' dots as crdt codec context bytes, what a later mvPut
                                  # supersedes (and a conditional one checks). Pass it unchanged as
                                  # UpdateRequest.context. Absent for the other types (no operation
                                  # takes their context), for cas/lget, and from older nodes.
}

struct KeyType {
  key @0 :Data;                   # user key
  type @1 :CrdtType;              # the type of its value (must be known: 1..7)
}

struct MemberInfo {
  id @0 :UInt64;                  # node id
  address @1 :Text;               # its peer address, "host:port"
  status @2 :MemberStatus;
  incarnation @3 :UInt64;
}

# How far one peer is behind this node.
struct PeerLag {
  id @0 :UInt64;                  # the peer's node id
  behind @1 :UInt64;              # deltas this node has that the peer's last known vector lacks
  lagMs @2 :UInt64;               # age of the oldest of them, milliseconds (0: none)
}

struct NodeStatus {
  node @0 :UInt64;                # node id
  address @1 :Text;               # its peer address, "host:port"
  cluster @2 :Text;               # cluster name
  readiness @3 :Text;             # "loading", "joining", "ready", "stopping", "failed"
  keys @4 :UInt64;                # keys stored
  deltaLog @5 :UInt64;            # deltas not yet acknowledged by every member
  localUpdates @6 :UInt64;        # updates made at this node since it started
  remoteApplied @7 :UInt64;       # deltas of other origins applied since it started
  peers @8 :List(PeerLag);
  tombstones @9 :UInt64;          # deleted keys stored, waiting for collection (causal stability)
  tombstonesCollected @10 :UInt64;  # tombstones collected since the node started
  casVoters @11 :UInt32;          # voters of the compare-and-set lane; 0: the lane is disabled
  # The store's write-behind (persistence/FORMAT.md): updates acknowledged on the write-ahead log
  # and held in memory until materialized into the B-trees.
  writeBehindBytes @12 :UInt64;   # bytes held in memory, not yet materialized
  logBacklog @13 :UInt64;         # write-ahead log records (commit groups) not yet materialized
  checkpoint @14 :UInt64;         # the last log record materialized (its sequence number)
  lastMaterializeMs @15 :UInt64;  # how long the last materialization took
  writeBehindError @16 :Text;     # why materialization fails (e.g. map full); empty when it works
  storageError @17 :Text;         # why writes are refused (the store or disk is full); empty: accepted
  clockDriftRefusals @18 :UInt64; # peer clock readings refused as too far ahead of ours, since start
  clockError @19 :Text;           # why local writes are refused (this node's clock is ahead); empty: not
  security @20 :Text;             # who may connect: "tls", "tls+token", "token", or "none" (plaintext,
                                  # anyone; empty from older nodes)
}

# The answer to one request. `code` says what failed (ok = success); the other fields depend on
# the request kind.
struct Response {
  id @0 :UInt64;                  # the id of the request being answered
  code @1 :ErrorCode;
  message @2 :Text;               # human-readable, for errors
  values @3 :List(KeyValue);      # get: the key's value(s) (or the fields' at `path`); update:
                                  # the value after it (see returnValue); conflict: the current
                                  # value (its siblings)
  keyList @4 :List(KeyType);      # keys: in key order
  memberList @5 :List(MemberInfo);   # members
  node @6 :NodeStatus;            # status: present (non-null pointer); absent otherwise
  collection @7 :CollectionView;  # (version 4) get with view member / size / page: present
  outcome @8 :UpdateOutcome;      # (version 4) a successful update: present
}

# A part of the orSet or orMap a get with a view names.
struct CollectionView {
  type @0 :CrdtType;              # orSet or orMap; unknown (0): nothing is stored there
  size @1 :UInt64;                # members (orSet) or fields (orMap), always set
  contains @2 :Bool;              # view = member
  members @3 :List(Data);         # view = page of an orSet: members after `after`, ascending bytes
  fields @4 :List(KeyValue);      # view = page of an orMap: key = field name, value = the field's
                                  # crdt codec bytes; names after `after` in ascending byte order,
                                  # a name with several types once per type (a page never splits
                                  # the types of one name, so it may hold up to 6 more than limit)
  more @5 :Bool;                  # view = page: more follow; ask again with after = the last name
}

# What an update did.
struct UpdateOutcome {
  changed @0 :UInt64;             # splice: codepoints deleted plus codepoints inserted;
                                  # setAdd: members that were not present and now are; setRemove:
                                  # members that were present and no longer are; an update with a
                                  # path: 1 if the path's last field appeared (or, for removeKey,
                                  # disappeared), else 0; removeKey of a key: 1 if it held a value;
                                  # other updates: 0
  size @1 :UInt64;                # after the update: a text's codepoints (splice), the set's
                                  # members (setAdd, setRemove), or the
                                  # fields of the map holding the path's last field; else 0
}

# ---- events ----

# A change seen by a watch.
struct Event {
  watchId @0 :UInt64;             # the id of the watch request
  key @1 :Data;                   # user key
  value @2 :Data;                 # crdt codec bytes of the key's value after the change (empty:
                                  # deleted / none)
  origin @3 :UInt64;              # node that made the update (0: a repair / state transfer)
  setChanges @4 :SetChanges;      # watches with setChanges, or_set and or_map keys: what the
                                  # change did to the members or fields (absent: not known, e.g.
                                  # another type)
  valueOmitted @5 :Bool;          # `value` is empty because the set (map) has over 1,000 members
                                  # (fields; read it in pages), not because the key is gone
}

# What changes of an or_set did to its members, for one event: the members that joined and that
# left since the key's previous event, each once, at most 1,000 in all (`complete` false: more
# changed than are listed; read the set to know them). For an or_map the same of its field names:
# fields that appeared (added), went (removed), or were written while present before and after
# (changed; read them with a path get). A name holding fields of two types is listed once per
# type that changed.
struct SetChanges {
  size @0 :UInt64;                # members (an or_map: fields) after the change
  added @1 :List(Data);
  removed @2 :List(Data);
  complete @3 :Bool;
  changed @4 :List(Data);         # an or_map's fields present before and after, written since
  type @5 :CrdtType;              # orSet or orMap; unknown (older nodes: only sets): orSet
}

# ---- the envelope ----

# Root of every frame after the hellos. Union ordinals follow the alternatives of
# rumor::client::client_message.
struct ClientMessage {
  union {
    request @0 :Request;
    response @1 :Response;
    event @2 :Event;
  }
}
