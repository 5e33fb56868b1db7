#include "replication/stored_value.hpp"

#include "crdt/codec.hpp"

namespace rumor::replication {

namespace {

constexpr uint8_t format_context = 1;  // key vector as a crdt context encoding (read only)
constexpr uint8_t format_compact = 2;  // key vector as varints (written)

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Reads a varint at `at`, advancing it; nullopt if it is cut off or exceeds 64 bits.
std::optional<uint64_t> get_varint(std::string_view in, size_t& at) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && at < in.size(); shift += 7) {
    auto byte = static_cast<uint8_t>(in[at++]);
    if (shift == 63 && byte > 1) return std::nullopt;
    v |= uint64_t{byte & 0x7fu} << shift;
    if (!(byte & 0x80)) return v;
  }
  return std::nullopt;
}

result<stored_value> decode_context_format(std::string_view record) {
  if (record.size() < 5) return error{errc::corrupt, "stored value record shorter than its header"};
  uint64_t len = 0;
  for (int i = 0; i < 4; ++i) len |= uint64_t{static_cast<uint8_t>(record[1 + i])} << (8 * i);
  if (len > record.size() - 5) return error{errc::corrupt, "stored value key vector overruns the record"};
  auto kv = crdt::decode_context(record.substr(5, len));
  if (!kv || !kv->cloud().empty()) return error{errc::corrupt, "stored value with an invalid key vector"};
  return stored_value{kv->compact_part(), std::string(record.substr(5 + len))};
}

result<stored_value> decode_compact_format(std::string_view record) {
  size_t at = 1;
  auto n = get_varint(record, at);
  if (!n || *n > (record.size() - at) / 9) return error{errc::corrupt, "stored value key vector overruns the record"};
  stored_value out;
  uint64_t prev = 0;
  for (uint64_t i = 0; i < *n; ++i) {
    if (record.size() - at < 8) return error{errc::corrupt, "stored value key vector overruns the record"};
    uint64_t node = 0;
    for (int b = 0; b < 8; ++b) node |= uint64_t{static_cast<uint8_t>(record[at + b])} << (8 * b);
    at += 8;
    auto seq = get_varint(record, at);
    if (!seq) return error{errc::corrupt, "stored value key vector overruns the record"};
    if (node == 0 || *seq == 0 || (i > 0 && node <= prev))
      return error{errc::corrupt, "stored value with an invalid key vector"};
    out.kv.set(node, *seq);
    prev = node;
  }
  out.crdt.assign(record.substr(at));
  return out;
}

}  // namespace

std::string encode_stored(const crdt::version_vector& kv, std::string_view crdt_bytes) {
  std::string out;
  out.reserve(2 + 12 * kv.size() + crdt_bytes.size());
  out.push_back(static_cast<char>(format_compact));
  put_varint(out, kv.size());
  for (const auto& [node, seq] : kv.entries()) {
    for (int b = 0; b < 8; ++b) out.push_back(static_cast<char>((node >> (8 * b)) & 0xff));
    put_varint(out, seq);
  }
  out.append(crdt_bytes);
  return out;
}

result<stored_value> decode_stored(std::string_view record) {
  if (record.empty()) return error{errc::corrupt, "empty stored value record"};
  switch (static_cast<uint8_t>(record[0])) {
    case format_context: return decode_context_format(record);
    case format_compact: return decode_compact_format(record);
  }
  return error{errc::unsupported_version, "stored value record format " + std::to_string(static_cast<uint8_t>(record[0]))};
}

bool is_current_format(std::string_view record) {
  return !record.empty() && static_cast<uint8_t>(record[0]) == format_compact;
}

}  // namespace rumor::replication
