#pragma once
// varint: the integers of rumor's hand-written byte formats (stored values, log records, the
// write-ahead log, the compact codec, meta record names): LEB128 varints (7 bits a byte, low group
// first, high bit = more follow; at most 10 bytes for 64 bits) and fixed-width u64 LE / u32 BE.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rumor {

inline void put_varint(std::string& out, uint64_t v) {
  char buf[10];
  std::size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out.append(buf, n);
}

// Reads a varint at `at`, advancing it; nullopt if it is cut off or exceeds 64 bits.
inline std::optional<uint64_t> get_varint(std::string_view in, std::size_t& at) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && at < in.size(); shift += 7) {
    auto byte = static_cast<uint8_t>(in[at++]);
    if (shift == 63 && byte > 1) return std::nullopt;
    v |= uint64_t{byte & 0x7fu} << shift;
    if (!(byte & 0x80)) return v;
  }
  return std::nullopt;
}

inline void put_u64le(std::string& out, uint64_t v) {
  char buf[8];
  for (int b = 0; b < 8; ++b) buf[b] = static_cast<char>((v >> (8 * b)) & 0xff);
  out.append(buf, 8);
}

// Big-endian u32: numbers in record names that must sort in numeric order.
inline void put_u32be(std::string& out, uint32_t v) {
  const char buf[4] = {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xff), static_cast<char>((v >> 8) & 0xff),
                       static_cast<char>(v & 0xff)};
  out.append(buf, 4);
}

// Reads a u64 little-endian at `at`, advancing it; nullopt if fewer than 8 bytes are left.
inline std::optional<uint64_t> get_u64le(std::string_view in, std::size_t& at) {
  if (in.size() - at < 8 || at > in.size()) return std::nullopt;
  uint64_t v = 0;
  for (int b = 0; b < 8; ++b) v |= uint64_t{static_cast<uint8_t>(in[at + b])} << (8 * b);
  at += 8;
  return v;
}

}  // namespace rumor
