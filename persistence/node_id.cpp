#include "persistence/node_id.hpp"

#include <random>

namespace rumor::persistence {

uint64_t random_node_id() {
  std::random_device rd;
  for (;;) {
    // random_device yields 32-bit values; combine two.
    const uint64_t hi = rd();
    const uint64_t lo = rd();
    const uint64_t id = (hi << 32) ^ lo;
    if (id != 0) return id;
  }
}

}  // namespace rumor::persistence
