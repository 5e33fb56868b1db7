// replication_sim: runs any number of seeded simulation schedules.
//   replication_sim <first-seed> <count> [duration-ms]
// Prints each failing seed (it reproduces exactly) and exits 1 if any failed.
#include <cstdio>
#include <cstdlib>

#include "workload.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <first-seed> <count> [duration-ms]\n", argv[0]);
    return 2;
  }
  uint64_t first = std::strtoull(argv[1], nullptr, 10);
  uint64_t count = std::strtoull(argv[2], nullptr, 10);
  rumor::sim::workload_options opt;
  if (argc > 3) opt.duration_ms = std::strtoull(argv[3], nullptr, 10);
  uint64_t failed = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    auto r = rumor::sim::run_workload(seed, opt);
    if (!r.converged || !r.failure.empty()) {
      ++failed;
      std::printf("FAIL seed %llu: %s\n", static_cast<unsigned long long>(seed), r.failure.c_str());
    }
  }
  std::printf("%llu of %llu schedules passed\n", static_cast<unsigned long long>(count - failed),
              static_cast<unsigned long long>(count));
  return failed ? 1 : 0;
}
