#pragma once
// or_set: add-wins observed-remove set, tombstone-free (Bieniusa et al., "An optimized
// conflict-free replicated set", 2012; delta form from Almeida et al., delta-state CRDTs, §7.2,
// AWORSet). Each present element owns the dots of the adds that created it; remove covers the
// observed dots with a context, so an add concurrent with a remove survives (add wins).
// Storage is a dot_map<element, dot_set>: removed elements leave nothing behind.

#include <string>
#include <string_view>
#include <vector>

#include "crdt/causal.hpp"
#include "crdt/dot_map.hpp"
#include "crdt/dot_set.hpp"
#include "crdt/type_tag.hpp"

namespace rumor::crdt {

class or_set : public causal<dot_map<std::string, dot_set>> {
 public:
  static constexpr type_tag tag = type_tag::or_set;
  using causal::causal;

  // Adds `element` for `self`; returns the delta.
  or_set add(node_id self, std::string_view element);
  // Removes `element` as observed here; returns the delta (empty when absent).
  or_set remove(std::string_view element);
  // Removes every element observed here; returns the delta.
  or_set clear();

  // A window onto a bigger set (the replica's decomposed storage, replication/set_records.hpp):
  // the elements one update touches, `loaded`, with the set's whole context; `hidden` more
  // elements exist and were not loaded. size() counts them; contains(), elements(), clear() and
  // join() see only the loaded ones, so a window serves updates of the elements it holds (join:
  // of deltas that touch only them). Windows never leave the replica.
  static or_set window(dot_map<std::string, dot_set> loaded, dot_context ctx, size_t hidden) {
    or_set s{std::move(loaded), std::move(ctx)};
    s.hidden_ = hidden;
    return s;
  }
  size_t hidden() const noexcept { return hidden_; }

  bool contains(std::string_view element) const { return store_.find(element) != nullptr; }
  size_t size() const noexcept { return store_.size() + hidden_; }
  // Elements in ascending byte order.
  std::vector<std::string> elements() const;

  void join(const or_set& other) { join_parts(other.store_, other.ctx_); }

  friend bool operator==(const or_set&, const or_set&) = default;

 private:
  size_t hidden_ = 0;
};

}  // namespace rumor::crdt
