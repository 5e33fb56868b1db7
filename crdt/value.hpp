#pragma once
// value: one CRDT value of any rumor type, with its type tag — what a key of the keyspace holds.
// A key's type is fixed at first write; joining values of different types is refused with
// errc::type_mismatch (nothing changes).

#include <optional>
#include <variant>

#include "base/result.hpp"
#include "crdt/ew_flag.hpp"
#include "crdt/g_counter.hpp"
#include "crdt/lww_register.hpp"
#include "crdt/mv_register.hpp"
#include "crdt/or_map.hpp"
#include "crdt/or_set.hpp"
#include "crdt/pn_counter.hpp"
#include "crdt/text.hpp"
#include "crdt/type_tag.hpp"

namespace rumor::crdt {

class value {
 public:
  // Alternative i holds type_tag(i + 1).
  using variant_type =
      std::variant<g_counter, pn_counter, lww_register, mv_register, or_set, or_map, ew_flag, text>;

  value() = default;  // an empty g_counter
  template <class T, class = std::enable_if_t<!std::is_same_v<std::decay_t<T>, value>>>
  value(T&& v) : v_(std::forward<T>(v)) {}

  // The bottom value of type `t`.
  static value empty_of(type_tag t);
  // A value of type `t` that holds nothing but has seen `ctx`.
  static value empty_of(type_tag t, const dot_context& ctx);

  type_tag type() const noexcept { return static_cast<type_tag>(v_.index() + 1); }
  const variant_type& variant() const noexcept { return v_; }
  variant_type& variant() noexcept { return v_; }

  template <class T> T* get_if() noexcept { return std::get_if<T>(&v_); }
  template <class T> const T* get_if() const noexcept { return std::get_if<T>(&v_); }

  const dot_context& context() const noexcept {
    return std::visit([](const auto& x) -> const dot_context& { return x.context(); }, v_);
  }
  bool is_bottom() const noexcept {
    return std::visit([](const auto& x) { return x.is_bottom(); }, v_);
  }
  // True iff the value holds nothing (never written, or removed): its store is empty (and, for a
  // window, nothing is hidden), though its context may still remember what was removed.
  bool holds_nothing() const noexcept {
    return std::visit(
        [](const auto& x) {
          // A window (or_set::window, or_map::window) holds the elements it did not load.
          if constexpr (requires { x.hidden(); }) return x.store().empty() && x.hidden() == 0;
          else return x.store().empty();
        },
        v_);
  }
  // Removes everything this value holds as observed here (the context keeps what was removed, so
  // late deltas cannot bring it back); returns the delta. Used for key deletion.
  value remove_observed();

  // Joins `other` (a state or a delta) into *this. errc::type_mismatch when the types differ.
  status join(const value& other);

  friend bool operator==(const value&, const value&) = default;

 private:
  variant_type v_;
};

// A nested store (an or_map field's) as a standalone value with context `ctx` (the map's).
value value_of(const nested_store& s, const dot_context& ctx);
// The field `f` of `m` as a standalone value (the field's store with the map's context); nullopt
// when `m` has no such field.
std::optional<value> field_value(const or_map& m, const field_key& f);

}  // namespace rumor::crdt
