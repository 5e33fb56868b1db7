#pragma once
// Baseline for bench/persistence_bench: the same puts as the benchmark's store workload, but
// through the bare LMDB C API (default flags: one fsync per commit). It lives here, not in bench/,
// so that lmdb.h stays inside persistence/; it is compiled into the benchmark program only, not
// into rumor_persistence.

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace rumor::persistence::bench {

// Key i of the benchmark workloads: "key/" + 12 zero-padded digits (sequential inserts).
inline std::string bench_key(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "key/%012llu", static_cast<unsigned long long>(i));
  return buf;
}

struct run_result {
  uint64_t updates = 0;
  uint64_t commits = 0;
  double seconds = 0;
  double per_second() const { return seconds > 0 ? static_cast<double>(updates) / seconds : 0; }
};

// Creates a fresh LMDB environment in `dir` (which must exist and be empty) and commits
// transactions of `per_commit` puts (keys bench_key(0, 1, ...), each with `value`) until
// `seconds` have passed. `nosync` sets MDB_NOSYNC.
result<run_result> bare_lmdb_puts(const std::string& dir, std::size_t per_commit,
                                  std::string_view value, double seconds, bool nosync);

}  // namespace rumor::persistence::bench
