#include "crdt/value.hpp"

#include <string>

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
  }
  return {};
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

}  // namespace rumor::crdt
