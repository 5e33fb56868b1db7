// persistence_bench — updates/s of lmdb_store vs bare LMDB on the same disk.
//
//   persistence_bench [dir] [seconds per run] [only runs whose name contains this]
//
// dir defaults to $RUMOR_BENCH_DIR, else ./persistence_bench_data (put it on the disk you care
// about: /tmp may be tmpfs). Each run uses a fresh sub-directory of it, removed afterwards.
// Workload: sequential string keys "key/%012u" (16 bytes), 100-byte values.
//   bare LMDB      1000 puts per transaction, default flags (fsync per commit)
//   group commit   lmdb_store durable: one commit() of a group of 1000 one-update batches (what the
//                  storage actor does), and of one 1000-update batch
//   single         one update per commit, durable (and bare LMDB likewise), for reference
//   relaxed        lmdb_store relaxed (MDB_NOSYNC), group of 1000, for reference
//   replica-shaped what a replica commits per counter update (value, bucket index and digest
//                  meta records, a delta log record; the vector and clock once per batch), over
//                  100k keys in batches of 1000 updates: the storage actor's real load

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

// The records a replica writes for `updates_per_batch` counter updates per batch (see
// replication/replica_values.cpp write_value and replica.cpp): over a 100k-key space.
result<run_result> store_replica_shaped(const std::string& dir, durability mode, std::size_t updates_per_batch,
                                        double seconds) {
  options o;
  o.dir = dir;
  o.mode = mode;
  o.initial_map_bytes = uint64_t{16} << 30;
  o.max_map_bytes = o.initial_map_bytes;
  auto opened = lmdb_store::open(o);
  if (!opened) return opened.err();
  lmdb_store& s = **opened;
  write_batch b;
  run_result r;
  uint64_t seq = 0;
  const std::string value(34, 'v'), delta(40, 'd'), hash(8, 'h'), vv(24, 'c');
  auto be32 = [](uint32_t x) {
    std::string out(4, '\0');
    for (int i = 0; i < 4; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>(x >> (24 - 8 * i));
    return out;
  };
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    b.clear();
    for (std::size_t u = 0; u < updates_per_batch; ++u) {
      const uint64_t i = r.updates + u;
      const std::string key = "l:" + std::to_string((i * 7919) % 100'000) + std::string(1, '\x05');
      const std::string bucket = be32(static_cast<uint32_t>(std::hash<std::string>{}(key) % 4096));
      b.put_value(key, value);
      b.put_meta("b/" + bucket + key, hash);
      b.put_meta("d/" + bucket, hash);
      b.append_delta(1, ++seq, delta);
    }
    b.put_meta("vv", vv);
    b.put_meta("hlc", hash);
    if (auto st = s.commit(b); !st) return st.err();
    r.updates += updates_per_batch;
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

  const std::string only = argc > 3 ? argv[3] : "";
  auto want = [&](const char* name) { return only.empty() || std::string_view{name}.find(only) != std::string_view::npos; };
  double base = 0, base1 = 0;
  bool ok = true;
  auto run = [&](const char* name, auto&& f, double baseline) {
    if (!want(name)) return 0.0;
    const result<run_result> r = f();
    ok = ok && static_cast<bool>(r);
    print(name, r, baseline);
    return r ? r->per_second() : 0.0;
  };
  base = run("bare LMDB, 1000 puts/txn, durable",
             [&] { return bench::bare_lmdb_puts(fresh_dir(root, "bare"), 1000, value, seconds, false); }, 0);
  run("lmdb_store durable, group of 1000 1-update batches",
      [&] { return store_puts(fresh_dir(root, "group"), durability::durable, 1000, 1, value, seconds); }, base);
  run("lmdb_store durable, 1 batch of 1000 updates",
      [&] { return store_puts(fresh_dir(root, "batch"), durability::durable, 1, 1000, value, seconds); }, base);
  run("lmdb_store relaxed, group of 1000 1-update batches",
      [&] { return store_puts(fresh_dir(root, "relaxed"), durability::relaxed, 1000, 1, value, seconds); }, base);
  run("lmdb_store durable, replica-shaped, 1000 updates/batch",
      [&] { return store_replica_shaped(fresh_dir(root, "shaped"), durability::durable, 1000, seconds); }, base);
  run("lmdb_store relaxed, replica-shaped, 1000 updates/batch",
      [&] { return store_replica_shaped(fresh_dir(root, "shaped"), durability::relaxed, 1000, seconds); }, base);
  base1 = run("bare LMDB, 1 put/txn, durable",
              [&] { return bench::bare_lmdb_puts(fresh_dir(root, "bare1"), 1, value, seconds, false); }, 0);
  run("lmdb_store durable, 1 update per commit",
      [&] { return store_puts(fresh_dir(root, "single"), durability::durable, 1, 1, value, seconds); }, base1);
  for (const char* sub : {"bare", "group", "batch", "relaxed", "shaped", "bare1", "single"}) {
    std::filesystem::remove_all(root + "/" + sub);
  }
  std::error_code ec;
  std::filesystem::remove(root, ec);  // only if empty: never delete what we did not create
  return ok ? 0 : 1;
}
