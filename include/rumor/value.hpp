#pragma once
// rumor/value.hpp (public) — what a key holds, as plain C++ values.
//
// Every key holds one CRDT, whose type is fixed by its first write. An application reads it as a
// rumor::value: the type plus the plain reading of that type's state, the same reading the `rumor`
// CLI prints:
//
//   type          reading
//   g_counter     counter: the sum of every node's increments (>= 0)
//   pn_counter    counter: increments minus decrements
//   lww_register  text: the write with the highest hybrid-logical-clock timestamp (ties: the
//                 higher node id); nullopt when no write is left
//   mv_register   items: the concurrent writes none of which saw the others ("siblings"), sorted;
//                 one item when there is no conflict
//   or_set        items: the members, sorted (add wins over a concurrent remove)
//   ew_flag       flag: on when an enable is not followed by a disable that saw it (enable wins)
//   or_map        fields: (name, value) in order of (name, type); a name may appear once per type
//
// The fields that do not belong to `type` are empty. Values are snapshots: they do not change when
// the key does (subscribe in rumor/node.hpp to follow changes).
//
// Absent. A value whose state holds nothing reads as absent (node::get returns nullopt, keys()
// does not list it): a key never written, a deleted key, an or_set whose members were all
// removed, an ew_flag that is off. Read absent as the type's empty reading (0, no text, no items,
// off, no fields) where the type is known. An update's own result still carries the value.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rumor {

// The CRDT types; the numbers are the ones the client protocol and the store use.
enum class value_type : uint8_t {
  g_counter = 1,
  pn_counter = 2,
  lww_register = 3,
  mv_register = 4,
  or_set = 5,
  or_map = 6,
  ew_flag = 7,
  text = 8,
};

// "g_counter", "pn_counter", ... ("unknown" for numbers outside the enum).
std::string_view to_string(value_type t) noexcept;

struct map_field;

struct value {
  value_type type = value_type::pn_counter;
  int64_t counter = 0;               // g_counter (saturates at INT64_MAX), pn_counter
  std::optional<std::string> text;   // lww_register; text (its content, UTF-8)
  std::vector<std::string> items;    // or_set members, mv_register siblings
  bool flag = false;                 // ew_flag
  std::vector<map_field> fields;     // or_map

  // The or_map field called `name` (of any type; the first in order if there are several);
  // nullptr when there is none.
  const value* field(std::string_view name) const noexcept;
  // The or_map field called `name` of type `t`; nullptr when there is none.
  const value* field(std::string_view name, value_type t) const noexcept;
};

struct map_field {
  std::string name;
  value v;
};

}  // namespace rumor
