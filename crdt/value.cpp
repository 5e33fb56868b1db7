#include "crdt/value.hpp"

#include <string>
#include <type_traits>
#include <vector>

namespace rumor::crdt {

value value::empty_of(type_tag t) {
  switch (t) {
    case type_tag::g_counter: return g_counter{};
    case type_tag::pn_counter: return pn_counter{};
    case type_tag::lww_register: return lww_register{};
    case type_tag::mv_register: return mv_register{};
    case type_tag::or_set: return or_set{};
    case type_tag::or_map: return or_map{};
    case type_tag::ew_flag: return ew_flag{};
    case type_tag::text: return text{};
  }
  return {};
}

value value::empty_of(type_tag t, const dot_context& ctx) {
  value v = empty_of(t);
  std::visit(
      [&](auto& x) {
        using T = std::decay_t<decltype(x)>;
        x = T{typename T::store_type{}, ctx};
      },
      v.v_);
  return v;
}

value value::remove_observed() {
  return std::visit(
      [](auto& x) -> value {
        using T = std::decay_t<decltype(x)>;
        std::vector<dot> seen;
        x.store().for_each_dot([&](const dot& d) { seen.push_back(d); });
        T delta{typename T::store_type{}, dot_context::of(seen)};
        x.join(delta);
        return value{std::move(delta)};
      },
      v_);
}

status value::join(const value& other) {
  if (other.type() != type()) {
    return error{errc::type_mismatch, "cannot join a " + std::string(to_string(other.type())) +
                                          " into a " + std::string(to_string(type()))};
  }
  std::visit(
      [&](auto& mine) {
        using T = std::decay_t<decltype(mine)>;
        mine.join(std::get<T>(other.v_));
      },
      v_);
  return {};
}

value value_of(const nested_store& s, const dot_context& ctx) {
  auto make = [&](auto tag) -> value {
    using T = typename decltype(tag)::type;
    return T{std::get<typename T::store_type>(s.variant()), ctx};
  };
  switch (s.type()) {
    case type_tag::g_counter: return make(std::type_identity<g_counter>{});
    case type_tag::pn_counter: return make(std::type_identity<pn_counter>{});
    case type_tag::lww_register: return make(std::type_identity<lww_register>{});
    case type_tag::mv_register: return make(std::type_identity<mv_register>{});
    case type_tag::or_set: return make(std::type_identity<or_set>{});
    case type_tag::or_map: return make(std::type_identity<or_map>{});
    case type_tag::ew_flag: return make(std::type_identity<ew_flag>{});
    case type_tag::text: break;  // never a map field
  }
  return {};
}

std::optional<value> field_value(const or_map& m, const field_key& f) {
  const nested_store* s = m.store().find(f);
  if (!s) return std::nullopt;
  return value_of(*s, m.context());
}

}  // namespace rumor::crdt
