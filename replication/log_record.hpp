#pragma once
// log_record: the bytes of one delta_record as kept in the store's delta log.
//   format 3 (written): u8 3 | u8 type tag | u64 LE hlc | varint key length | key |
//                       deps (vv_bytes.hpp: varint n | n × (u64 LE origin, varint seq)) |
//                       crdt delta bytes
//   format 2 (read):    u8 2 | u8 type tag | u64 LE hlc | u32 LE key length | key |
//                       u32 LE deps length | deps (crdt context encoding of a version vector,
//                       no origin 0) | crdt delta bytes
// The delta bytes are kept as they came (crdt::encode of this build, or as a peer sent them); the
// codec reads every form it ever wrote. A one-origin counter increment under an 11-byte key is
// about 30 bytes of framing plus the delta (format 2: about 110).
// decode_log_record() validates every length and never throws.

#include <string>
#include <string_view>

#include "base/result.hpp"
#include "replication/messages.hpp"

namespace rumor::replication {

std::string encode_log_record(const delta_record& r);
result<delta_record> decode_log_record(std::string_view bytes);

}  // namespace rumor::replication
