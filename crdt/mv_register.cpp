#include "crdt/mv_register.hpp"

namespace rumor::crdt {

std::vector<std::string> mv_register::siblings() const {
  std::vector<std::string> out;
  out.reserve(store_.size());
  for (const auto& e : store_.entries()) out.push_back(e.second);
  return out;
}

dot_context mv_register::read_context() const {
  std::vector<dot> dots;
  store_.for_each_dot([&](const dot& d) { dots.push_back(d); });
  return dot_context::of(dots);
}

mv_register mv_register::assign(node_id self, std::string_view value,
                                const std::optional<dot_context>& seen) {
  dot_context superseded = seen ? seen->intersect(ctx_) : read_context();
  dot d = ctx_.next_dot(self);
  superseded.insert(d);
  dot_fun<std::string> s;
  s.insert(d, std::string(value));
  mv_register delta{std::move(s), std::move(superseded)};
  join(delta);
  return delta;
}

std::variant<mv_register, mv_conflict> mv_register::assign_if(node_id self, std::string_view value,
                                                              const dot_context& seen) {
  bool stale = false;
  store_.for_each_dot([&](const dot& d) { stale = stale || !seen.contains(d); });
  if (stale) return mv_conflict{siblings(), read_context()};
  return assign(self, value, seen);
}

}  // namespace rumor::crdt
