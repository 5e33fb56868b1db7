#include "replication/map_records.hpp"

#include <vector>

#include <xxhash.h>

#include "base/varint.hpp"
#include "crdt/codec.hpp"
#include "crdt/value.hpp"
#include "replication/stored_value.hpp"

namespace rumor::replication::map_records {

namespace {

constexpr uint8_t field_version = 1;

// The store of `v` as a map field's; nullopt for a text (never a field).
std::optional<crdt::nested_store> store_of(const crdt::value& v) {
  auto take = [&](auto tag) -> std::optional<crdt::nested_store> {
    using T = typename decltype(tag)::type;
    return crdt::nested_store{v.get_if<T>()->store()};
  };
  switch (v.type()) {
    case crdt::type_tag::g_counter: return take(std::type_identity<crdt::g_counter>{});
    case crdt::type_tag::pn_counter: return take(std::type_identity<crdt::pn_counter>{});
    case crdt::type_tag::lww_register: return take(std::type_identity<crdt::lww_register>{});
    case crdt::type_tag::mv_register: return take(std::type_identity<crdt::mv_register>{});
    case crdt::type_tag::or_set: return take(std::type_identity<crdt::or_set>{});
    case crdt::type_tag::or_map: return take(std::type_identity<crdt::or_map>{});
    case crdt::type_tag::ew_flag: return take(std::type_identity<crdt::ew_flag>{});
    case crdt::type_tag::text: break;
  }
  return std::nullopt;
}

}  // namespace

std::string name_key(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 1);
  for (char c : name) {
    out.push_back(c);
    if (c == '\0') out.push_back('\xff');
  }
  if (out.size() <= max_plain_name) {
    out.push_back('\0');
    return out;
  }
  out.resize(max_plain_name);
  out.append("\xff\xff");
  uint64_t h = XXH3_64bits(name.data(), name.size());
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(h >> (8 * i)));
  out.push_back('\0');
  return out;
}

std::string field_key_bytes(const crdt::field_key& f) {
  std::string out = name_key(f.name);
  out.push_back(static_cast<char>(f.type));
  return out;
}

std::string encode_field(const crdt::field_key& key, const crdt::nested_store& store) {
  std::vector<crdt::dot> dots;
  store.for_each_dot([&](const crdt::dot& d) { dots.push_back(d); });
  std::string out;
  out.push_back(static_cast<char>(field_version));
  out.push_back(static_cast<char>(key.type));
  put_varint(out, key.name.size());
  out.append(key.name);
  out.append(crdt::encode(crdt::value_of(store, crdt::dot_context::of(dots))));
  return out;
}

result<field> decode_field(std::string_view record) {
  if (record.size() < 3 || static_cast<uint8_t>(record[0]) != field_version)
    return error{errc::corrupt, "map field record of an unknown version"};
  auto type = static_cast<crdt::type_tag>(static_cast<uint8_t>(record[1]));
  size_t at = 2;
  auto n = get_varint(record, at);
  if (!n || *n > record.size() - at) return error{errc::corrupt, "map field record with a bad name length"};
  field out;
  out.key = crdt::field_key{std::string(record.substr(at, *n)), type};
  auto v = crdt::decode(record.substr(at + *n));
  if (!v) return error{errc::corrupt, "map field record: " + v.err().message};
  if (v->type() != type || type == crdt::type_tag::text)
    return error{errc::corrupt, "map field record whose value is not of its field's type"};
  auto s = store_of(*v);
  if (!s || s->empty()) return error{errc::corrupt, "map field record of an empty field"};
  out.store = std::move(*s);
  return out;
}

result<whole_map> decode_whole_map(std::string_view record) {
  auto st = decode_stored(record);
  if (!st) return st.err();
  auto v = crdt::decode(st->crdt);
  if (!v || !v->get_if<crdt::or_map>()) return error{errc::corrupt, "stored map: a whole record that is not an or_map"};
  return whole_map{std::move(st->kv), std::move(*v->get_if<crdt::or_map>())};
}

}  // namespace rumor::replication::map_records
