// replication_sim: runs any number of seeded simulation schedules.
//   replication_sim <first-seed> <count> [duration-ms] [--collect|--no-collect] [--text] [--maps]
// --collect / --no-collect override replica_config::collect_tombstones (default: the replica's
// default); --text adds concurrent splices of text keys (workload_options::text); --maps updates of or_map keys (workload_options::maps). Prints each failing seed (it reproduces exactly) and exits 1 if any failed.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "workload.hpp"

int main(int argc, char** argv) {
  rumor::sim::workload_options opt;
  std::vector<const char*> pos;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--collect")) opt.collect_tombstones = true;
    else if (!std::strcmp(argv[i], "--no-collect")) opt.collect_tombstones = false;
    else if (!std::strcmp(argv[i], "--text")) opt.text = true;
    else if (!std::strcmp(argv[i], "--maps")) opt.maps = true;
    else pos.push_back(argv[i]);
  }
  if (pos.size() < 2) {
    std::fprintf(stderr, "usage: %s <first-seed> <count> [duration-ms] [--collect|--no-collect] [--text] [--maps]\n", argv[0]);
    return 2;
  }
  uint64_t first = std::strtoull(pos[0], nullptr, 10);
  uint64_t count = std::strtoull(pos[1], nullptr, 10);
  if (pos.size() > 2) opt.duration_ms = std::strtoull(pos[2], nullptr, 10);
  uint64_t failed = 0, stability_checked = 0, collected = 0, by_elements = 0, in_pages = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    auto r = rumor::sim::run_workload(seed, opt);
    stability_checked += r.stability_checked;
    collected += r.tombstones_collected;
    by_elements += r.sets_repaired_by_elements;
    in_pages += r.sets_transferred_in_pages;
    if (!r.converged || !r.failure.empty()) {
      ++failed;
      std::printf("FAIL seed %llu: %s\n", static_cast<unsigned long long>(seed), r.failure.c_str());
      std::fflush(stdout);
    }
  }
  std::printf("%llu of %llu schedules passed (collection %s; %llu tombstones collected; %llu sets repaired by "
              "their elements; %llu sets of full transfers fetched in pages; %llu schedules ended with every member up and were checked for leftover "
              "tombstones and log entries)\n",
              static_cast<unsigned long long>(count - failed), static_cast<unsigned long long>(count),
              opt.collect_tombstones ? "on" : "off", static_cast<unsigned long long>(collected),
              static_cast<unsigned long long>(by_elements), static_cast<unsigned long long>(in_pages),
              static_cast<unsigned long long>(stability_checked));
  return failed ? 1 : 0;
}
