#pragma once
// type_tag: the CRDT type of a key's value, fixed at first write. Stable numbers (stored on disk
// and sent on the wire); append only.

#include <cstdint>
#include <optional>
#include <string_view>

namespace rumor::crdt {

enum class type_tag : uint8_t {
  g_counter = 1,
  pn_counter = 2,
  lww_register = 3,
  mv_register = 4,
  or_set = 5,
  or_map = 6,
  ew_flag = 7,
  text = 8,
};

// Every tag is in [first_type_tag, last_type_tag] (a new type extends the range).
inline constexpr uint8_t first_type_tag = 1;
inline constexpr uint8_t last_type_tag = 8;

constexpr std::string_view to_string(type_tag t) noexcept {
  switch (t) {
    case type_tag::g_counter: return "g_counter";
    case type_tag::pn_counter: return "pn_counter";
    case type_tag::lww_register: return "lww_register";
    case type_tag::mv_register: return "mv_register";
    case type_tag::or_set: return "or_set";
    case type_tag::or_map: return "or_map";
    case type_tag::ew_flag: return "ew_flag";
    case type_tag::text: return "text";
  }
  return "unknown";
}

// Parses the names returned by to_string; nullopt for anything else.
constexpr std::optional<type_tag> parse_type_tag(std::string_view s) noexcept {
  for (uint8_t i = first_type_tag; i <= last_type_tag; ++i)
    if (to_string(static_cast<type_tag>(i)) == s) return static_cast<type_tag>(i);
  return std::nullopt;
}

}  // namespace rumor::crdt
