#include "replication/stored_value.hpp"

#include "crdt/codec.hpp"

namespace rumor::replication {

namespace {
constexpr uint8_t stored_format = 1;
}

std::string encode_stored(const crdt::version_vector& kv, std::string_view crdt_bytes) {
  std::string v = crdt::encode_context(crdt::dot_context::from_parts(kv, {}));
  std::string out;
  out.reserve(5 + v.size() + crdt_bytes.size());
  out.push_back(static_cast<char>(stored_format));
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v.size() >> (8 * i)) & 0xff));
  out.append(v);
  out.append(crdt_bytes);
  return out;
}

result<stored_value> decode_stored(std::string_view record) {
  if (record.size() < 5) return error{errc::corrupt, "stored value record shorter than its header"};
  if (static_cast<uint8_t>(record[0]) != stored_format)
    return error{errc::unsupported_version, "stored value record format " + std::to_string(static_cast<uint8_t>(record[0]))};
  uint64_t len = 0;
  for (int i = 0; i < 4; ++i) len |= uint64_t{static_cast<uint8_t>(record[1 + i])} << (8 * i);
  if (len > record.size() - 5) return error{errc::corrupt, "stored value key vector overruns the record"};
  auto kv = crdt::decode_context(record.substr(5, len));
  if (!kv || !kv->cloud().empty()) return error{errc::corrupt, "stored value with an invalid key vector"};
  return stored_value{kv->compact_part(), std::string(record.substr(5 + len))};
}

}  // namespace rumor::replication
