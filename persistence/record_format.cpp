#include "persistence/record_format.hpp"

#include <string>

#include <xxhash.h>

#include <cstring>

namespace rumor::persistence {

namespace {

void put_u64_le(char* out, uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

void put_u64_be(char* out, uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * (7 - i))) & 0xff);
}

uint64_t get_u64_be(const char* in) noexcept {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

}  // namespace

status check_key(std::string_view key, std::string_view what) {
  if (key.empty()) return error{errc::invalid_argument, "empty " + std::string{what}};
  if (key.size() > max_key_bytes) {
    return error{errc::too_large, std::string{what} + " of " + std::to_string(key.size()) +
                                      " bytes exceeds the limit of " +
                                      std::to_string(max_key_bytes)};
  }
  return {};
}

status check_meta_name(std::string_view name) {
  if (auto s = check_key(name, "meta name"); !s) return s;
  if (is_reserved_meta_name(name)) {
    return error{errc::invalid_argument,
                 "meta name '" + std::string{name} + "' is reserved for the store itself"};
  }
  return {};
}

bool is_reserved_meta_name(std::string_view name) noexcept {
  return name == meta_format_version || name == meta_node_id || name == meta_log_applied;
}

uint64_t record_checksum(std::string_view key, std::string_view payload) noexcept {
  const XXH64_hash_t seed = XXH3_64bits(key.data(), key.size());
  return XXH3_64bits_withSeed(payload.data(), payload.size(), seed);
}

void frame_record_into(char* out, std::string_view key, std::string_view payload) noexcept {
  out[0] = static_cast<char>(record_version);
  put_u64_le(out + 1, record_checksum(key, payload));
  if (!payload.empty()) std::memcpy(out + record_header_bytes, payload.data(), payload.size());
}

std::string frame_record(std::string_view key, std::string_view payload) {
  std::string out(record_header_bytes + payload.size(), '\0');
  frame_record_into(out.data(), key, payload);
  return out;
}

result<std::string_view> unframe_record(std::string_view key, std::string_view stored) {
  if (stored.size() < record_header_bytes) {
    return error{errc::corrupt, "record of " + std::to_string(stored.size()) +
                                    " bytes is shorter than its 9-byte header"};
  }
  const auto version = static_cast<unsigned char>(stored[0]);
  if (version != record_version) {
    return error{errc::corrupt, "record has unknown record version " + std::to_string(version)};
  }
  const std::string_view payload = stored.substr(record_header_bytes);
  const uint64_t expected = decode_u64_le(stored.substr(1, 8));
  if (record_checksum(key, payload) != expected) {
    return error{errc::corrupt, "record checksum mismatch"};
  }
  return payload;
}

std::array<char, delta_key_bytes> delta_key(uint64_t origin, uint64_t seq) noexcept {
  std::array<char, delta_key_bytes> k{};
  put_u64_be(k.data(), origin);
  put_u64_be(k.data() + 8, seq);
  return k;
}

uint64_t delta_key_origin(std::string_view key) noexcept { return get_u64_be(key.data()); }
uint64_t delta_key_seq(std::string_view key) noexcept { return get_u64_be(key.data() + 8); }

std::string encode_u32_le(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

std::string encode_u64_le(uint64_t v) {
  std::string s(8, '\0');
  put_u64_le(s.data(), v);
  return s;
}

uint32_t decode_u32_le(std::string_view bytes) noexcept {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[i]);
  return v;
}

uint64_t decode_u64_le(std::string_view bytes) noexcept {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[i]);
  return v;
}

}  // namespace rumor::persistence
