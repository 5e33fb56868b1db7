#pragma once
// rumor::persistence::key_range — a half-open range of keys in byte order, for scans:
// every key k with from <= k and (no upper bound or k < to). Keys compare as unsigned bytes
// (memcmp order, as in LMDB and std::string).

#include <optional>
#include <string>
#include <string_view>

namespace rumor::persistence {

struct key_range {
  std::string from;               // inclusive lower bound; "" = from the first key
  std::optional<std::string> to;  // exclusive upper bound; nullopt = to the last key

  // Every key.
  static key_range all();
  // Every key that starts with `prefix` (all() for an empty prefix).
  static key_range with_prefix(std::string_view prefix);
  // [from, to).
  static key_range between(std::string_view from, std::string_view to);
  // [from, end). To resume a scan after key k, use starting_at(k + '\0').
  static key_range starting_at(std::string_view from);

  // Returns true iff `key` lies in the range.
  bool contains(std::string_view key) const noexcept;
  // Returns true iff `key` is at or past the upper bound.
  bool past_end(std::string_view key) const noexcept { return to && key >= *to; }
};

// Returns the smallest key greater than every key that starts with `prefix`, or nullopt if there
// is none (prefix empty or all 0xff bytes).
std::optional<std::string> prefix_successor(std::string_view prefix);

}  // namespace rumor::persistence
