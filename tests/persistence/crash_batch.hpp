#pragma once
// The batches written by crash_child and verified by crash_test: batch i is a pure function of
// (seed, i), so the parent can tell a complete batch from a partial one.
//
// Batch i holds:
//   values  "b/<i, 10 digits>/<j, 4 digits>" for j < count(i), random bytes (seeded by seed, i)
//   delta   origin 7, seq i: "delta <i>"
//   meta    "last" = decimal i
//   and, when i % 10 == 9 and i >= 20, truncate_deltas(7, i - 20).

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "persistence/write_batch.hpp"

namespace rumor::persistence::test {

inline constexpr uint64_t crash_origin = 7;

inline std::string crash_key(uint64_t batch, uint64_t j) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "b/%010llu/%04llu", static_cast<unsigned long long>(batch),
                static_cast<unsigned long long>(j));
  return buf;
}

inline std::vector<std::pair<std::string, std::string>> crash_values(uint64_t seed,
                                                                     uint64_t batch) {
  std::mt19937_64 rng(seed ^ (batch * 0x9E3779B97F4A7C15ULL));
  const uint64_t count = 1 + rng() % 20;
  std::vector<std::pair<std::string, std::string>> out;
  for (uint64_t j = 0; j < count; ++j) {
    std::string v(10 + rng() % 400, '\0');
    for (auto& c : v) c = static_cast<char>(rng());
    out.emplace_back(crash_key(batch, j), std::move(v));
  }
  return out;
}

inline std::string crash_delta(uint64_t batch) { return "delta " + std::to_string(batch); }

inline write_batch crash_write_batch(uint64_t seed, uint64_t batch) {
  write_batch b;
  for (const auto& [k, v] : crash_values(seed, batch)) b.put_value(k, v);
  b.append_delta(crash_origin, batch, crash_delta(batch));
  b.put_meta("last", std::to_string(batch));
  if (batch % 10 == 9 && batch >= 20) b.truncate_deltas(crash_origin, batch - 20);
  return b;
}

// The lowest delta sequence still present after batches 0..last were all applied.
inline uint64_t crash_delta_floor(uint64_t last) {
  uint64_t floor = 0;
  for (uint64_t i = 29; i <= last; i += 10) floor = i - 20 + 1;
  return floor;
}

}  // namespace rumor::persistence::test
