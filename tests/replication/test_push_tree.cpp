// The push tree (replication/push_tree.hpp): for random memberships, each origin's tree reaches
// every member exactly once within about log_fanout N hops; the relaying is spread over the
// members; nodes that see the same members derive the same tree whatever order they list them in.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "replication/push_tree.hpp"
#include "seed.hpp"

using namespace rumor;
using namespace rumor::replication;

namespace {

std::vector<node_id> random_members(std::mt19937_64& rng, size_t n) {
  std::set<node_id> ids;
  while (ids.size() < n) ids.insert(rng() | 1);
  std::vector<node_id> out(ids.begin(), ids.end());
  std::shuffle(out.begin(), out.end(), rng);
  return out;
}

// Each member's parent count and depth in origin's tree, following every member's children as
// that member computes them (each with the member list in its own order).
struct walk {
  std::map<node_id, int> parents;
  std::map<node_id, size_t> depth;
  size_t max_depth = 0;
};

walk walk_tree(std::mt19937_64& rng, const std::vector<node_id>& members, node_id origin, size_t fanout) {
  walk w;
  w.depth[origin] = 0;
  std::vector<node_id> frontier{origin};
  while (!frontier.empty()) {
    std::vector<node_id> next;
    for (node_id at : frontier) {
      auto view = members;
      std::shuffle(view.begin(), view.end(), rng);
      for (node_id c : push_tree_children(view, origin, at, fanout)) {
        ++w.parents[c];
        if (w.depth.count(c)) continue;
        w.depth[c] = w.depth[at] + 1;
        w.max_depth = std::max(w.max_depth, w.depth[c]);
        next.push_back(c);
      }
    }
    frontier = std::move(next);
  }
  return w;
}

}  // namespace

TEST_CASE("push tree: each origin's tree reaches every member exactly once, in about log_fanout N hops") {
  uint64_t seed = test::seed_for("push tree");
  INFO("RUMOR_SEED=" << seed);
  std::mt19937_64 rng(seed);
  for (size_t n : {1, 2, 3, 4, 5, 16, 17, 64, 1000}) {
    for (size_t fanout : {1, 2, 3, 5}) {
      if (fanout == 1 && n > 64) continue;  // a chain: quadratic to walk
      CAPTURE(n);
      CAPTURE(fanout);
      auto members = random_members(rng, n);
      for (int k = 0; k < 3; ++k) {
        node_id origin = members[rng() % n];
        walk w = walk_tree(rng, members, origin, fanout);
        CHECK(w.depth.size() == n);                 // everyone reached
        CHECK(w.parents.count(origin) == 0);        // never pushed back to the origin
        for (auto& [id, count] : w.parents) CHECK(count == 1);  // each pushed to once
        // A complete fanout-ary tree of n nodes: depth = the least d with 1 + f + ... + f^d >= n.
        size_t bound = 0;
        for (size_t covered = 1, level = 1; covered < n; ++bound) covered += (level *= fanout);
        CHECK(w.max_depth == bound);
      }
    }
  }
}

TEST_CASE("push tree: every member relays for some origins, and none for most") {
  uint64_t seed = test::seed_for("push tree load");
  INFO("RUMOR_SEED=" << seed);
  std::mt19937_64 rng(seed);
  auto members = random_members(rng, 16);
  std::map<node_id, size_t> pushes;  // deltas a member sends when every member writes one
  for (node_id origin : members)
    for (node_id at : members) pushes[at] += push_tree_children(members, origin, at, 3).size();
  size_t total = 0;
  for (auto& [id, count] : pushes) {
    CHECK(count >= 3);  // at least its own deltas' first hop
    CHECK(count <= 5 * 3);
    total += count;
  }
  CHECK(total == 16 * 15);  // one push per member per origin's delta, no more
}

TEST_CASE("push tree: origin and self are taken as members when missing, and fanout 0 pushes to nobody") {
  std::vector<node_id> none;
  CHECK(push_tree_children(none, 7, 7, 3).empty());
  CHECK(push_tree_children({2}, 7, 7, 3) == std::vector<node_id>{2});
  // Self missing from its own view of a 3-member list: it still finds its place.
  CHECK(push_tree_children({1, 2, 3}, 1, 4, 1).empty());  // order 1 2 3 4: 4 is the chain's end
  CHECK(push_tree_children({1, 2, 4}, 1, 3, 1) == std::vector<node_id>{4});
  CHECK(push_tree_children({1, 2, 3, 4}, 3, 3, 2) == std::vector<node_id>{1, 4});  // order 3 4 1 2
  CHECK(push_tree_children({1, 2, 3, 4}, 3, 4, 2) == std::vector<node_id>{2});
  CHECK(push_tree_children({1, 2, 3, 4}, 3, 1, 2).empty());
  CHECK(push_tree_children({1, 2, 3}, 1, 1, 0).empty());
  // Duplicates in the list change nothing.
  CHECK(push_tree_children({3, 1, 2, 2, 1}, 1, 1, 2) == std::vector<node_id>{2, 3});
}
