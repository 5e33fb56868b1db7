#pragma once
// Seeds for randomized tests: RUMOR_SEED=<n> reproduces a run; otherwise a fresh seed is drawn.
// The seed is always printed (stderr, and attached to doctest failures by the caller's INFO).

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

}  // namespace rumor::test
