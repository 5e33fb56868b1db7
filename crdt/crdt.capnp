@0xabba68cecec5824c;
# rumor CRDT encoding — the on-disk and on-wire spec of CRDT values and deltas (a delta is encoded
# exactly like a value of its type). Format version 1. The bytes are a packed message of this
# schema behind a one-byte marker, or (older data) an unpacked one: crdt/codec.hpp.
#
# Evolution rules: append fields with the next ordinal only; never change an ordinal, type or
# default; never delete a field (stop using it). A reader refuses formatVersion values it does not
# know with a clear error.
#
# Semantics (see the crdt/*.hpp headers): every value is a "causal CRDT" = a dot store plus the
# dot context of every event the replica has seen (Almeida et al., delta-state CRDTs). Invariant
# checked on decode: every dot of the store is in the context.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("rumor::crdt::schema");

# One event: (node id, per-node counter >= 1). The counter is not 1, 2, 3 ...: a node's first event
# in a key starts at its hybrid-logical-clock time (so that a key re-created after its tombstone
# was collected never reuses a dot), and later ones count up from there. Compare counters of one
# node only; their size means nothing else.
struct Dot {
  node @0 :UInt64;
  counter @1 :UInt64;
}

# The set of seen events: a version vector (every counter 1..c of node n) plus loose dots.
struct DotContext {
  compact @0 :List(Dot);   # (node, c) entries, at most one per node, c >= 1
  cloud @1 :List(Dot);     # dots not contiguous with `compact`
}

enum TypeTag {
  unknown @0;
  gCounter @1;
  pnCounter @2;
  lwwRegister @3;
  mvRegister @4;
  orSet @5;
  orMap @6;
  ewFlag @7;
  text @8;       # only in the compact form (codec_text.hpp), never in a Store
}

# Counter dot: the node's running total at that dot. A node has at most one entry (each increment
# replaces its previous one); the counter's value is the sum of every entry's total.
struct CounterEntry {
  dot @0 :Dot;
  total @1 :UInt64;
}

# PN-counter dot: the node's running increment (p) and decrement (n) totals, at most one entry per
# node; the value is the sum over entries of p - n.
struct PnEntry {
  dot @0 :Dot;
  p @1 :UInt64;
  n @2 :UInt64;
}

# LWW write: HLC timestamp (48-bit ms << 16 | 16-bit logical) and the bytes written. Concurrent
# writes all stay until a later write sees them; the register reads as the entry with the
# greatest (timestamp, dot.node, dot.counter), compared in that order as unsigned numbers.
struct LwwEntry {
  dot @0 :Dot;
  timestamp @1 :UInt64;
  value @2 :Data;
}

# MV-register write. The register reads as every entry's value (the siblings: writes none of
# which saw the others), in no significant order; one entry when there is no conflict.
struct MvEntry {
  dot @0 :Dot;
  value @1 :Data;
}

# OR-set element and the dots of the adds that keep it present (non-empty). The set reads as the
# elements of its entries, which are in ascending byte order.
struct SetEntry {
  element @0 :Data;
  dots @1 :List(Dot);
}

# OR-map field: (name, type) where the type is the discriminant of `store`.
struct MapField {
  name @0 :Data;
  store @1 :Store;
}

# The dot store of one value or one map field; the union member is the type.
struct Store {
  union {
    gCounter @0 :List(CounterEntry);
    pnCounter @1 :List(PnEntry);
    lwwRegister @2 :List(LwwEntry);
    mvRegister @3 :List(MvEntry);
    orSet @4 :List(SetEntry);
    orMap @5 :List(MapField);
    ewFlag @6 :List(Dot);       # the flag is on iff this list is non-empty (enable wins)
  }
}

# A whole value or delta.
struct Value {
  formatVersion @0 :UInt16;   # 1
  type @1 :TypeTag;           # must match the union member of `store`
  context @2 :DotContext;
  store @3 :Store;
}

# A causal context on its own (what mvget hands to a client for a later conditional put).
struct Context {
  formatVersion @0 :UInt16;   # 1
  context @1 :DotContext;
}
