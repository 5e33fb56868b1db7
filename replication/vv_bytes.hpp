#pragma once
// vv_bytes: the compact byte form of a version vector shared by stored_value and log_record
// records:
//   varint n | n × (u64 LE origin, varint seq), origins strictly ascending, none 0, no seq 0
// Varints are LEB128 (7 bits a byte, low first, at most 10 bytes for 64 bits). Node ids are
// random 64-bit values, so they are written whole; sequences are small, so they are varints:
// about 10 bytes per origin.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/varint.hpp"
#include "crdt/version_vector.hpp"

namespace rumor::replication::vv_bytes {

using rumor::get_u64le;
using rumor::get_varint;
using rumor::put_u64le;
using rumor::put_varint;

inline void put_vv(std::string& out, const crdt::version_vector& vv) {
  put_varint(out, vv.size());
  for (const auto& [node, seq] : vv.entries()) {
    put_u64le(out, node);
    put_varint(out, seq);
  }
}

// True iff put_vv writes `vv` in a form get_vv accepts: no origin 0 (a version_vector keeps its
// origins ascending and its seqs >= 1 itself). The older record formats carried a vector as a crdt
// context, which allows origin 0; their decoders refuse such a vector with this, so every record
// they accept can be rewritten in the current format and read back (found by fuzz_stored_record).
inline bool writable(const crdt::version_vector& vv) { return vv.get(0) == 0; }

enum class vv_status { ok, overrun, invalid };

// Reads a version vector at `at` into `out` (empty), advancing `at`. overrun: cut off (or a count
// that cannot fit the rest of `in`); invalid: an origin 0, a seq 0 or origins not strictly
// ascending.
inline vv_status get_vv(std::string_view in, size_t& at, crdt::version_vector& out) {
  auto n = get_varint(in, at);
  if (!n || *n > (in.size() - at) / 9) return vv_status::overrun;
  uint64_t prev = 0;
  for (uint64_t i = 0; i < *n; ++i) {
    auto node = get_u64le(in, at);
    if (!node) return vv_status::overrun;
    auto seq = get_varint(in, at);
    if (!seq) return vv_status::overrun;
    if (*node == 0 || *seq == 0 || (i > 0 && *node <= prev)) return vv_status::invalid;
    out.set(*node, *seq);
    prev = *node;
  }
  return vv_status::ok;
}

}  // namespace rumor::replication::vv_bytes
