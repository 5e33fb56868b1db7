#pragma once
// codec_text: the byte form of a text value (crdt/text.hpp) — its only form, written by
// crdt::encode and read by crdt::decode. Internal to the codec.
//
//   u8  codec_compact_marker (0x40)
//   u8  type tag 8 (text)
//   context: as in the compact form (codec_compact.hpp)
//   node table: the context's nodes (version vector and cloud, ascending, once each) are nodes
//               0 .. C - 1; then varint X | X × u64 LE further nodes (ascending, none of the
//               context's), numbered C .. C + X - 1
//   integrated runs: varint R | R × run, in document order
//   pending runs:    varint P | P × run, in id order
//     run: varint length << 1 | n (n = 1: its node differs from the previous run's, or it is
//          the first) | n ? varint node index | varint zigzag(counter − end of the previous run
//          of its section, 0 for the first) | u8 left code + 4 × right code |
//          left code: 0 the start | 1 the last item of the previous run | 2 the item with the
//                     run's node and counter − 1 | 3 given: varint node index, varint
//                     zigzag(its counter − the run's counter)
//          right code: 0 the end | 1 the first item of the next run | 2 the previous run's right
//                      origin | 3 the right origin of an earlier run of its section that holds
//                      its left origin (a run split by a later insert) | 4 given, as for left
//   delete set: varint D | D × (varint node index ascending, varint K ≥ 1,
//               K × (varint gap from the previous interval's end, 0 at first; varint length ≥ 1))
//   content: varint B | B bytes: the UTF-8 codepoints of every live item (an item of a run whose
//            id is not in the delete set), runs in the order above
//   (nothing after)
//
// Equal texts give equal bytes (text::runs() is canonical). A typed codepoint's delta is ~33
// bytes; a state costs its content plus a few bytes per run and per deleted interval. The
// decoder bounds every count by the bytes left and refuses (errc::decode_error) anything cut
// off, out of range, overlapping, not covered by the context, or followed by more bytes;
// text::from_parts checks the structure.

#include <string>
#include <string_view>

#include "base/result.hpp"
#include "crdt/text.hpp"

namespace rumor::crdt::detail {

std::string encode_text(const text& t);
result<text> decode_text(std::string_view bytes);

}  // namespace rumor::crdt::detail
