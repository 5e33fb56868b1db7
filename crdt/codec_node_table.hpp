#pragma once
// codec_node_table: the node-table form of a compact codec form (codec_compact.hpp) of the four
// dot-function types (not text: its form travels as it is), for frames that carry many deltas at
// once (replication/delta_batch.hpp).
//
// A counter increment's compact delta is ~30 bytes, of which 16 are two copies of one 8-byte node
// id; a frame of a thousand deltas names a handful of nodes. The node-table form is the compact
// form with
//   - its first byte node_table_marker (0x41) instead of codec_compact_marker (0x40), and
//   - every `u64 LE node` of the compact form (version vector entries, cloud groups, store dots
//     not given by reference) written instead as `varint i`: the node is entry i of a table of
//     node ids that the frame carries once.
// Everything else is byte for byte the compact form, so the two convert into each other without
// decoding the value: to_node_table_form and from_node_table_form walk the structure and rewrite
// only the node fields. Both refuse a varint that is not minimal (the compact encoder writes none),
// so a conversion and its reverse give back the same bytes.
//
// Neither conversion checks the value's meaning (order, coverage, counters ≥ 1): the compact
// form that from_node_table_form returns goes through crdt::decode like any other bytes, which
// does. Both check structure: every count bounded by the bytes left, nothing cut off, nothing
// after the value, every table index inside the table; neither throws.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace rumor::crdt {

inline constexpr uint8_t node_table_marker = 0x41;

// Appends the node-table form of the compact form `compact` to `out`; `index_of(node)` gives the
// node's index in the caller's table (adding it if need be). False, with `out` as it was, if
// `compact` is not a structurally valid compact form (then the caller sends it as it is).
bool to_node_table_form(std::string_view compact, std::string& out, const std::function<uint64_t(uint64_t)>& index_of);

// The compact form of a node-table form whose table is `nodes`. decode_error if the bytes are
// cut off, malformed, or name an index outside `nodes`.
result<std::string> from_node_table_form(std::string_view in, const std::vector<uint64_t>& nodes);

}  // namespace rumor::crdt
