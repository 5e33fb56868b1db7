#include "crdt/or_map.hpp"

namespace rumor::crdt {

nested_store nested_store::empty_of(type_tag t) {
  switch (t) {
    case type_tag::g_counter: return nested_store{g_counter::store_type{}};
    case type_tag::pn_counter: return nested_store{pn_counter::store_type{}};
    case type_tag::lww_register: return nested_store{lww_register::store_type{}};
    case type_tag::mv_register: return nested_store{mv_register::store_type{}};
    case type_tag::or_set: return nested_store{or_set::store_type{}};
    case type_tag::or_map: return nested_store{map_store{}};
    case type_tag::ew_flag: return nested_store{ew_flag::store_type{}};
    case type_tag::text: break;  // never a map field (field_key refuses it)
  }
  return {};
}

void nested_store::join(const dot_context& mine, const nested_store& other, const dot_context& theirs) {
  std::visit(
      [&](auto& s) {
        using S = std::decay_t<decltype(s)>;
        if (const S* o = std::get_if<S>(&other.v_)) s.join(mine, *o, theirs);
        else s.filter(theirs);  // unreachable by field_key; keep the lattice safe anyway
      },
      v_);
}

bool operator==(const nested_store& a, const nested_store& b) { return a.v_ == b.v_; }

or_map or_map::remove(std::string_view name) { return remove_dots(name, nullptr); }

or_map or_map::remove(std::string_view name, const dot_context& observed) {
  return remove_dots(name, &observed);
}

or_map or_map::remove(std::string_view name, type_tag type) { return remove_dots(name, nullptr, type); }

or_map or_map::remove_dots(std::string_view name, const dot_context* observed, std::optional<type_tag> type) {
  std::vector<dot> covered;
  auto it = store_.entries().lower_bound(field_key{std::string(name), type_tag::g_counter});
  for (; it != store_.entries().end() && it->first.name == name; ++it) {
    if (type && it->first.type != *type) continue;
    it->second.for_each_dot([&](const dot& d) {
      if (!observed || observed->contains(d)) covered.push_back(d);
    });
  }
  if (covered.empty()) return {};
  or_map delta{{}, dot_context::of(covered)};
  join(delta);
  return delta;
}

std::vector<field_key> or_map::fields() const {
  std::vector<field_key> out;
  out.reserve(store_.size());
  for (const auto& [k, v] : store_.entries()) out.push_back(k);
  return out;
}

}  // namespace rumor::crdt
