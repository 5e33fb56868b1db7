#include "crdt/lww_register.hpp"

#include <tuple>
#include <vector>

namespace rumor::crdt {

lww_register lww_register::assign(node_id self, hlc_timestamp ts, std::string_view value) {
  std::vector<dot> superseded;
  store_.for_each_dot([&](const dot& d) { superseded.push_back(d); });
  dot d = ctx_.next_dot(self);
  superseded.push_back(d);
  dot_fun<lww_entry> s;
  s.insert(d, lww_entry{ts, std::string(value)});
  lww_register delta{std::move(s), dot_context::of(superseded)};
  join(delta);
  return delta;
}

const dot_fun<lww_entry>::entry* lww_register::winner() const {
  const dot_fun<lww_entry>::entry* best = nullptr;
  for (const auto& e : store_.entries()) {
    if (!best || std::tie(best->second.timestamp, best->first.node, best->first.counter) <
                     std::tie(e.second.timestamp, e.first.node, e.first.counter))
      best = &e;
  }
  return best;
}

std::optional<std::string> lww_register::read() const {
  auto* w = winner();
  if (!w) return std::nullopt;
  return w->second.value;
}

hlc_timestamp lww_register::timestamp() const {
  auto* w = winner();
  return w ? w->second.timestamp : hlc_timestamp{};
}

}  // namespace rumor::crdt
