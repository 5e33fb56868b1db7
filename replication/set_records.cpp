#include "replication/set_records.hpp"

#include <xxhash.h>

#include "base/varint.hpp"
#include "crdt/codec.hpp"
#include "replication/stored_value.hpp"
#include "replication/vv_bytes.hpp"

namespace rumor::replication::set_records {

namespace {

constexpr uint8_t element_version = 1;
constexpr uint64_t element_seed = 0x72756d6f72656c31ull;  // "rumorel1"

void put_u64be(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}

}  // namespace

std::string encode_header(const header& h, uint8_t format) {
  std::string out;
  out.push_back(static_cast<char>(format));
  vv_bytes::put_vv(out, h.kv);
  put_varint(out, h.count);
  put_u64le(out, h.element_sum);
  out.append(crdt::encode_context(h.ctx));
  return out;
}

result<header> decode_header(std::string_view record) {
  if (!is_decomposed(record)) return error{errc::corrupt, "not a set or map header record"};
  header h;
  size_t at = 1;
  if (vv_bytes::get_vv(record, at, h.kv) != vv_bytes::vv_status::ok)
    return error{errc::corrupt, "set header with a malformed key vector"};
  auto count = get_varint(record, at);
  auto sum = count ? get_u64le(record, at) : std::nullopt;
  if (!sum) return error{errc::corrupt, "set header cut off"};
  auto ctx = crdt::decode_context(record.substr(at));
  if (!ctx) return error{errc::corrupt, "set header context: " + ctx.err().message};
  h.count = *count;
  h.element_sum = *sum;
  h.ctx = std::move(*ctx);
  return h;
}

std::string encode_element(std::string_view member, const crdt::dot_set& dots) {
  std::string out;
  out.reserve(2 + 12 * dots.size() + member.size());
  out.push_back(static_cast<char>(element_version));
  put_varint(out, dots.size());
  for (const auto& d : dots.dots()) {
    put_u64le(out, d.node);
    put_varint(out, d.counter);
  }
  out.append(member);
  return out;
}

result<element> decode_element(std::string_view record) {
  if (record.empty() || static_cast<uint8_t>(record[0]) != element_version)
    return error{errc::corrupt, "set element record of an unknown version"};
  size_t at = 1;
  auto n = get_varint(record, at);
  if (!n || *n == 0 || *n > record.size()) return error{errc::corrupt, "set element record with a bad dot count"};
  std::vector<crdt::dot> dots;
  dots.reserve(*n);
  for (uint64_t i = 0; i < *n; ++i) {
    auto node = get_u64le(record, at);
    auto counter = node ? get_varint(record, at) : std::nullopt;
    if (!counter || *counter == 0) return error{errc::corrupt, "set element record with a bad dot"};
    crdt::dot d{*node, *counter};
    if (!dots.empty() && !(dots.back() < d)) return error{errc::corrupt, "set element dots out of order"};
    dots.push_back(d);
  }
  return element{std::string(record.substr(at)), crdt::dot_set{std::move(dots)}};
}

uint64_t element_hash(std::string_view record) {
  return XXH3_64bits_withSeed(record.data(), record.size(), element_seed);
}

std::string set_id(std::string_view storage_key) {
  XXH128_hash_t h = XXH3_128bits(storage_key.data(), storage_key.size());
  std::string out;
  put_u64be(out, h.high64);
  put_u64be(out, h.low64);
  return out;
}

std::string member_key(std::string_view member) {
  if (member.size() <= max_plain_member) return std::string(member);
  std::string out(member.substr(0, max_plain_member - 7));
  put_u64be(out, XXH3_64bits(member.data(), member.size()));
  return out;
}

std::string element_prefix(std::string_view id) { return "e/" + std::string(id); }

std::string element_name(std::string_view id, std::string_view member_key) {
  std::string out = element_prefix(id);
  out.append(member_key);
  return out;
}

std::string_view member_key_of(std::string_view element_name) {
  return element_name.size() < 18 ? std::string_view{} : element_name.substr(18);
}

uint32_t element_id(std::string_view member_key) {
  return static_cast<uint32_t>(XXH3_64bits(member_key.data(), member_key.size()));
}

std::string dot_prefix(std::string_view id) { return "x/" + std::string(id); }

std::string dot_name(std::string_view id, const crdt::dot& d) {
  std::string out = dot_prefix(id);
  put_u64be(out, d.node);
  put_u64be(out, d.counter);
  return out;
}

std::optional<crdt::dot> dot_of_name(std::string_view name) {
  constexpr size_t at = 2 + 16;  // "x/" ‖ set id
  if (name.size() < at + 16) return std::nullopt;
  auto be = [&](size_t from) {
    uint64_t v = 0;
    for (size_t i = 0; i < 8; ++i) v = v << 8 | static_cast<uint8_t>(name[from + i]);
    return v;
  };
  return crdt::dot{be(at), be(at + 8)};
}

result<whole_set> decode_whole_set(std::string_view record) {
  auto st = decode_stored(record);
  if (!st) return st.err();
  auto v = crdt::decode(st->crdt);
  if (!v || !v->get_if<crdt::or_set>()) return error{errc::corrupt, "stored set: a whole record that is not an or_set"};
  return whole_set{std::move(st->kv), std::move(*v->get_if<crdt::or_set>())};
}

}  // namespace rumor::replication::set_records
