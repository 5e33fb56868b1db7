#pragma once
// stored_value: the record a replica keeps in the store's value table for one storage key.
//   format 2 (written): u8 2 | varint n | n × (u64 LE origin, varint seq), origins strictly
//                       ascending, none 0, no seq 0 (vv_bytes.hpp) | crdt bytes
//   format 3:           an or_set's header (set_records.hpp): or_sets are stored decomposed, and
//                       decode_stored refuses a header (corrupt); a format-2 or_set record (an
//                       older build's) is read and rewritten decomposed on the next change
//   format 4:           an or_map's header (map_records.hpp), the same way
//   format 1 (read):    u8 1 | u32 LE key-vector length | key vector (crdt context encoding:
//                       no cloud, no origin 0) | crdt bytes
// The crdt bytes are crdt::encode's: since protocol version 3 the compact form for
// counters and registers, the packed form for the rest (crdt/codec.hpp); a record of an older
// build holds a packed counter or register, or the unpacked form (still read). A one-origin
// counter's record is about 30-40 bytes (packed: about 75; unpacked: about 165).
// The key vector says, per origin, the highest update sequence that has touched this key as far as
// this replica knows (its own updates, applied deltas and their deps, joined states). A deleted
// key (a value that holds nothing) may be collected once every voting member has applied
// everything in its key vector: then no replica holds, and no delta can bring back, what the
// deletion removed (PROTOCOL.md, "Key deletion").
//
// Records travel as they are stored (key_state), so format 2 keeps the key vector small: about
// 10 bytes per origin instead of the ~48 of a context encoding. Its bytes are a function of
// (key vector, crdt bytes), so equal values have equal records (and equal digest entries).

#include <string>
#include <string_view>

#include "base/result.hpp"
#include "crdt/type_tag.hpp"
#include "crdt/version_vector.hpp"

namespace rumor::replication {

struct stored_value {
  crdt::version_vector kv;
  std::string crdt;  // crdt codec bytes
};

// Always the current format (2).
std::string encode_stored(const crdt::version_vector& kv, std::string_view crdt_bytes);
// Either format. Errors: corrupt (malformed), unsupported_version (unknown format byte).
result<stored_value> decode_stored(std::string_view record);
// True iff `record`, holding a value of type `type`, is in the format encode_stored writes, with
// crdt bytes in the form crdt::encode writes for that type (an older one — format 1, crdt bytes
// in the unpacked form, a counter in the packed form — is rewritten on the next change or join
// of its key, so equal values become byte-equal on every replica).
bool is_current_format(std::string_view record, crdt::type_tag type);

}  // namespace rumor::replication
