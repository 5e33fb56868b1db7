#pragma once
// nested_store: the dot store of one or_map field — any CRDT type's store, tagged with its type.
// Fields of an or_map share the map's dot_context (Almeida et al., delta-state CRDTs, §7.3,
// "ORMap" with embedded causal CRDTs), which gives every nested type reset-on-remove semantics:
// removing a field covers its dots, and a concurrent update keeps only what was not observed.

#include <compare>
#include <string>
#include <variant>

#include "crdt/dot_map.hpp"
#include "crdt/ew_flag.hpp"
#include "crdt/g_counter.hpp"
#include "crdt/lww_register.hpp"
#include "crdt/mv_register.hpp"
#include "crdt/or_set.hpp"
#include "crdt/pn_counter.hpp"
#include "crdt/type_tag.hpp"

namespace rumor::crdt {

// A field of an or_map is identified by its name *and* its type (as in riak_dt_map): two replicas
// that concurrently create "x" as a counter and as a set both keep their field, no conflict.
struct field_key {
  std::string name;
  type_tag type = type_tag::g_counter;
  friend auto operator<=>(const field_key&, const field_key&) = default;
  friend bool operator==(const field_key&, const field_key&) = default;
};

class nested_store;
using map_store = dot_map<field_key, nested_store>;

class nested_store {
 public:
  // Alternative i holds the store of type_tag(i + 1).
  using variant_type =
      std::variant<g_counter::store_type, pn_counter::store_type, lww_register::store_type,
                   mv_register::store_type, or_set::store_type, map_store, ew_flag::store_type>;

  nested_store() = default;
  template <class S, class = std::enable_if_t<!std::is_same_v<std::decay_t<S>, nested_store>>>
  explicit nested_store(S&& s) : v_(std::forward<S>(s)) {}

  // The empty store of type `t`.
  static nested_store empty_of(type_tag t);

  type_tag type() const noexcept { return static_cast<type_tag>(v_.index() + 1); }
  const variant_type& variant() const noexcept { return v_; }

  bool empty() const noexcept {
    return std::visit([](const auto& s) { return s.empty(); }, v_);
  }
  template <class F>
  void for_each_dot(F&& f) const {
    std::visit([&](const auto& s) { s.for_each_dot(f); }, v_);
  }
  // REQUIRES: other.type() == type() (guaranteed by field_key).
  void join(const dot_context& mine, const nested_store& other, const dot_context& theirs);
  void filter(const dot_context& ctx) {
    std::visit([&](auto& s) { s.filter(ctx); }, v_);
  }

  friend bool operator==(const nested_store&, const nested_store&);

 private:
  variant_type v_;
};

}  // namespace rumor::crdt
