#pragma once
// codec_compact: the compact byte form of the four types whose store is a dot function —
// g_counter, pn_counter, lww_register, mv_register — which crdt::encode writes for them
// (codec.hpp). Internal to the codec; callers use encode/decode.
//
// These are the hottest values of a store and of the wire — one record per counted key or
// register, one delta per update — and their packed Cap'n Proto form is mostly padding around
// three copies of one 8-byte node id. The compact form writes each node id once and every number
// as a varint (LEB128):
//
//   u8  codec_compact_marker (0x40)
//   u8  type tag: 1 g_counter, 2 pn_counter, 3 lww_register, 4 mv_register
//   context, version vector part:
//     varint V | V × (u64 LE node, varint counter ≥ 1)                  nodes strictly ascending
//   context, cloud part, grouped by node:
//     varint G | G × (u64 LE node, varint k ≥ 1, varint c1 ≥ 1, (k − 1) × varint gap ≥ 1)
//                                     nodes strictly ascending; the group's dots are c1, c1 + gap, ...
//   store:
//     varint E | E × (dot, payload)                                     dots strictly ascending
//       dot:     varint r; r < V: the node of version-vector entry r, then varint back, the dot's
//                counter = that entry's counter − back (≥ 1); r = V: u64 LE node, varint counter ≥ 1
//       payload: g_counter: varint total; pn_counter: varint p, varint n;
//                lww_register: u64 LE timestamp (hlc bits), varint length, value bytes;
//                mv_register: varint length, value bytes
//   (nothing after)
//
// The encoder writes a store dot by reference (r < V) exactly when the version vector covers it,
// so equal values have equal bytes. A one-origin counter state is about 20 bytes (packed: ~63),
// an increment delta about 28 (packed: ~75). The decoder refuses (errc::decode_error) anything
// cut off, out of order, zero where ≥ 1 is required, followed by more bytes, or whose context does
// not cover its store, and bounds every count and length by the bytes left before it allocates.

#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "crdt/value.hpp"

namespace rumor::crdt::detail {

inline constexpr uint8_t codec_compact_marker = 0x40;

// True for the four types above, and for text (codec_text.hpp: its only form).
bool has_compact_form(type_tag t);

// The context part of the compact form (the layout above), for the other compact layouts.
void put_compact_context(std::string& out, const dot_context& c);
// Reads a context written by put_compact_context at `at` and advances `at`; errc::decode_error
// when it is malformed.
result<dot_context> get_compact_context(std::string_view in, std::size_t& at);

// The compact form of `v` if its type has one, else nullopt.
std::optional<std::string> encode_compact(const value& v);

// Decodes a compact form (first byte codec_compact_marker) into a value satisfying every invariant
// of its type (store ⊆ context included).
result<value> decode_compact(std::string_view bytes);

}  // namespace rumor::crdt::detail
