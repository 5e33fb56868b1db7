#include "replication/log_record.hpp"


#include "crdt/codec.hpp"
#include "replication/storage_key.hpp"
#include "replication/vv_bytes.hpp"

namespace rumor::replication {

namespace {
constexpr uint8_t format_framed = 2;   // u32 lengths, deps as a context encoding (read only)
constexpr uint8_t format_compact = 3;  // varint key length, deps as vv_bytes (written)

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_le(std::string_view in, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<uint8_t>(in[at + i])} << (8 * i);
  return v;
}

// Format 2 after the 10-byte prefix (format, tag, hlc) the formats share.
result<delta_record> decode_framed(std::string_view bytes, delta_record r) {
  constexpr size_t header = 14;
  if (bytes.size() < header) return error{errc::decode_error, "delta log record shorter than its header"};
  uint64_t key_len = get_le(bytes, 10, 4);
  if (key_len > bytes.size() - header) return error{errc::decode_error, "delta log record key overruns the record"};
  r.key.assign(bytes.substr(header, key_len));
  size_t at = header + key_len;
  if (bytes.size() - at < 4) return error{errc::decode_error, "delta log record without deps"};
  uint64_t deps_len = get_le(bytes, at, 4);
  at += 4;
  if (deps_len > bytes.size() - at) return error{errc::decode_error, "delta log record deps overrun the record"};
  auto deps = crdt::decode_context(bytes.substr(at, deps_len));
  if (!deps || !deps->cloud().empty() || !vv_bytes::writable(deps->compact_part()))
    return error{errc::decode_error, "delta log record with invalid deps"};
  r.deps = deps->compact_part();
  r.delta.assign(bytes.substr(at + deps_len));
  return r;
}

// Format 3 after the shared 10-byte prefix.
result<delta_record> decode_compact(std::string_view bytes, delta_record r) {
  size_t at = 10;
  auto key_len = vv_bytes::get_varint(bytes, at);
  if (!key_len) return error{errc::decode_error, "delta log record shorter than its header"};
  if (*key_len > bytes.size() - at) return error{errc::decode_error, "delta log record key overruns the record"};
  r.key.assign(bytes.substr(at, *key_len));
  at += *key_len;
  switch (vv_bytes::get_vv(bytes, at, r.deps)) {
    case vv_bytes::vv_status::ok: break;
    case vv_bytes::vv_status::overrun: return error{errc::decode_error, "delta log record deps overrun the record"};
    case vv_bytes::vv_status::invalid: return error{errc::decode_error, "delta log record with invalid deps"};
  }
  r.delta.assign(bytes.substr(at));
  return r;
}
}  // namespace

std::string encode_log_record(const delta_record& r) {
  std::string out;
  out.reserve(12 + r.key.size() + 12 * r.deps.size() + r.delta.size());
  out.push_back(static_cast<char>(format_compact));
  out.push_back(static_cast<char>(r.type));
  put_le(out, r.hlc, 8);
  vv_bytes::put_varint(out, r.key.size());
  out.append(r.key);
  vv_bytes::put_vv(out, r.deps);
  out.append(r.delta);
  return out;
}

result<delta_record> decode_log_record(std::string_view bytes) {
  constexpr size_t prefix = 10;
  if (bytes.size() < prefix) return error{errc::decode_error, "delta log record shorter than its header"};
  auto format = static_cast<uint8_t>(bytes[0]);
  if (format != format_framed && format != format_compact)
    return error{errc::unsupported_version, "delta log record format " + std::to_string(format)};
  auto tag = static_cast<uint8_t>(bytes[1]);
  if (tag < crdt::first_type_tag || tag > crdt::last_type_tag) return error{errc::decode_error, "delta log record with unknown type tag"};
  delta_record r;
  r.type = static_cast<crdt::type_tag>(tag);
  r.hlc = get_le(bytes, 2, 8);
  auto decoded = format == format_compact ? decode_compact(bytes, std::move(r)) : decode_framed(bytes, std::move(r));
  if (!decoded) return decoded;
  if (auto ok = validate_user_key(decoded->key); !ok) return ok.err();
  return decoded;
}

}  // namespace rumor::replication
