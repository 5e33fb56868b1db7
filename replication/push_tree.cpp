// push_tree (push_tree.hpp).

#include "replication/push_tree.hpp"

#include <algorithm>

namespace rumor::replication {

std::vector<node_id> push_tree_children(std::vector<node_id> members, node_id origin, node_id self, size_t fanout) {
  std::vector<node_id> out;
  if (fanout == 0) return out;
  members.push_back(origin);
  members.push_back(self);
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  const size_t n = members.size();
  const size_t root = static_cast<size_t>(std::lower_bound(members.begin(), members.end(), origin) - members.begin());
  const size_t at = static_cast<size_t>(std::lower_bound(members.begin(), members.end(), self) - members.begin());
  const size_t rank = (at + n - root) % n;  // self's position in the rotated order
  // Children at positions fanout*rank + 1 ... fanout*rank + fanout, those below n.
  if (rank > (n - 1) / fanout) return out;  // then fanout*rank + 1 > n - 1: a leaf
  for (size_t k = 1; k <= fanout; ++k) {
    const size_t pos = fanout * rank + k;
    if (pos >= n) break;
    out.push_back(members[(root + pos) % n]);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace rumor::replication
