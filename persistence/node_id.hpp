#pragma once
// rumor::persistence::random_node_id — a fresh node identity.

#include <cstdint>

namespace rumor::persistence {

// Returns a random 64-bit id from std::random_device; never 0 (0 means "no node" elsewhere).
uint64_t random_node_id();

}  // namespace rumor::persistence
