#include "crdt/ew_flag.hpp"

#include <vector>

namespace rumor::crdt {

ew_flag ew_flag::enable(node_id self) {
  dot d = ctx_.next_dot(self);
  std::vector<dot> superseded = store_.dots();
  superseded.push_back(d);
  ew_flag delta{dot_set{{d}}, dot_context::of(superseded)};
  join(delta);
  return delta;
}

ew_flag ew_flag::disable() {
  if (store_.empty()) return {};
  ew_flag delta{{}, dot_context::of(store_.dots())};
  join(delta);
  return delta;
}

}  // namespace rumor::crdt
