#pragma once
// push_tree: to whom a node pushes the deltas of one origin (PROTOCOL.md, "Dissemination").
//
// Each origin's deltas travel down a `fanout`-ary tree over the members, rooted at the origin:
// the members sorted by node id and rotated so that the origin comes first; the member at
// position r pushes to the members at positions fanout*r + 1 ... fanout*r + fanout. Every node
// derives the same tree from the same membership, so each replica is pushed each delta once and
// a delta reaches N members in about log_fanout N hops. Where two nodes' views of the membership
// differ, a few replicas get a copy twice or none; lazy announcements (ihave) and pull
// anti-entropy repair what a tree misses.
//
// Pure and deterministic; no state.

#include <cstddef>
#include <vector>

#include "crdt/dot.hpp"

namespace rumor::replication {

using crdt::node_id;

// The children of `self` in `origin`'s tree over `members` (which need not be sorted, and to
// which `origin` and `self` are added when missing). Empty when fanout is 0. Ascending ids.
std::vector<node_id> push_tree_children(std::vector<node_id> members, node_id origin, node_id self, size_t fanout);

}  // namespace rumor::replication
