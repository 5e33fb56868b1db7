#pragma once
// rumor::persistence::wal_record — the payload of one write-ahead log record: every operation of
// one commit group, in order (persistence/FORMAT.md, "Write-ahead log"). Pure functions, no I/O,
// thread-safe.
//
//   u8 wal_record_version (= 1)
//   repeated until the end: u8 op_kind | varint key length | key | varint data length | data |
//                           (append_delta, truncate_deltas only) varint origin | varint seq
//
// Varints are LEB128 (7 bits per byte, low bits first, at most 10 bytes).

#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "persistence/write_batch.hpp"

namespace rumor::persistence {

inline constexpr uint8_t wal_record_version = 1;

// Appends the encoding of `group` to `out` (which it clears first).
void encode_wal_record(std::span<const write_batch> group, std::string& out);

// Decodes `payload` into `out` (appending). Errors: errc::corrupt naming what is malformed
// (unknown version or operation kind, a length past the end, an over-long varint).
status decode_wal_record(std::string_view payload, write_batch& out);

// Calls visit(op) for each operation of `payload` in order, without copying: op views
// `payload`. Stops at the first malformed operation with the error decode_wal_record gives
// (the operations before it have been visited).
status visit_wal_record(std::string_view payload, const std::function<void(const write_op&)>& visit);

}  // namespace rumor::persistence
