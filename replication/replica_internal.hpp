#pragma once
// Private to replication/replica*.cpp: the helpers the parts of `replica` share — the names of the
// replica's meta records, their integer and vector encodings, and the dead-dot rule of key
// deletion. Not part of the library's interface; nothing outside replica*.cpp includes it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "base/varint.hpp"
#include "crdt/codec.hpp"
#include "crdt/value.hpp"
#include "replication/messages.hpp"

namespace rumor::replication::detail {

// Meta record names (persistence meta table). See PROTOCOL.md, "Persistent state".
constexpr std::string_view meta_vv = "r/vv";            // applied version vector
constexpr std::string_view meta_truncated = "r/trunc";  // delta log truncated up to (per origin)
constexpr std::string_view meta_hlc = "r/hlc";          // last HLC timestamp, u64 LE
constexpr std::string_view meta_members = "r/members";  // membership snapshot (join_response)
constexpr std::string_view meta_bootstrapped = "r/boot";  // present once the first full sync is done
constexpr std::string_view meta_reaped = "r/reaped";    // members reaped from the table (ids -> 1)
constexpr std::string_view meta_digest = "d/";          // + bucket (u32 BE) -> digest (u64 LE)
constexpr std::string_view meta_tombstone = "t/";       // + storage key: the value holds nothing (deleted)

// Big-endian u32 (bucket numbers in meta record names sort in bucket order).
inline std::string be32(uint32_t v) {
  std::string s;
  put_u32be(s, v);
  return s;
}

// Little-endian u64 (hashes, digests, the HLC time), and back: nullopt unless exactly 8 bytes.
inline std::string le64(uint64_t v) {
  std::string s;
  put_u64le(s, v);
  return s;
}

inline std::optional<uint64_t> read_le64(std::string_view s) {
  std::size_t at = 0;
  return s.size() == 8 ? get_u64le(s, at) : std::nullopt;
}

// True iff `v` is a window onto a bigger set or map (replica::update's `touches`): not the key's
// value, so never returned as one.
inline bool is_window(const crdt::value& v) {
  if (const auto* m = v.get_if<crdt::or_map>()) return m->hidden() > 0;
  const auto* s = v.get_if<crdt::or_set>();
  return s && s->hidden() > 0;
}

// A version vector as a dot context without loose dots (crdt codec), and back.
inline std::string encode_vv(const version_vector& vv) {
  return crdt::encode_context(crdt::dot_context::from_parts(vv, {}));
}

inline result<version_vector> decode_vv(std::string_view bytes) {
  auto c = crdt::decode_context(bytes);
  if (!c) return c.err();
  if (!c->cloud().empty()) return error{errc::corrupt, "stored version vector has loose dots"};
  return c->compact_part();
}

// The dead-dot rule of key deletion (defined in replica_tombstones.cpp).
// The dead dots of `v` (key vector `kv`) by the word of a replica that had applied `authority`
// and holds `theirs` (nullptr: not the key): the dots of every origin whose updates in `kv` it had
// all applied, that it does not hold. Such a dot was made by an update that replica applied, and
// every update a replica applied is reflected in its state or dead (PROTOCOL.md, "Key deletion").
std::vector<crdt::dot> dead_dots(const crdt::value& v, const version_vector& kv, const version_vector& authority,
                                 const crdt::value* theirs);

// Removes `dead` from v's store (and records them in its context). Returns true iff any was held.
bool kill(crdt::value& v, const std::vector<crdt::dot>& dead);

}  // namespace rumor::replication::detail
