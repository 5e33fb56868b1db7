#pragma once
// stored_value: the record a replica keeps in the store's value table for one storage key.
//   u8 format (1) | u32 LE key-vector length | key vector (crdt context encoding) | crdt bytes
// The key vector says, per origin, the highest update sequence that has touched this key as far as
// this replica knows (its own updates, applied deltas and their deps, joined states). A deleted
// key (a value that holds nothing) may be collected once every voting member has applied
// everything in its key vector: then no replica holds, and no delta can bring back, what the
// deletion removed (PROTOCOL.md, "Key deletion").

#include <string>
#include <string_view>

#include "base/result.hpp"
#include "crdt/version_vector.hpp"

namespace rumor::replication {

struct stored_value {
  crdt::version_vector kv;
  std::string crdt;  // crdt codec bytes
};

std::string encode_stored(const crdt::version_vector& kv, std::string_view crdt_bytes);
result<stored_value> decode_stored(std::string_view record);

}  // namespace rumor::replication
