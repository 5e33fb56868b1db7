#pragma once
// log_record: the bytes of one delta_record as kept in the store's delta log.
//   u8 format (2) | u8 type tag | u64 LE hlc | u32 LE key length | key |
//   u32 LE deps length | deps (crdt context encoding of a version vector) | crdt delta bytes
// decode_log_record() validates every length and never throws.

#include <string>
#include <string_view>

#include "base/result.hpp"
#include "replication/messages.hpp"

namespace rumor::replication {

std::string encode_log_record(const delta_record& r);
result<delta_record> decode_log_record(std::string_view bytes);

}  // namespace rumor::replication
