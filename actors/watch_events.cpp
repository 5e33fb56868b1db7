#include "actors/watch_events.hpp"

#include <map>
#include <utility>

namespace rumor::actors {

namespace {

// A key's members the step touched: member -> (present before the step, present after it).
struct member_moves {
  std::map<std::string, std::pair<bool, bool>> moves;
  bool complete = true;
  bool known = true;  // false once a change of the key said nothing of its members
  uint64_t size = 0;

  void note(const std::string& member, bool joined) {
    auto it = moves.find(member);
    if (it != moves.end()) {
      it->second.second = joined;
    } else if (moves.size() < replication::set_diff::max_listed) {
      moves.emplace(member, std::pair{!joined, joined});
    } else {
      complete = false;
    }
  }
};

}  // namespace

std::vector<key_step> merge_step(const std::vector<replication::change>& changes) {
  std::map<std::pair<std::string, crdt::type_tag>, std::pair<uint64_t, member_moves>> by_key;
  for (const auto& c : changes) {
    auto& [origin, mm] = by_key[{c.key, c.type}];
    origin = c.origin;
    if (!c.set) {
      mm.known = false;
      continue;
    }
    mm.size = c.set->size;
    mm.complete = mm.complete && c.set->complete;
    for (const auto& m : c.set->added) mm.note(m, true);
    for (const auto& m : c.set->removed) mm.note(m, false);
  }
  std::vector<key_step> out;
  out.reserve(by_key.size());
  for (auto& [kt, entry] : by_key) {
    auto& [origin, mm] = entry;
    key_step s{kt.first, kt.second, origin, std::nullopt};
    if (mm.known && kt.second == crdt::type_tag::or_set) {
      client::set_changes sc;
      sc.size = mm.size;
      sc.complete = mm.complete;
      for (const auto& [member, move] : mm.moves) {
        if (move.first == move.second) continue;  // joined and left again (or the reverse)
        (move.second ? sc.added : sc.removed).push_back(member);
      }
      s.set = std::move(sc);
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace rumor::actors
