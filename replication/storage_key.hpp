#pragma once
// storage_key: how a user key and its CRDT type map to a key of the store's value table.
//
// A value is stored under  key bytes + '\0' + type tag byte. Keying by (key, type) means two nodes
// that concurrently create the same key with different types both keep their data (as riak_dt_map
// does for fields); a node refuses an operation of another type on a key it already holds, so
// this only matters for concurrent first writes. All types of one key are adjacent in key order
// (prefix key + '\0').

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "crdt/type_tag.hpp"

namespace rumor::replication {

inline constexpr std::size_t max_user_key_bytes = 256;

// Returns ok iff `key` is a valid user key: 1..max_user_key_bytes bytes, no NUL byte.
status validate_user_key(std::string_view key);

std::string storage_key(std::string_view user_key, crdt::type_tag type);
// user_key + '\0': the prefix every storage key of `user_key` starts with (one contiguous range).
std::string storage_key_prefix(std::string_view user_key);

struct parsed_storage_key {
  std::string_view user_key;
  crdt::type_tag type;
};
// Splits a storage key; nullopt if it is not one.
std::optional<parsed_storage_key> parse_storage_key(std::string_view stored);

}  // namespace rumor::replication
