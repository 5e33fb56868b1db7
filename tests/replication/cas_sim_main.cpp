// cas_sim: runs any number of seeded CAS-lane simulation schedules (cas_sim.hpp).
//   cas_sim <first-seed> <count> [duration-ms] [--nodes N] [--budget STATES] [--no-faults] [-v]
// Prints each failing seed (it reproduces exactly) and exits 1 if any failed.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cas_sim.hpp"

int main(int argc, char** argv) {
  rumor::cas_sim::schedule_options opt;
  std::vector<const char*> pos;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--no-faults")) opt.faults = false;
    else if (!std::strcmp(argv[i], "-v")) verbose = true;
    else if (!std::strcmp(argv[i], "--nodes") && i + 1 < argc) opt.nodes = std::strtoull(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--budget") && i + 1 < argc) opt.checker_budget = std::strtoull(argv[++i], nullptr, 10);
    else pos.push_back(argv[i]);
  }
  if (pos.size() < 2) {
    std::fprintf(stderr, "usage: %s <first-seed> <count> [duration-ms] [--nodes N] [--budget STATES] [--no-faults] [-v]\n", argv[0]);
    return 2;
  }
  uint64_t first = std::strtoull(pos[0], nullptr, 10);
  uint64_t count = std::strtoull(pos[1], nullptr, 10);
  if (pos.size() > 2) opt.duration_ms = std::strtoull(pos[2], nullptr, 10);
  uint64_t failed = 0, ops = 0, unknown = 0, unavailable = 0, increments = 0;
  auto start = std::chrono::steady_clock::now();
  for (uint64_t seed = first; seed < first + count; ++seed) {
    auto r = rumor::cas_sim::run_cas_schedule(seed, opt);
    ops += r.ops;
    unknown += r.unknown;
    unavailable += r.unavailable;
    increments += r.increments;
    if (verbose)
      std::printf("seed %llu: %zu nodes, %llu ops, %llu ok, %llu conflicts, %llu unknown, %llu unavailable, "
                  "%llu increments, %llu checker states\n",
                  static_cast<unsigned long long>(seed), r.nodes, static_cast<unsigned long long>(r.ops),
                  static_cast<unsigned long long>(r.ok), static_cast<unsigned long long>(r.conflicts),
                  static_cast<unsigned long long>(r.unknown), static_cast<unsigned long long>(r.unavailable),
                  static_cast<unsigned long long>(r.increments), static_cast<unsigned long long>(r.explored));
    if (!r.failure.empty()) {
      ++failed;
      std::printf("FAIL seed %llu (%zu nodes): %s\n", static_cast<unsigned long long>(seed), r.nodes, r.failure.c_str());
      std::fflush(stdout);
    }
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  std::printf("%llu of %llu schedules passed (%llu ops, %llu unknown, %llu unavailable, %llu increments) in %lld ms\n",
              static_cast<unsigned long long>(count - failed), static_cast<unsigned long long>(count),
              static_cast<unsigned long long>(ops), static_cast<unsigned long long>(unknown),
              static_cast<unsigned long long>(unavailable), static_cast<unsigned long long>(increments),
              static_cast<long long>(ms));
  return failed ? 1 : 0;
}
