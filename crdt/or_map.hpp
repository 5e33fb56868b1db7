#pragma once
// or_map: observed-remove map from string names to nested CRDT values of any rumor type, with
// nested deltas (Almeida et al., delta-state CRDTs, §7.3, ORMap; field identity (name, type) as in
// riak_dt_map). Updating a field runs that type's own mutator against the field's store and the
// map's shared context and returns a map delta holding only the nested delta. Removing a field
// (optionally only what a caller-supplied context observed) resets it: a concurrent update to the
// field survives, with only the concurrent part. One limit, shared with Akka's ORMap and riak_dt's
// embedded counters: a counter contribution is its node's running total, so when node N increments
// a counter field concurrently with its removal, N's whole total survives (other nodes' totals are
// reset).

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "base/result.hpp"
#include "crdt/causal.hpp"
#include "crdt/nested_store.hpp"

namespace rumor::crdt {

class or_map : public causal<map_store> {
 public:
  static constexpr type_tag tag = type_tag::or_map;
  using causal::causal;

  // Applies `mutate` to the field (`name`, T) — created empty when absent — and returns the map
  // delta. `mutate(T& field)` calls one mutator of T on `field` and returns what it returns (T, or
  // result<T>, whose error is passed through and changes nothing).
  //   m.update<or_set>("tags", [&](or_set& s) { return s.add(self, "red"); });
  template <class T, class F>
  result<or_map> update(std::string_view name, F&& mutate);

  // Removes every field called `name` as observed here; returns the delta.
  or_map remove(std::string_view name);
  // Removes only what `observed` covers of the fields called `name`; returns the delta.
  or_map remove(std::string_view name, const dot_context& observed);
  // Removes the one field (`name`, `type`) as observed here (fields of other types under that
  // name stay); returns the delta.
  or_map remove(std::string_view name, type_tag type);

  // The field (`name`, T) as a standalone value (its store with the map's context); nullopt if
  // absent.
  template <class T>
  std::optional<T> get(std::string_view name) const {
    const nested_store* s = store_.find(field_key{std::string(name), T::tag});
    if (!s) return std::nullopt;
    return T{std::get<typename T::store_type>(s->variant()), ctx_};
  }

  // Present fields, ordered by (name, type).
  std::vector<field_key> fields() const;
  size_t size() const noexcept { return store_.size() + hidden_; }

  // A window onto a bigger map (the replica's decomposed storage, replication/map_records.hpp):
  // the fields one update touches, `loaded`, with the map's whole context; `hidden` more fields
  // exist and were not loaded. size() counts them; get(), fields(), remove() and join() see only
  // the loaded ones, so a window serves updates of the fields it holds (join: of deltas that touch
  // only them). Windows never leave the replica.
  static or_map window(map_store loaded, dot_context ctx, size_t hidden) {
    or_map m{std::move(loaded), std::move(ctx)};
    m.hidden_ = hidden;
    return m;
  }
  size_t hidden() const noexcept { return hidden_; }

  void join(const or_map& other) { join_parts(other.store_, other.ctx_); }

  friend bool operator==(const or_map&, const or_map&) = default;

 private:
  // `type`: only that type's field of the name (nullopt: every type).
  or_map remove_dots(std::string_view name, const dot_context* observed, std::optional<type_tag> type = std::nullopt);

  size_t hidden_ = 0;
};

template <class T, class F>
result<or_map> or_map::update(std::string_view name, F&& mutate) {
  field_key key{std::string(name), T::tag};
  const nested_store* cur = store_.find(key);
  T field = cur ? T{std::get<typename T::store_type>(cur->variant()), ctx_}
                : T{typename T::store_type{}, ctx_};
  auto out = mutate(field);
  const T* nested_delta = nullptr;
  if constexpr (std::is_same_v<decltype(out), T>) {
    nested_delta = &out;
  } else {
    if (!out) return out.err();
    nested_delta = &*out;
  }
  or_map delta{{}, nested_delta->context()};
  delta.store_.set(key, nested_store{nested_delta->store()});
  join(delta);
  return delta;
}

}  // namespace rumor::crdt
