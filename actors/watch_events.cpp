#include "actors/watch_events.hpp"

#include <map>
#include <utility>

namespace rumor::actors {

namespace {

// A key's members (a map: field names) the step touched: name -> (present before the step,
// present after it).
struct member_moves {
  std::map<std::string, std::pair<bool, bool>> moves;
  bool complete = true;
  bool known = true;  // false once a change of the key said nothing of its members
  uint64_t size = 0;

  void note(const std::string& member, bool was, bool is) {
    auto it = moves.find(member);
    if (it != moves.end()) {
      it->second.second = is;
    } else if (moves.size() < replication::set_diff::max_listed) {
      moves.emplace(member, std::pair{was, is});
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
    for (const auto& m : c.set->added) mm.note(m, false, true);
    for (const auto& m : c.set->removed) mm.note(m, true, false);
    for (const auto& m : c.set->changed) mm.note(m, true, true);
  }
  std::vector<key_step> out;
  out.reserve(by_key.size());
  for (auto& [kt, entry] : by_key) {
    auto& [origin, mm] = entry;
    key_step s{kt.first, kt.second, origin, std::nullopt};
    const bool is_map = kt.second == crdt::type_tag::or_map;
    if (mm.known && (kt.second == crdt::type_tag::or_set || is_map)) {
      client::set_changes sc;
      sc.size = mm.size;
      sc.complete = mm.complete;
      sc.type = kt.second;
      for (const auto& [member, move] : mm.moves) {
        if (!move.first && !move.second) continue;  // joined and left again
        // A set member that left and joined again is where it was; a map field present before
        // and after was written.
        if (move.first && move.second) {
          if (is_map) sc.changed.push_back(member);
          continue;
        }
        (move.second ? sc.added : sc.removed).push_back(member);
      }
      s.set = std::move(sc);
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace rumor::actors
