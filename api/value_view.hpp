#pragma once
// Conversions between the library's CRDT values and the public plain values (rumor/value.hpp).
// Internal to the library.

#include <rumor/value.hpp>

#include "crdt/type_tag.hpp"
#include "crdt/value.hpp"

namespace rumor::api {

// The plain reading of `v` (rumor/value.hpp lists the rule per type).
value to_public(const crdt::value& v);

inline value_type to_public(crdt::type_tag t) noexcept { return static_cast<value_type>(t); }
inline crdt::type_tag to_internal(value_type t) noexcept { return static_cast<crdt::type_tag>(t); }

}  // namespace rumor::api
