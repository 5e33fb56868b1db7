#include "replication/stored_value.hpp"

#include "crdt/codec.hpp"
#include "replication/vv_bytes.hpp"

namespace rumor::replication {

namespace {

constexpr uint8_t format_context = 1;  // key vector as a crdt context encoding (read only)
constexpr uint8_t format_compact = 2;  // key vector as varints (written)
constexpr uint8_t format_set_header = 3;  // an or_set's header (set_records.hpp; not read here)
constexpr uint8_t format_map_header = 4;  // an or_map's header (map_records.hpp; not read here)

result<stored_value> decode_context_format(std::string_view record) {
  if (record.size() < 5) return error{errc::corrupt, "stored value record shorter than its header"};
  uint64_t len = 0;
  for (int i = 0; i < 4; ++i) len |= uint64_t{static_cast<uint8_t>(record[1 + i])} << (8 * i);
  if (len > record.size() - 5) return error{errc::corrupt, "stored value key vector overruns the record"};
  auto kv = crdt::decode_context(record.substr(5, len));
  if (!kv || !kv->cloud().empty() || !vv_bytes::writable(kv->compact_part()))
    return error{errc::corrupt, "stored value with an invalid key vector"};
  return stored_value{kv->compact_part(), std::string(record.substr(5 + len))};
}

result<stored_value> decode_compact_format(std::string_view record) {
  size_t at = 1;
  stored_value out;
  switch (vv_bytes::get_vv(record, at, out.kv)) {
    case vv_bytes::vv_status::ok: break;
    case vv_bytes::vv_status::overrun: return error{errc::corrupt, "stored value key vector overruns the record"};
    case vv_bytes::vv_status::invalid: return error{errc::corrupt, "stored value with an invalid key vector"};
  }
  out.crdt.assign(record.substr(at));
  return out;
}

}  // namespace

std::string encode_stored(const crdt::version_vector& kv, std::string_view crdt_bytes) {
  std::string out;
  out.reserve(2 + 12 * kv.size() + crdt_bytes.size());
  out.push_back(static_cast<char>(format_compact));
  vv_bytes::put_vv(out, kv);
  out.append(crdt_bytes);
  return out;
}

result<stored_value> decode_stored(std::string_view record) {
  if (record.empty()) return error{errc::corrupt, "empty stored value record"};
  switch (static_cast<uint8_t>(record[0])) {
    case format_context: return decode_context_format(record);
    case format_compact: return decode_compact_format(record);
    case format_set_header:
      return error{errc::corrupt, "a decomposed set's header is not a whole value (set_records.hpp)"};
    case format_map_header:
      return error{errc::corrupt, "a decomposed map's header is not a whole value (map_records.hpp)"};
  }
  return error{errc::unsupported_version, "stored value record format " + std::to_string(static_cast<uint8_t>(record[0]))};
}

bool is_current_format(std::string_view record, crdt::type_tag type) {
  // An or_set is stored decomposed: its value-table record is a header (set_records.hpp).
  if (type == crdt::type_tag::or_set) return !record.empty() && static_cast<uint8_t>(record[0]) == format_set_header;
  if (type == crdt::type_tag::or_map) return !record.empty() && static_cast<uint8_t>(record[0]) == format_map_header;
  if (record.empty() || static_cast<uint8_t>(record[0]) != format_compact) return false;
  size_t at = 1;
  crdt::version_vector kv;
  if (vv_bytes::get_vv(record, at, kv) != vv_bytes::vv_status::ok) return false;
  return at < record.size() && static_cast<uint8_t>(record[at]) == crdt::current_form_marker(type);
}

}  // namespace rumor::replication
