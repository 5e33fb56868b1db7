#pragma once
// capnp_packing: reading Cap'n Proto's packed encoding (the encoding spec's "Packing"), for the
// two codecs that accept packed input: crdt/codec (the packed form of values and deltas) and
// replication/capnp_frame (packed peer frames). Writing is capnp's own writePackedMessage.
//
//   tag byte: bit i set = byte i of the word is non-zero and follows (in order); unset = zero;
//   tag 0x00: one more byte, the number of further zero words (0..255);
//   tag 0xFF: after its 8 bytes, one more byte, the number of further words copied verbatim.
//
// Pure functions on bytes; nothing here throws or allocates.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace rumor {

// The number of 8-byte words `in` unpacks to. errc::decode_error if a word or run is cut off, or
// if it would unpack to more than max_words words ("... unpacks to more than N bytes").
inline result<size_t> packed_word_count(std::string_view in, size_t max_words) {
  size_t words = 0;
  size_t at = 0;
  while (at < in.size()) {
    auto tag = static_cast<uint8_t>(in[at++]);
    size_t present = static_cast<size_t>(std::popcount(tag));
    if (in.size() - at < present) return error{errc::decode_error, "packed word cut off"};
    at += present;
    words += 1;
    if (tag == 0x00 || tag == 0xFF) {
      if (at == in.size()) return error{errc::decode_error, "packed run length cut off"};
      size_t run = static_cast<uint8_t>(in[at++]);
      if (tag == 0xFF) {
        if ((in.size() - at) / 8 < run) return error{errc::decode_error, "packed verbatim run cut off"};
        at += run * 8;
      }
      words += run;
    }
    if (words > max_words)
      return error{errc::decode_error, "packed input unpacks to more than " + std::to_string(max_words * 8) + " bytes"};
  }
  return words;
}

// Unpacks `in` into out[0, 8 × packed_word_count(in)).
// REQUIRES: packed_word_count(in, ...) succeeded; `out` has room for those words.
inline void unpack(std::string_view in, unsigned char* out) {
  size_t at = 0;
  while (at < in.size()) {
    auto tag = static_cast<uint8_t>(in[at++]);
    for (int bit = 0; bit < 8; ++bit) *out++ = (tag >> bit) & 1 ? static_cast<unsigned char>(in[at++]) : 0;
    if (tag == 0x00) {
      size_t run = static_cast<uint8_t>(in[at++]) * size_t{8};
      std::memset(out, 0, run);
      out += run;
    } else if (tag == 0xFF) {
      size_t run = static_cast<uint8_t>(in[at++]) * size_t{8};
      std::memcpy(out, in.data() + at, run);
      out += run;
      at += run;
    }
  }
}

}  // namespace rumor
