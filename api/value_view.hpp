#pragma once
// Conversions between the library's CRDT values and the public plain values (rumor/value.hpp).
// Internal to the library.

#include <rumor/value.hpp>

#include "crdt/type_tag.hpp"
#include "crdt/value.hpp"

namespace rumor::api {

// The plain reading of `v` (rumor/value.hpp lists the rule per type).
value to_public(const crdt::value& v);

// The public enum repeats crdt::type_tag (the public header may not include crdt/); the casts
// below rely on the numbers being the same, which these checks keep true.
static_assert(static_cast<int>(value_type::g_counter) == static_cast<int>(crdt::type_tag::g_counter));
static_assert(static_cast<int>(value_type::pn_counter) == static_cast<int>(crdt::type_tag::pn_counter));
static_assert(static_cast<int>(value_type::lww_register) == static_cast<int>(crdt::type_tag::lww_register));
static_assert(static_cast<int>(value_type::mv_register) == static_cast<int>(crdt::type_tag::mv_register));
static_assert(static_cast<int>(value_type::or_set) == static_cast<int>(crdt::type_tag::or_set));
static_assert(static_cast<int>(value_type::or_map) == static_cast<int>(crdt::type_tag::or_map));
static_assert(static_cast<int>(value_type::ew_flag) == static_cast<int>(crdt::type_tag::ew_flag));
static_assert(static_cast<int>(value_type::text) == static_cast<int>(crdt::type_tag::text));

inline value_type to_public(crdt::type_tag t) noexcept { return static_cast<value_type>(t); }
inline crdt::type_tag to_internal(value_type t) noexcept { return static_cast<crdt::type_tag>(t); }

}  // namespace rumor::api
