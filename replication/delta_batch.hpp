#pragma once
// delta_batch: the compact byte form of a list of delta entries, as `push` and `sync_response`
// carry them on the wire since protocol version 6 (wire.capnp `Push.batch`,
// `SyncResponse.batch`).
//
// One Cap'n Proto DeltaEntry per delta spent ~100 bytes of words, pointers and padding around a
// counter increment, and repeated the origin's 8-byte node id four times (entry, deps, and twice
// in the CRDT delta). A batch writes each node id once, in a table, and each field of an entry
// relative to the entry before it, since deltas that travel together are neighbours in time:
//
//   batch  := u8 format (2; 1 is read too: no entry of it has head bit 6)
//             varint N | N × u64 LE node id          the node table: no node twice (0 only
//                                                    inside CRDT deltas: never as an origin or
//                                                    in deps)
//             varint E | E × entry
//   entry  := u8 head                                bits 0-5: CRDT type tag (1..7);
//                                                    bit 6: deps relative (below);
//                                                    bit 7: the delta is in node-table form
//             varint origin                          index into the node table
//             varint zigzag(seq − seq before)        the entry before's seq; 0 before the first
//             varint zigzag(hlc − hlc before)        likewise (differences wrap modulo 2^64)
//             varint shared                          leading bytes of the entry before's key that
//                                                    this key starts with (first entry: 0)
//             varint m | m bytes                     the rest of the key
//             varint d | d × (varint node index, varint zigzag(seq − dep seq))
//                                                    deps, node ids strictly ascending; with
//                                                    head bit 6, instead the entries in which
//                                                    they differ from the deps of the last
//                                                    earlier entry of the same key (which must
//                                                    exist): (index, zigzag(dep − that dep)),
//                                                    an absent entry counting as 0, never 0 (a
//                                                    result of 0 removes the entry)
//             varint length | delta bytes            node-table form (crdt/codec_node_table.hpp)
//                                                    for counters and registers in the compact
//                                                    form, else the crdt codec bytes as they are
//   zigzag(x) = (x << 1) ^ (x >> 63) of x as a signed 64-bit number
//
// A counter increment under an 11-byte key that follows another one's is ~30 bytes in a batch
// (one DeltaEntry: ~128). Deps (the key's vector at the origin) grow with the number of nodes
// that write the key; written in full they cost ~3 bytes per writer, so format 2 writes them,
// for every entry but a key's first in the batch, as the change from that key's entry before
// (16 writers on 200 keys: ~70 bytes per delta in full). The encoder writes what
// decode_delta_batch reads back as equal entries.
//
// decode_delta_batch never throws. It refuses (errc::decode_error) a batch that is cut off, has
// bytes after its last entry, another format, a node id twice in the table, an index outside
// the table, an origin (node id) or seq of 0, a type tag outside 1..7, a key sharing more than the key
// before has, deps not strictly ascending or with a seq of 0, relative deps without an earlier
// entry of the key or with a change of 0, or a delta in node-table form that does not convert.
// Keys and deltas are otherwise checked by the replica, as with every delta (the codec passes any
// bytes, as the DeltaEntry list did). Since a shared key prefix or an unchanged deps entry costs
// at most a byte, the decoded keys, deltas and deps (16 bytes per deps entry) together may not
// exceed 32 × the batch's bytes + 4 KiB; the encoder stops sharing prefixes and writing relative
// deps while that sum would pass 16 × what it has written. So a frame cannot make its receiver
// allocate without bound.

#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "replication/messages.hpp"

namespace rumor::replication {

inline constexpr uint8_t delta_batch_format = 2;

// Appends the batch form of `entries` to `out` (which may hold other bytes before).
void encode_delta_batch(const std::vector<delta_entry>& entries, std::string& out);

// The entries of a batch, in order.
result<std::vector<delta_entry>> decode_delta_batch(std::string_view bytes);

}  // namespace rumor::replication
