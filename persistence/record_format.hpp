#pragma once
// rumor::persistence record format: how one record is framed on disk and how delta-log keys are
// laid out. Described in persistence/FORMAT.md; this file is its executable form. Pure functions,
// no I/O, thread-safe.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "persistence/write_batch.hpp"

namespace rumor::persistence {

// Version of the whole store layout, kept in meta "format_version" (4 bytes, little-endian,
// unframed so that any future layout can still be recognised). open() refuses other versions.
inline constexpr uint32_t store_format_version = 2;

// Every value, delta and (non-reserved) meta record is stored as
//   [u8 record_version][u64 checksum, little-endian][payload]
// with checksum = XXH3_64bits_withSeed(payload, XXH3_64bits(record key)), so a record that is
// damaged, truncated or found under another key fails verification.
inline constexpr uint8_t record_version = 1;
inline constexpr std::size_t record_header_bytes = 9;

// Meta names owned by the store itself; write_batch::put_meta/erase_meta and get_meta refuse them.
inline constexpr std::string_view meta_format_version = "format_version";
inline constexpr std::string_view meta_node_id = "node_id";
// u64 LE, framed: every write-ahead log record up to this lsn is materialized (FORMAT.md).
inline constexpr std::string_view meta_log_applied = "log_applied";

// Returns true iff `name` is one of the reserved meta names above.
bool is_reserved_meta_name(std::string_view name) noexcept;

// Returns ok iff `key` is a usable value key / meta name: non-empty (errc::invalid_argument) and
// at most max_key_bytes (errc::too_large); `what` names it in the message.
status check_key(std::string_view key, std::string_view what);
// check_key for a caller's meta name, which also must not be reserved (errc::invalid_argument).
status check_meta_name(std::string_view name);

// Checksum of `payload` stored under `key`.
uint64_t record_checksum(std::string_view key, std::string_view payload) noexcept;

// Writes the framed record into out[0 .. record_header_bytes + payload.size()).
// REQUIRES: out has room for record_header_bytes + payload.size() bytes.
void frame_record_into(char* out, std::string_view key, std::string_view payload) noexcept;

// Returns the framed record of `payload` under `key`.
std::string frame_record(std::string_view key, std::string_view payload);

// Returns the payload of the framed record `stored` (a view into `stored`), or errc::corrupt
// naming the reason (too short, unknown record version, checksum mismatch).
result<std::string_view> unframe_record(std::string_view key, std::string_view stored);

// Delta-log key: big-endian origin (8 bytes) then big-endian seq (8 bytes), so that byte order
// equals (origin, seq) order and one origin's deltas are contiguous.
inline constexpr std::size_t delta_key_bytes = 16;
std::array<char, delta_key_bytes> delta_key(uint64_t origin, uint64_t seq) noexcept;
// REQUIRES: key.size() == delta_key_bytes.
uint64_t delta_key_origin(std::string_view key) noexcept;
uint64_t delta_key_seq(std::string_view key) noexcept;

// Fixed-width little-endian helpers for meta records.
std::string encode_u32_le(uint32_t v);
std::string encode_u64_le(uint64_t v);
// REQUIRES: bytes.size() >= 4 (resp. 8).
uint32_t decode_u32_le(std::string_view bytes) noexcept;
uint64_t decode_u64_le(std::string_view bytes) noexcept;

}  // namespace rumor::persistence
