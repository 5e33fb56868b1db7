#include "api/value_view.hpp"

#include <algorithm>
#include <limits>
#include <type_traits>

namespace rumor {

std::string_view to_string(value_type t) noexcept { return crdt::to_string(static_cast<crdt::type_tag>(t)); }

const value* value::field(std::string_view name) const noexcept {
  for (const auto& f : fields)
    if (f.name == name) return &f.v;
  return nullptr;
}

const value* value::field(std::string_view name, value_type t) const noexcept {
  for (const auto& f : fields)
    if (f.name == name && f.v.type == t) return &f.v;
  return nullptr;
}

namespace api {

value to_public(const crdt::value& v) {
  value out;
  out.type = to_public(v.type());
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, crdt::g_counter>) {
          uint64_t n = x.value();
          out.counter = n > uint64_t(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max()
                                                                            : int64_t(n);
        } else if constexpr (std::is_same_v<T, crdt::pn_counter>) {
          out.counter = x.value();
        } else if constexpr (std::is_same_v<T, crdt::lww_register>) {
          out.text = x.read();
        } else if constexpr (std::is_same_v<T, crdt::mv_register>) {
          out.items = x.siblings();
          std::sort(out.items.begin(), out.items.end());
        } else if constexpr (std::is_same_v<T, crdt::or_set>) {
          out.items = x.elements();
        } else if constexpr (std::is_same_v<T, crdt::ew_flag>) {
          out.flag = x.value();
        } else if constexpr (std::is_same_v<T, crdt::text>) {
          out.text = x.str();
        } else if constexpr (std::is_same_v<T, crdt::or_map>) {
          for (const auto& f : x.fields())
            if (auto fv = crdt::field_value(x, f)) out.fields.push_back(map_field{f.name, to_public(*fv)});
        }
      },
      v.variant());
  return out;
}

}  // namespace api
}  // namespace rumor
