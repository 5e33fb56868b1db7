#pragma once
// watch_events: what watches are told of one replica step (client.capnp Event). A step may change
// a key several times (a burst of updates, a page of a repair); a watch gets one event per key and
// type per step, carrying the value after the whole step, and for an or_set or or_map what the
// whole step did to its members or fields: a member that joined and left again within the step
// is in no list; a map field present before and after the step that was written is `changed`.
// Pure: the replica actor reads values and sends the events (replica_actor.cpp).

#include <optional>
#include <string>
#include <vector>

#include "client/client_messages.hpp"
#include "crdt/type_tag.hpp"
#include "replication/replica.hpp"

namespace rumor::actors {

struct key_step {
  std::string key;
  crdt::type_tag type = crdt::type_tag::g_counter;
  uint64_t origin = 0;                     // the last change's origin
  std::optional<client::set_changes> set;  // or_sets and or_maps whose every change said what it did
};

// One entry per (key, type) of `changes`, ordered by key then type. The lists of `set` hold at
// most replication::set_diff::max_listed members in all (else complete is false).
std::vector<key_step> merge_step(const std::vector<replication::change>& changes);

// Whether a watch is sent `step`'s value (`changes`: it asked for set changes of a set, field
// changes of a map): not when it asked and the set or map is bigger than
// client::watch_value_max_members (members, fields).
inline bool event_carries_value(const key_step& step, bool changes) {
  return !(changes && step.set && step.set->size > client::watch_value_max_members);
}

}  // namespace rumor::actors
