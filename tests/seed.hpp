#pragma once
// Seeds for randomized tests: RUMOR_SEED=<n> reproduces a run; otherwise a fresh seed is drawn.
// The seed is always printed (stderr, and attached to doctest failures by the caller's INFO).
// RUMOR_SIM_PERCENT=<1..100> shrinks the seeded-schedule loops of the long simulations
// (scaled_count); scripts/sanitize sets it, since ASan/UBSan make every schedule slower.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

namespace rumor::test {

inline uint64_t seed_for(const char* test_name) {
  uint64_t seed;
  if (const char* env = std::getenv("RUMOR_SEED"); env && *env) {
    seed = std::strtoull(env, nullptr, 10);
  } else {
    std::random_device rd;
    seed = (uint64_t{rd()} << 32) ^ rd();
  }
  std::fprintf(stderr, "[seed] %s: RUMOR_SEED=%llu\n", test_name, static_cast<unsigned long long>(seed));
  return seed;
}

// How many of a case's `full` seeded schedules to run: all of them, or RUMOR_SIM_PERCENT percent
// (an integer 1..100; anything else means 100), at least 1. The schedules run are the first ones
// of the full run, so their seeds (and the `replication_sim`/`cas_sim` replay lines) are the same.
// Checks over a whole block that hold by the law of large numbers belong to full blocks only.
inline int scaled_count(int full) {
  long percent = 100;
  if (const char* env = std::getenv("RUMOR_SIM_PERCENT"); env && *env) {
    char* end = nullptr;
    long p = std::strtol(env, &end, 10);
    if (*end == '\0' && p >= 1 && p <= 100) percent = p;
  }
  long n = static_cast<long>(full) * percent / 100;
  if (percent < 100) std::fprintf(stderr, "[scale] RUMOR_SIM_PERCENT=%ld: %ld of %d schedules\n", percent, n < 1 ? 1 : n, full);
  return n < 1 ? 1 : static_cast<int>(n);
}

}  // namespace rumor::test
