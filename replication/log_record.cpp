#include "replication/log_record.hpp"

#include <cstring>

#include "crdt/codec.hpp"
#include "replication/storage_key.hpp"

namespace rumor::replication {

namespace {
constexpr uint8_t log_record_format = 2;

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_le(std::string_view in, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<uint8_t>(in[at + i])} << (8 * i);
  return v;
}
}  // namespace

std::string encode_log_record(const delta_record& r) {
  std::string out;
  out.reserve(14 + r.key.size() + r.delta.size());
  out.push_back(static_cast<char>(log_record_format));
  out.push_back(static_cast<char>(r.type));
  put_le(out, r.hlc, 8);
  put_le(out, r.key.size(), 4);
  out.append(r.key);
  std::string deps = crdt::encode_context(crdt::dot_context::from_parts(r.deps, {}));
  put_le(out, deps.size(), 4);
  out.append(deps);
  out.append(r.delta);
  return out;
}

result<delta_record> decode_log_record(std::string_view bytes) {
  constexpr size_t header = 14;
  if (bytes.size() < header) return error{errc::decode_error, "delta log record shorter than its header"};
  if (static_cast<uint8_t>(bytes[0]) != log_record_format)
    return error{errc::unsupported_version, "delta log record format " + std::to_string(static_cast<uint8_t>(bytes[0]))};
  auto tag = static_cast<uint8_t>(bytes[1]);
  if (tag < 1 || tag > 7) return error{errc::decode_error, "delta log record with unknown type tag"};
  uint64_t key_len = get_le(bytes, 10, 4);
  if (key_len > bytes.size() - header) return error{errc::decode_error, "delta log record key overruns the record"};
  delta_record r;
  r.type = static_cast<crdt::type_tag>(tag);
  r.hlc = get_le(bytes, 2, 8);
  r.key.assign(bytes.substr(header, key_len));
  size_t at = header + key_len;
  if (bytes.size() - at < 4) return error{errc::decode_error, "delta log record without deps"};
  uint64_t deps_len = get_le(bytes, at, 4);
  at += 4;
  if (deps_len > bytes.size() - at) return error{errc::decode_error, "delta log record deps overrun the record"};
  auto deps = crdt::decode_context(bytes.substr(at, deps_len));
  if (!deps || !deps->cloud().empty()) return error{errc::decode_error, "delta log record with invalid deps"};
  r.deps = deps->compact_part();
  r.delta.assign(bytes.substr(at + deps_len));
  if (auto ok = validate_user_key(r.key); !ok) return ok.err();
  return r;
}

}  // namespace rumor::replication
