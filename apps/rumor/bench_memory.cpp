// memory: resident memory per key. One node process; VmRSS (and its RssAnon / RssFile parts,
// /proc/PID/status) when empty and ready, then after `keys` counters written with pipelined
// requests, the store's write-behind backlog materialized, and 2 s to settle.
// Per key = (after - empty) / keys. RssFile includes the LMDB
// map pages the process touched (the page cache, shared with the kernel, not heap).
#include <filesystem>
#include <thread>

#include "bench_client.hpp"
#include "bench_node.hpp"
#include "bench_scenarios.hpp"

namespace rumor::cli::bench {

void run_memory(context& ctx) {
  const uint64_t keys = ctx.opt.keys;
  node_proc n(ctx, "node");
  n.start();
  auto c = connect(ctx, n.address());
  wait_until(ctx, "node ready", [&] { return is_ready(c); }, 20);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto empty = n.rss();
  ctx.progress("empty node RSS " + std::to_string(empty.rss_kb) + " kB; writing " + std::to_string(keys) + " counters");
  auto w = pipelined_writes(ctx, c, keys, [](uint64_t i) { return counter_incr("c:" + std::to_string(i)); }, "counters");
  if (w.failed) throw std::runtime_error(std::to_string(w.failed) + " writes failed: " + w.first_error);
  wait_until(ctx, "every key committed", [&] { return keys_of(c) >= keys; }, 20);
  // Steady state: the store's write-behind backlog materialized (its in-memory layers freed).
  double drain_ms = wait_until(ctx, "the write-behind backlog materialized", [&] {
    auto s = status(c);
    return s.log_backlog == 0 && s.write_behind_bytes == 0;
  }, 50);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  auto full = n.rss();
  uint64_t disk = 0, wal = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(n.data_dir())) {
    if (!e.is_regular_file()) continue;
    disk += e.file_size();
    if (e.path().filename().string().starts_with("wal.mdb")) wal += e.file_size();
  }
  auto per = [&](uint64_t a, uint64_t b) { return (double(a) - double(b)) * 1024.0 / double(keys); };
  std::vector<std::pair<std::string, std::string>> params = {
      {"keys", std::to_string(keys)}, {"type", "pn_counter, key c:<i>"},
      {"empty_rss_kb", std::to_string(empty.rss_kb)}, {"full_rss_kb", std::to_string(full.rss_kb)},
      {"durability", ctx.opt.durability}, {"backlog_drained_after_ms", std::to_string(static_cast<uint64_t>(drain_ms))}};
  ctx.out.add({"memory", "rss_bytes_per_key", per(full.rss_kb, empty.rss_kb), "bytes", params, "", std::nullopt});
  ctx.out.add({"memory", "anon_bytes_per_key", per(full.anon_kb, empty.anon_kb), "bytes", params, "", std::nullopt});
  ctx.out.add({"memory", "file_bytes_per_key", per(full.file_kb, empty.file_kb), "bytes", params, "", std::nullopt});
  ctx.out.add({"memory", "disk_bytes_per_key", double(disk) / double(keys), "bytes",
               {{"keys", std::to_string(keys)}, {"data_dir_bytes", std::to_string(disk)},
                {"of_which_wal_bytes", std::to_string(wal)}}, "", std::nullopt});
  c.close();
  n.stop();
}

}  // namespace rumor::cli::bench
