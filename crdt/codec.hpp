#pragma once
// codec: encodes CRDT values/deltas and causal contexts to bytes and back (crdt.capnp). The only
// code that touches the generated schema types.
//
// Byte forms. encode() writes the compact form for counters and registers and the packed form for
// sets, maps and flags (encode_context: packed); decode*() reads all three.
//   compact:  u8 0x40 | a varint form of the four types whose store is a dot function
//             (codec_compact.hpp). Written since protocol version 3: a one-origin counter is ~20
//             bytes instead of ~63.
//   packed:   u8 codec_packed_marker (0xFF) | a standard packed Cap'n Proto message of the schema
//             (capnp::writePackedMessage: the packed segment table and segments). Skipping the
//             first byte, `capnp decode --packed crdt.capnp Value` (or `Context`) reads it.
//             Empty context lists are left null (read as empty).
//   unpacked: a standard flat Cap'n Proto message (capnp::messageToFlatArray: u32 LE segment
//             count - 1, u32 LE segment sizes, padding, segments). Written by builds before the
//             packed form (protocol version 1); still read, so old data directories, delta logs
//             and context strings stay readable.
// The first byte decides. An unpacked message begins with the low byte of its u32 (segment count
// - 1), and decode reads the unpacked form only with at most codec_max_segments (64) segments —
// older builds never wrote more than a handful (the first segment holds 1024 words, each further
// one at least as much as all before, and a record is at most 64 MiB) — so the first byte of an
// accepted unpacked message is 0x00..0x3F. 0x40 means compact, 0xFF packed; 0x41..0xFE are no
// encoding (errc::decode_error), free for later forms.
//
// Bounds: a packed input unpacks to at most codec_max_unpacked_bytes (64 MiB, the bound of a
// stored record and of a wire frame), checked by a scan before anything is allocated: packing
// turns up to 256 zero words (2 KiB) into 2 bytes, so a short input could otherwise ask for
// gigabytes (a zero-run bomb). A value whose message exceeds that bound is encoded in the
// unpacked form instead, which exceeds every store and frame bound (64 MiB), so it fails there
// (too_large) as it did before packing. Decoding also bounds segments (codec_max_segments),
// traversal (4 × the message's words + 1024) and nesting (or_map depth codec_max_map_depth).
//
// Deterministic: equal values give equal bytes (the same builder calls give the same segment
// layout, and packing is a function of the words). Stored records, and so bucket digests,
// depend on it.
//
// decode*() never throws and never crashes on any input: malformed, truncated or hostile bytes
// give errc::decode_error, an unknown format version errc::unsupported_version. A decoded value
// satisfies every invariant the CRDT types rely on (sorted, unique, each dot under one element or
// field, store ⊆ context).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "crdt/dot_context.hpp"
#include "crdt/value.hpp"

namespace rumor::crdt {

inline constexpr uint16_t codec_format_version = 1;
// Deepest or_map nesting accepted on decode.
inline constexpr int codec_max_map_depth = 16;
// First byte of the packed form.
inline constexpr uint8_t codec_packed_marker = 0xFF;
// Most segments of a message accepted on decode (either form).
inline constexpr uint32_t codec_max_segments = 64;
// Most bytes a packed input may unpack to; larger messages are encoded unpacked.
inline constexpr size_t codec_max_unpacked_bytes = size_t{64} << 20;

// The compact form (codec_compact.hpp) for g_counter, pn_counter, lww_register and mv_register,
// the packed form for every other type.
std::string encode(const value& v);
// The first byte encode() writes for a value of type `t`: 0x40 for counters and registers, 0xFF
// otherwise.
uint8_t current_form_marker(type_tag t);
// The packed form, whatever the type (tools and tests; encode() is what rumor writes).
std::string encode_packed(const value& v);
result<value> decode(std::string_view bytes);

std::string encode_context(const dot_context& c);
result<dot_context> decode_context(std::string_view bytes);

}  // namespace rumor::crdt
