#pragma once
// set_records: how a replica stores an or_set decomposed, so that one update reads and writes
// only the records of the elements it touches (issue 21; PROTOCOL.md, "Stored values").
//
// An or_set under storage key S is
//   - a *header* in the value table, under S's value key (value_layout.hpp), in place of the
//     whole-value record (stored_value.hpp):
//       u8 3 | key vector (vv_bytes) | varint count | u64 LE element hash sum | crdt context
//     count = number of elements; element hash sum = Σ element_hash(record) mod 2^64 over the
//     element records; the context is the set's whole causal context (crdt::encode_context).
//     A function of the state, so equal sets have byte-equal headers on every replica, and the
//     header's value_hash (bucket_digests) — which the reconciliation digests use — changes
//     when any element does.
//   - one *element record* per present element, in the meta table under
//       "e/" ‖ set id ‖ member key          →  u8 1 | varint n | n × (u64 LE node, varint counter) | member
//     with the element's dots ascending;
//   - one *dot index record* per dot of a present element, in the meta table under
//       "x/" ‖ set id ‖ u64 BE node ‖ u64 BE counter  →  member key
//     so that a delta whose context removes dots (a remove names no element) finds their elements.
// set id = XXH3-128 of S, 16 bytes, big-endian. member key = the member itself when it has at most
// max_plain_member bytes; else its first (max_plain_member - 7) bytes ‖ u64 BE XXH3-64 of it
// (481 bytes: a length no plain member key has). Element records are thus in member byte order
// (long members: by their first 473 bytes, then by hash), and every meta name stays within the
// store's 500 bytes. The record carries the whole member; a read checks it.
//
// Nothing here reads or writes a store: these are the byte forms and names (replica_sets.cpp uses
// them).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "crdt/dot_context.hpp"
#include "crdt/dot_set.hpp"
#include "crdt/or_set.hpp"
#include "crdt/version_vector.hpp"

namespace rumor::replication::set_records {

inline constexpr uint8_t header_format = 3;  // the stored-record format byte of a header
inline constexpr std::size_t max_plain_member = 480;

struct header {
  crdt::version_vector kv;  // the key vector (stored_value.hpp)
  uint64_t count = 0;       // elements present
  uint64_t element_sum = 0; // Σ element_hash of their records
  crdt::dot_context ctx;    // the set's causal context
};

// True iff `record` (a value-table record) is a set's header.
inline bool is_header(std::string_view record) {
  return !record.empty() && static_cast<uint8_t>(record[0]) == header_format;
}
// True iff `record` is the header of a decomposed value: a set's (format 3) or a map's (format 4,
// map_records.hpp, the same layout).
inline bool is_decomposed(std::string_view record) {
  return !record.empty() && (static_cast<uint8_t>(record[0]) == header_format || static_cast<uint8_t>(record[0]) == 4);
}
// `format`: header_format, or map_records::header_format.
std::string encode_header(const header& h, uint8_t format = header_format);
// A set's or a map's header. Errors: corrupt.
result<header> decode_header(std::string_view record);

struct element {
  std::string member;
  crdt::dot_set dots;
};
// REQUIRES: `dots` is not empty.
std::string encode_element(std::string_view member, const crdt::dot_set& dots);
// Errors: corrupt (malformed, no dots, or dots not ascending).
result<element> decode_element(std::string_view record);
uint64_t element_hash(std::string_view record);

// Meta names.
std::string set_id(std::string_view storage_key);
std::string member_key(std::string_view member);
std::string element_prefix(std::string_view id);  // "e/" ‖ id: every element record of the set
std::string element_name(std::string_view id, std::string_view member_key);
// The member key an element record's name ends with.
std::string_view member_key_of(std::string_view element_name);
// An element's id in element-level repair (wire.capnp SetReconRequest): the low 32 bits of
// XXH3-64 of its member key. Several members may share one; repair then handles them together.
uint32_t element_id(std::string_view member_key);
std::string dot_prefix(std::string_view id);      // "x/" ‖ id
std::string dot_name(std::string_view id, const crdt::dot& d);
// The dot a dot index record's name (dot_name) ends with; nullopt if the name is too short.
std::optional<crdt::dot> dot_of_name(std::string_view dot_name);

// An older build's whole-value or_set record (stored_value.hpp), which a key holds until its first
// write after the upgrade migrates it to a header and element records.
struct whole_set {
  crdt::version_vector kv;
  crdt::or_set set;
};
// REQUIRES: !is_header(record). Errors: corrupt (undecodable, or a value that is not an or_set).
result<whole_set> decode_whole_set(std::string_view record);

}  // namespace rumor::replication::set_records
