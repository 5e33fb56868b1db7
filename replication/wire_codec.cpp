// wire_codec, framing (wire_codec.hpp): the size of a frame from its packed header or segment
// table, and the reader that cuts a byte stream into frames. Encoding and decoding are in wire_encode.cpp and
// wire_decode.cpp.

#include "replication/wire_codec.hpp"

#include <algorithm>

namespace rumor::replication {

namespace {

uint32_t le32(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
}

}  // namespace

result<size_t> frame_size_from_prefix(std::string_view prefix, size_t limit) {
  if (prefix.size() < 4) return size_t{0};
  uint32_t first = le32(prefix.data());
  if (first & (uint32_t{1} << 31)) {  // the packed form: header, then that many packed bytes
    uint64_t total = 4 + uint64_t{first & ~(uint32_t{1} << 31)};
    if (total > limit)
      return error{errc::too_large, "packed wire frame of " + std::to_string(total) + " bytes (at most " +
                                        std::to_string(limit) + ")"};
    return static_cast<size_t>(total);
  }
  // Segment table: u32 (segment count - 1), u32 size in words of each segment, padded to 8 bytes.
  uint64_t segments = uint64_t{le32(prefix.data())} + 1;
  if (segments > max_segments)
    return error{errc::too_large, "wire frame with " + std::to_string(segments) + " segments (at most " +
                                      std::to_string(max_segments) + ")"};
  uint64_t header = (4 * (segments + 1) + 7) & ~uint64_t{7};
  uint64_t total = header;
  if (total > limit)
    return error{errc::too_large, "wire frame segment table of " + std::to_string(header) + " bytes (frame limit " +
                                      std::to_string(limit) + ")"};
  uint64_t known = std::min<uint64_t>(segments, (prefix.size() - 4) / 4);
  for (uint64_t i = 0; i < known; ++i) {
    total += uint64_t{le32(prefix.data() + 4 + 4 * i)} * 8;  // at most 512 * 2^35: no overflow
    if (total > limit)
      return error{errc::too_large, "wire frame of at least " + std::to_string(total) + " bytes (at most " +
                                        std::to_string(limit) + ")"};
  }
  if (known < segments || prefix.size() < header) return size_t{0};
  return static_cast<size_t>(total);
}

frame_reader::frame_reader(size_t max_frame) : max_frame_(max_frame) {}

void frame_reader::feed(std::string_view bytes) {
  if (error_) return;
  if (start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  } else if (start_ > 0 && start_ >= buffer_.size() / 2) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  buffer_.append(bytes);
}

result<std::optional<std::string>> frame_reader::next() {
  if (error_) return *error_;
  std::string_view pending(buffer_.data() + start_, buffer_.size() - start_);
  auto size = frame_size_from_prefix(pending, max_frame_);
  if (!size) {
    error_ = size.err();
    return *error_;
  }
  if (*size == 0 || *size > pending.size()) return std::optional<std::string>{};
  std::string frame(pending.substr(0, *size));
  start_ += *size;
  return std::optional<std::string>{std::move(frame)};
}

}  // namespace rumor::replication
