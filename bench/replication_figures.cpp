// replication_figures: prints the replication protocol's figures from the deterministic
// simulation (virtual time, simulated network; bytes are real wire-codec bytes).
//   replication_figures [--quick] [--seed N] [--only 1|2|3|4|5|6]
// 1. dissemination: gossip rounds until every replica has one update, N = 16, 64, 256, 1000,
//    beside log2 N + ln N (Demers et al., push-pull);
// 2. bytes on the wire per update across the cluster (5 and 16 nodes; tree and random push);
// 3. bytes of one in-sync anti-entropy round at 10^3 and 10^6 keys;
// 4. reconciliation of d = 1, 100, 10,000 differences among 10^6 keys: bytes and round trips;
// 5. repair of one changed element of an or_set of 10^6 members: bytes and round trips;
// 6. the same for one field of an or_map of 10^5 fields.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "replication/operations.hpp"
#include "replication/sim.hpp"
#include "replication/storage_key.hpp"
#include "replication/value_layout.hpp"

using namespace rumor;
using namespace rumor::sim;

namespace {

mutator increment_by(uint64_t n) {
  return [n](crdt::value& v, node_id self, crdt::hlc_timestamp) -> result<crdt::value> {
    auto d = v.get_if<crdt::pn_counter>()->increment(self, n);
    if (!d) return d.err();
    return crdt::value{*d};
  };
}

sim_config round_config(size_t n) {
  sim_config cfg;
  cfg.nodes = n;
  cfg.min_latency_ms = 1;
  cfg.max_latency_ms = 5;
  cfg.tick_ms = 100;                      // one tick = one gossip round
  cfg.replica.gossip_interval_ms = 100;
  cfg.replica.bucket_bits = 8;            // small digest tables: 1000 replicas in one process
  cfg.replica.membership.probe_interval_ms = 1'000;
  cfg.replica.membership.probe_timeout_ms = 300;
  return cfg;
}

void dissemination(uint64_t seed, bool quick) {
  std::printf("\n1. dissemination: rounds until all N replicas have an update (push tree of fanout 3, lazy announcements, pull)\n");
  std::printf("   %6s %10s %10s %16s %8s\n", "N", "p50", "max", "log2N+lnN", "goal+2");
  std::vector<size_t> sizes = quick ? std::vector<size_t>{16, 64} : std::vector<size_t>{16, 64, 256, 1000};
  for (size_t n : sizes) {
    simulation s(seed, round_config(n));
    s.start_all();
    s.run_until([&] { return s.all_live_members_alive(); }, 600'000);
    std::vector<double> rounds;
    int samples = n >= 1000 ? 5 : 15;
    for (int k = 0; k < samples; ++k) {
      std::string key = "d" + std::to_string(k);
      size_t origin = s.rng()() % n;
      s.update(origin, key, crdt::type_tag::pn_counter, increment_by(1), consistency::local, 10'000, nullptr);
      auto took = s.run_until(
          [&] {
            for (size_t i = 0; i < n; ++i)
              if (s.values(i, key).empty()) return false;
            return true;
          },
          120'000);
      rounds.push_back(took ? static_cast<double>(*took) / 100.0 : -1);
    }
    std::sort(rounds.begin(), rounds.end());
    double bound = std::log2(static_cast<double>(n)) + std::log(static_cast<double>(n));
    std::printf("   %6zu %10.1f %10.1f %16.1f %8.1f\n", n, rounds[rounds.size() / 2], rounds.back(), bound, bound + 2);
  }
}

// One run of figure 2: `nodes` nodes, 2000 counter updates (origins in turn, 200 keys), `burst`
// of them every `every_ms` (a burst arrives at its nodes at once, as pipelined client requests
// do, and each node pushes once per burst), then until converged. Prints the
// bytes per update across the cluster, by kind, beside the goal: 1.3 * (N-1) * the bytes per
// update of one push carrying every delta of the run (in pushes of up to 1000 deltas).
void bytes_run(uint64_t seed, size_t nodes, bool tree, int burst, uint64_t every_ms) {
  sim_config cfg;
  cfg.nodes = nodes;
  cfg.replica.tree_push = tree;
  cfg.mailbox_bursts = true;  // a node pushes once per millisecond's inputs, as the runtime per mailbox drain
  simulation s(seed, cfg);
  s.start_all();
  s.run_until([&] { return s.all_live_members_alive() && s.all_bootstrapped(); }, 60'000);
  s.run_for(3'000);
  s.reset_counters();
  std::map<std::pair<node_id, uint64_t>, delta_entry> deltas;
  uint64_t pushes = 0, pushed_deltas = 0;
  s.observe_sends([&](size_t, const message& m) {
    if (auto* p = std::get_if<push>(&m)) {
      ++pushes;
      pushed_deltas += p->deltas.size();
      for (const auto& e : p->deltas) deltas.emplace(std::make_pair(e.origin, e.seq), e);
    }
  });
  const int updates = 2'000;
  for (int k = 0; k < updates; ++k) {
    if (k % burst == 0) s.begin_burst();
    s.update(static_cast<size_t>(k) % nodes, "u" + std::to_string(k % 200), crdt::type_tag::pn_counter,
             increment_by(1), consistency::local, 5'000, nullptr);
    if (k % burst == burst - 1) {
      s.end_burst();
      s.run_for(every_ms);
    }
  }
  s.run_until([&] { return s.converged(); }, 60'000);
  s.observe_sends(nullptr);
  // The reference: the deltas in pushes of up to 1000, as bench wire's per-update-in-batch figure.
  uint64_t batched = 0;
  push p;
  for (auto& [id, e] : deltas) {
    p.deltas.push_back(e);
    if (p.deltas.size() == 1000) {
      batched += encode_message(p).size();
      p.deltas.clear();
    }
  }
  if (!p.deltas.empty()) batched += encode_message(p).size();
  const double per_delta = deltas.empty() ? 0 : static_cast<double>(batched) / static_cast<double>(deltas.size());
  const double total = static_cast<double>(s.total_bytes()) / updates;
  const double goal = 1.3 * static_cast<double>(nodes - 1) * per_delta;
  auto& by = s.bytes_by_kind();
  auto kind = [&](const char* k) { return by.count(k) ? static_cast<double>(by.at(k)) / updates : 0.0; };
  const double membership = kind("ping") + kind("ack") + kind("ping_req") + kind("join_request") + kind("join_response");
  const double entropy = kind("sync_request") + kind("sync_response");
  std::printf("   %4zu %-7s %5d %6.0f %9.0f %9.0f %8.0f %7.0f %8.0f %6.0f %7.1f %7.0f %6.2f %7.2f %7.2f%s\n", nodes,
              tree ? "tree" : "random", burst, 1000.0 * burst / static_cast<double>(every_ms), total,
              total / static_cast<double>(nodes - 1), kind("push"), kind("ihave"), entropy, membership, per_delta, goal,
              total / goal, static_cast<double>(pushes) / updates,
              static_cast<double>(pushed_deltas) / updates / static_cast<double>(nodes - 1), s.converged() ? "" : "  NOT converged");
}

void bytes_per_update(uint64_t seed, bool quick) {
  std::printf("\n2. bytes on the wire per update: 2000 counter updates in bursts, all traffic\n");
  std::printf("   (B: bytes per update of the run's deltas in pushes of 1000; goal: 1.3 * (N-1) * B;\n");
  std::printf("    pushes: push messages per update; copies: deltas pushed per update per other replica)\n");
  std::printf("   %4s %-7s %5s %6s %9s %9s %8s %7s %8s %6s %7s %7s %6s %7s %7s\n", "N", "push", "burst", "per s", "B/update",
              "/replica", "push", "ihave", "entropy", "memb", "B", "goal", "ratio", "pushes", "copies");
  for (size_t n : quick ? std::vector<size_t>{5} : std::vector<size_t>{5, 16})
    for (bool tree : {false, true})
      for (auto [burst, every] : {std::pair{1, 2}, std::pair{50, 100}, std::pair{50, 10}})
        bytes_run(seed, n, tree, burst, static_cast<uint64_t>(every));
}

// Two nodes holding `keys` identical keys.
simulation two_nodes_with(uint64_t seed, size_t keys) {
  auto cfg = sim_config::quick_probes(2);
  // About one key per reconciliation bucket: 2^16 buckets up to 64k keys, 2^20 at a million.
  cfg.replica.bucket_bits = keys > 100'000 ? 20 : 16;
  cfg.replica.max_deltas_per_message = 4096;
  simulation s(seed, cfg);
  s.start_all();
  s.run_for(1'000);
  for (size_t k = 0; k < keys; ++k) {
    s.update(k % 2, "key" + std::to_string(k), crdt::type_tag::pn_counter, increment_by(1), consistency::local, 60'000,
             nullptr);
    if (k % 1000 == 999) s.run_for(1);
  }
  s.run_until([&] { return s.converged(); }, 3'600'000);
  s.run_for(3'000);
  return s;
}

void insync(uint64_t seed, bool quick) {
  std::printf("\n3. one in-sync anti-entropy exchange (sync_request + sync_response), 2 nodes\n");
  std::vector<size_t> sizes = quick ? std::vector<size_t>{1'000, 20'000} : std::vector<size_t>{1'000, 1'000'000};
  double first = 0;
  for (size_t keys : sizes) {
    simulation s = two_nodes_with(seed, keys);
    s.reset_counters();
    s.run_for(10'000);
    auto& by = s.bytes_by_kind();
    uint64_t req = by.count("sync_request") ? by.at("sync_request") : 0;
    uint64_t resp = by.count("sync_response") ? by.at("sync_response") : 0;
    uint64_t exchanges = 10'000 / 200 * 2;  // both nodes, default gossip interval 200 ms
    double per = static_cast<double>(req + resp) / static_cast<double>(exchanges);
    if (first == 0) first = per;
    std::printf("   %9zu keys: %.1f bytes per exchange (ratio to first: %.3f)\n", keys, per, per / first);
  }
}

void reconcile(uint64_t seed, bool quick) {
  size_t keys = quick ? 20'000 : 1'000'000;
  std::printf("\n4. repair after truncation: d differences among %zu keys (node 1 was down; the log moved on)\n", keys);
  std::printf("   goal: bytes <= max(2 KB, 3*d*entry bytes) and <= 4 round trips\n");
  std::printf("   %8s %12s %12s %12s %14s\n", "d", "bytes", "round trips", "entry bytes", "3*d*entry");
  for (size_t d : {size_t{1}, size_t{100}, size_t{10'000}}) {
    simulation s = two_nodes_with(seed, keys);
    s.crash(1);
    s.run_for(20'000);  // node 1 declared dead; node 0 truncates its log
    for (size_t k = 0; k < d; ++k)
      s.update(0, "key" + std::to_string(k * 7 % keys), crdt::type_tag::pn_counter, increment_by(1), consistency::local,
               60'000, nullptr);
    s.run_for(2'000);
    s.reset_counters();
    s.restart(1);
    s.run_until([&] { return s.converged(); }, 600'000);
    auto& by = s.bytes_by_kind();
    uint64_t bytes = 0;
    for (auto kind : {"recon_request", "recon_buckets", "state_push", "full_sync_request", "full_sync_chunk"})
      if (by.count(kind)) bytes += by.at(kind);
    auto entry = crdt::encode(s.values(0, "key0")[0]).size() + 8;
    auto& count = s.messages_by_kind();
    auto n = [&](const char* k) -> uint64_t { return count.count(k) ? count.at(k) : 0; };
    // Requests from the repairing node: recon_request / full_sync_request, and the state_push
    // that asks for states (answered by one state_push).
    uint64_t round_trips = n("recon_request") + n("full_sync_request") + n("state_push") / 2;
    std::printf("   %8zu %12llu %12llu %12zu %14zu %s\n", d, static_cast<unsigned long long>(bytes),
                static_cast<unsigned long long>(round_trips), entry, 3 * d * entry,
                bytes <= std::max<uint64_t>(2'048, 3 * d * entry) && round_trips <= 4 ? "ok" : "OVER GOAL");
    std::printf("            ");
    for (auto kind : {"recon_request", "recon_buckets", "state_push", "full_sync_request", "full_sync_chunk"})
      if (by.count(kind))
        std::printf(" %s %llu B / %llu msg;", kind, static_cast<unsigned long long>(by.at(kind)),
                    static_cast<unsigned long long>(n(kind)));
    std::printf("\n");
  }
}

// 5 (or 6 with `map`): one element (field) added to a big or_set (or_map) while node 1 was down.
void collection_repair(uint64_t seed, bool quick, bool map) {
  const int members = map ? (quick ? 20'000 : 100'000) : (quick ? 20'000 : 1'000'000);
  const crdt::type_tag type = map ? crdt::type_tag::or_map : crdt::type_tag::or_set;
  if (map)
    std::printf("\n6. repair of one counter field added (node 0) while node 1 was down, in an or_map of %d fields\n",
                members);
  else
    std::printf("\n5. repair of one element added (node 0) while node 1 was down, in an or_set of %d members\n", members);
  std::printf("   goal: <= 4 KB and <= 4 round trips\n");
  auto cfg = sim_config::quick_probes(2);
  simulation s(seed, cfg);
  s.start_all();
  s.run_for(1'000);
  // A map's fields are written one per update (touching only that field), a set's members 10,000
  // per update.
  auto add_field = [&](const std::string& name) {
    std::vector<std::string> touches{name};
    s.update(0, "big", type, ops::map_update(name, crdt::type_tag::pn_counter, ops::counter_add(1)), consistency::local,
             600'000, nullptr, &touches);
  };
  for (int batch = 0; batch < members / 10'000 + (members % 10'000 != 0); ++batch) {
    std::vector<std::string> add;
    for (int i = batch * 10'000; i < std::min(members, (batch + 1) * 10'000); ++i) add.push_back("member-" + std::to_string(i));
    if (map) {
      for (const auto& name : add) add_field(name);
    } else {
      s.update(0, "big", type, ops::set_add(add), consistency::local, 600'000, nullptr, &add);
    }
    s.run_for(50);
  }
  auto header = [&](size_t i) {
    auto raw = s.at(i).store->get_value(value_key(storage_key("big", type)));
    return raw && *raw ? **raw : std::string();
  };
  auto same = [&] { return !header(0).empty() && header(0) == header(1) && s.at(0).rep->vv() == s.at(1).rep->vv(); };
  if (!s.run_until(same, 3'600'000)) {
    std::printf("   the %s did not reach node 1\n", map ? "map" : "set");
    return;
  }
  s.crash(1);
  s.run_for(20'000);  // node 1 declared dead; node 0 truncates its log
  std::vector<std::string> one{"member-new"};
  if (map) add_field("member-new");
  else s.update(0, "big", type, ops::set_add(one), consistency::local, 60'000, nullptr, &one);
  s.run_for(2'000);
  s.reset_counters();
  s.restart(1);
  s.run_until(same, 600'000);
  s.run_for(1'000);
  auto& by = s.bytes_by_kind();
  auto& count = s.messages_by_kind();
  auto n = [&](const char* k) -> uint64_t { return count.count(k) ? count.at(k) : 0; };
  const char* kinds[] = {"recon_request", "recon_buckets", "state_push", "full_sync_request", "full_sync_chunk",
                         "set_recon_request", "set_recon_answer"};
  uint64_t bytes = 0;
  for (auto kind : kinds)
    if (by.count(kind)) bytes += by.at(kind);
  // Requests of the repairing node, each answered once: recon_request, set_recon_request, a
  // state_push asking for states; the last set_recon_answer (session 0) is half a round trip.
  double round_trips = static_cast<double>(n("recon_request") + n("full_sync_request") + n("set_recon_request") +
                                           n("state_push") / 2) + (n("set_recon_answer") > n("set_recon_request") ? 0.5 : 0);
  std::printf("   %s: %llu bytes, %.1f round trips (%s)\n   ", same() ? "converged" : "NOT converged",
              static_cast<unsigned long long>(bytes), round_trips,
              bytes <= 4'096 && round_trips <= 4 ? "ok" : "OVER GOAL");
  for (auto kind : kinds)
    if (by.count(kind))
      std::printf(" %s %llu B / %llu msg;", kind, static_cast<unsigned long long>(by.at(kind)),
                  static_cast<unsigned long long>(n(kind)));
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  uint64_t seed = 42;
  int only = 0;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick")) quick = true;
    else if (!std::strcmp(argv[i], "--only") && i + 1 < argc) only = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--seed") && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
  }
  std::printf("rumor replication figures (deterministic simulation, seed %llu%s)\n",
              static_cast<unsigned long long>(seed), quick ? ", quick" : "");
  if (!only || only == 1) dissemination(seed, quick);
  if (!only || only == 2) bytes_per_update(seed, quick);
  if (!only || only == 3) insync(seed, quick);
  if (!only || only == 4) reconcile(seed, quick);
  if (!only || only == 5) collection_repair(seed, quick, false);
  if (!only || only == 6) collection_repair(seed, quick, true);
  return 0;
}
