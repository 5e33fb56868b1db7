#include "replication/storage_key.hpp"

namespace rumor::replication {

status validate_user_key(std::string_view key) {
  if (key.empty()) return error{errc::invalid_argument, "empty key"};
  if (key.size() > max_user_key_bytes)
    return error{errc::too_large, "key of " + std::to_string(key.size()) + " bytes; the limit is " +
                                      std::to_string(max_user_key_bytes)};
  if (key.find('\0') != std::string_view::npos)
    return error{errc::invalid_argument, "key contains a NUL byte"};
  return {};
}

std::string storage_key(std::string_view user_key, crdt::type_tag type) {
  std::string k;
  k.reserve(user_key.size() + 2);
  k.append(user_key);
  k.push_back('\0');
  k.push_back(static_cast<char>(type));
  return k;
}

std::string storage_key_prefix(std::string_view user_key) {
  std::string k;
  k.reserve(user_key.size() + 2);
  k.append(user_key);
  k.push_back('\0');
  return k;
}

std::optional<parsed_storage_key> parse_storage_key(std::string_view stored) {
  if (stored.size() < 3 || stored[stored.size() - 2] != '\0') return std::nullopt;
  auto tag = static_cast<uint8_t>(stored.back());
  if (tag < crdt::first_type_tag || tag > crdt::last_type_tag) return std::nullopt;
  return parsed_storage_key{stored.substr(0, stored.size() - 2), static_cast<crdt::type_tag>(tag)};
}

}  // namespace rumor::replication
