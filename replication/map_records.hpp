#pragma once
// map_records: how a replica stores an or_map decomposed, so that one update of a field reads and
// writes only that field's records (issue 21; PROTOCOL.md, "Stored values"). The layout is the
// or_set's (set_records.hpp) with fields for elements:
//   - a *header* in the value table under the map's value key: the set header's layout
//     (set_records::header) with format byte 4; count = number of fields, element hash sum =
//     Σ set_records::element_hash(record) over the field records; the context is the map's.
//   - one *field record* per present field (name, type), in the meta table under
//       "e/" ‖ map id ‖ field_key_bytes(name, type)
//       →  u8 1 | u8 type | varint name length | name | crdt codec bytes of the field's store as a
//          standalone value whose context is exactly the store's dots
//     field_key_bytes = name_key(name) ‖ type byte, where name_key is the name with each 0x00
//     escaped as 0x00 0xFF, then 0x00 (order-preserving and prefix-free: field records are in
//     (name, type) order, the types of one name adjacent), when that is at most max_plain_name
//     bytes; else its first max_plain_name bytes ‖ 0xFF 0xFF ‖ u64 BE XXH3-64 of the name ‖ 0x00
//     (such names order by that prefix, then by hash). Every meta name stays within 500 bytes.
//   - one *dot index record* per dot of a present field (every dot of its nested store), as for
//     sets: "x/" ‖ map id ‖ u64 BE node ‖ u64 BE counter → field_key_bytes.
// map id = set_records::set_id(storage key); the storage key names the type, so a set and a map
// under one user key never share an id. Only top-level fields are records: a nested map or set is
// one field (its update costs in proportion to that field).
//
// Nothing here reads or writes a store.

#include <string>
#include <string_view>

#include "base/result.hpp"
#include "crdt/nested_store.hpp"
#include "crdt/or_map.hpp"
#include "crdt/version_vector.hpp"

namespace rumor::replication::map_records {

inline constexpr uint8_t header_format = 4;

inline bool is_header(std::string_view record) {
  return !record.empty() && static_cast<uint8_t>(record[0]) == header_format;
}

inline constexpr std::size_t max_plain_name = 460;

// The bytes every field record name of fields called `name` starts with (after the map's prefix):
// those records are exactly the names name_key ‖ 0x01 .. name_key ‖ 0x08 (another name's may
// start with name_key too, followed by 0xFF).
std::string name_key(std::string_view name);
// name_key(f.name) ‖ the type byte: the field record's name after set_records::element_prefix.
std::string field_key_bytes(const crdt::field_key& f);

struct field {
  crdt::field_key key;
  crdt::nested_store store;
};
// REQUIRES: `store` is not empty.
std::string encode_field(const crdt::field_key& key, const crdt::nested_store& store);
// Errors: corrupt (malformed, an empty store, or a store of another type than the key's).
result<field> decode_field(std::string_view record);

// An older build's whole-value or_map record, which a key holds until its first write after the
// upgrade migrates it to a header and field records.
struct whole_map {
  crdt::version_vector kv;
  crdt::or_map map;
};
// REQUIRES: !is_header(record). Errors: corrupt (undecodable, or a value that is not an or_map).
result<whole_map> decode_whole_map(std::string_view record);

}  // namespace rumor::replication::map_records
