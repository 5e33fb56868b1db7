#include "crdt/or_set.hpp"

namespace rumor::crdt {

or_set or_set::add(node_id self, std::string_view element) {
  dot d = ctx_.next_dot(self);
  std::vector<dot> superseded{d};
  if (const dot_set* old = store_.find(element))
    superseded.insert(superseded.end(), old->dots().begin(), old->dots().end());
  dot_map<std::string, dot_set> s;
  s.set(std::string(element), dot_set{{d}});
  or_set delta{std::move(s), dot_context::of(superseded)};
  // Apply directly (same result as join(delta), which the law suite checks): the element's old
  // dots are all superseded by d, and they are already in ctx_.
  store_.set(std::string(element), dot_set{{d}});
  ctx_.insert(d);
  return delta;
}

or_set or_set::remove(std::string_view element) {
  const dot_set* old = store_.find(element);
  if (!old) return {};
  or_set delta{{}, dot_context::of(old->dots())};
  join(delta);
  return delta;
}

or_set or_set::clear() {
  std::vector<dot> all;
  store_.for_each_dot([&](const dot& d) { all.push_back(d); });
  or_set delta{{}, dot_context::of(all)};
  join(delta);
  return delta;
}

std::vector<std::string> or_set::elements() const {
  std::vector<std::string> out;
  out.reserve(store_.size());
  for (const auto& [e, dots] : store_.entries()) out.push_back(e);
  return out;
}

}  // namespace rumor::crdt
