// Helper process of crash_test: writes groups of batches (crash_batch.hpp) to a store in a loop
// and reports every committed batch number on stdout, one line each, only after its commit
// returned. It runs until killed.
//
// usage: persistence_crash_child <dir> <durable|relaxed> <first batch> <seed> [eager|hold]
//   eager: materialize after every few KiB (kills land inside materializations) and recreate a
//          log past 64 KiB whenever idle (and inside that)
//   hold:  never materialize (the write-ahead log grows; the next child replays it at open)

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "crash_batch.hpp"
#include "persistence/lmdb_store.hpp"

using namespace rumor::persistence;

namespace {

bool write_all(const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(1, s.data() + done, s.size() - done);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) {
    std::fprintf(stderr, "usage: %s <dir> <durable|relaxed> <first batch> <seed> [eager|hold]\n", argv[0]);
    return 2;
  }
  options o;
  o.dir = argv[1];
  o.mode = std::string{argv[2]} == "relaxed" ? durability::relaxed : durability::durable;
  o.initial_map_bytes = 256 * 1024;  // small, so that children also grow the map
  o.max_map_bytes = uint64_t{1} << 30;
  const std::string wb = argc == 6 ? argv[5] : "";
  const bool eager = wb == "eager";
  if (wb == "eager") {
    o.materialize_bytes = 8 * 1024;
    o.materialize_interval_ms = 1;
    o.log_shrink_bytes = 64 * 1024;  // idle moments recreate the log: kills land there too
  } else if (wb == "hold") {
    o.materialize_bytes = uint64_t{1} << 40;
    o.write_behind_bytes = uint64_t{1} << 40;
    o.materialize_interval_ms = uint64_t{1} << 40;
  }
  uint64_t next = std::strtoull(argv[3], nullptr, 10);
  const uint64_t seed = std::strtoull(argv[4], nullptr, 10);

  auto s = lmdb_store::open(o);
  if (!s) {
    std::fprintf(stderr, "crash_child: open failed: %s\n", s.err().describe().c_str());
    return 3;
  }
  if (!write_all("ready\n")) return 4;
  std::mt19937_64 rng(seed ^ next);
  for (;;) {
    std::vector<write_batch> group;
    const uint64_t n = 1 + rng() % 3;
    for (uint64_t i = 0; i < n; ++i) group.push_back(test::crash_write_batch(seed, next + i));
    auto st = (*s)->commit(group);
    if (!st) {
      std::fprintf(stderr, "crash_child: commit failed: %s\n", st.err().describe().c_str());
      return 3;
    }
    std::string report;
    for (uint64_t i = 0; i < n; ++i) report += std::to_string(next + i) + "\n";
    if (!write_all(report)) return 4;
    next += n;
    // Eager children pause now and then: the store falls idle, and its idle round recreates
    // the log (kills land before, inside and after that too).
    if (eager && rng() % 64 == 0) ::usleep(5'000 + static_cast<useconds_t>(rng() % 10'000));
  }
}
