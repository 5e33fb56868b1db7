// persistence_bench — updates/s of lmdb_store vs bare LMDB on the same disk.
//
//   persistence_bench [dir] [seconds per run]
//
// dir defaults to $RUMOR_BENCH_DIR, else ./persistence_bench_data (put it on the disk you care
// about: /tmp may be tmpfs). Each run uses a fresh sub-directory of it, removed afterwards.
// Workload: sequential string keys "key/%012u" (16 bytes), 100-byte values.
//   bare LMDB      1000 puts per transaction, default flags (fsync per commit)
//   group commit   lmdb_store durable: one commit() of a group of 1000 one-update batches (what the
//                  storage actor does), and of one 1000-update batch
//   single         one update per commit, durable (and bare LMDB likewise), for reference
//   relaxed        lmdb_store relaxed (MDB_NOSYNC), group of 1000, for reference

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "persistence/bench_bare_lmdb.hpp"
#include "persistence/lmdb_store.hpp"

using namespace rumor;
using namespace rumor::persistence;
using bench::run_result;

namespace {

std::string fresh_dir(const std::string& root, const std::string& name) {
  const std::string d = root + "/" + name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// Commits through lmdb_store: `batches_per_commit` batches of `updates_per_batch` puts each.
result<run_result> store_puts(const std::string& dir, durability mode,
                              std::size_t batches_per_commit, std::size_t updates_per_batch,
                              const std::string& value, double seconds) {
  options o;
  o.dir = dir;
  o.mode = mode;
  o.initial_map_bytes = uint64_t{16} << 30;  // as the bare run: no growth inside the timing
  o.max_map_bytes = o.initial_map_bytes;
  auto opened = lmdb_store::open(o);
  if (!opened) return opened.err();
  lmdb_store& s = **opened;
  std::vector<write_batch> group(batches_per_commit);
  run_result r;
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    uint64_t i = r.updates;
    for (auto& b : group) {
      b.clear();
      for (std::size_t u = 0; u < updates_per_batch; ++u) b.put_value(bench::bench_key(i++), value);
    }
    if (auto st = s.commit(group); !st) return st.err();
    r.updates = i;
    ++r.commits;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

void print(const char* name, const result<run_result>& r, double baseline) {
  if (!r) {
    std::printf("%-52s FAILED: %s\n", name, r.err().describe().c_str());
    return;
  }
  std::printf("%-52s %12.0f updates/s  %9.0f commits/s", name, r->per_second(),
              static_cast<double>(r->commits) / r->seconds);
  if (baseline > 0) std::printf("  %5.2fx bare", r->per_second() / baseline);
  std::printf("\n");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::string root = "persistence_bench_data";
  if (const char* env = std::getenv("RUMOR_BENCH_DIR")) root = env;
  if (argc > 1) root = argv[1];
  const double seconds = argc > 2 ? std::atof(argv[2]) : 3.0;
  std::filesystem::create_directories(root);

  std::string value(100, '\0');
  std::mt19937_64 rng(42);
  for (auto& c : value) c = static_cast<char>(rng());

  std::printf("persistence_bench: dir %s, %.1f s per run, 100-byte values, sequential keys\n",
              std::filesystem::absolute(root).c_str(), seconds);

  const auto bare = bench::bare_lmdb_puts(fresh_dir(root, "bare"), 1000, value, seconds, false);
  print("bare LMDB, 1000 puts/txn, durable", bare, 0);
  const double base = bare ? bare->per_second() : 0;
  print("lmdb_store durable, group of 1000 1-update batches",
        store_puts(fresh_dir(root, "group"), durability::durable, 1000, 1, value, seconds), base);
  print("lmdb_store durable, 1 batch of 1000 updates",
        store_puts(fresh_dir(root, "batch"), durability::durable, 1, 1000, value, seconds), base);
  print("lmdb_store relaxed, group of 1000 1-update batches",
        store_puts(fresh_dir(root, "relaxed"), durability::relaxed, 1000, 1, value, seconds), base);
  const auto bare1 = bench::bare_lmdb_puts(fresh_dir(root, "bare1"), 1, value, seconds, false);
  print("bare LMDB, 1 put/txn, durable", bare1, 0);
  print("lmdb_store durable, 1 update per commit",
        store_puts(fresh_dir(root, "single"), durability::durable, 1, 1, value, seconds),
        bare1 ? bare1->per_second() : 0);
  for (const char* sub : {"bare", "group", "batch", "relaxed", "bare1", "single"}) {
    std::filesystem::remove_all(root + "/" + sub);
  }
  std::error_code ec;
  std::filesystem::remove(root, ec);  // only if empty: never delete what we did not create
  return bare ? 0 : 1;
}
