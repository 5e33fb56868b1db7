#pragma once
// The scenarios of `rumor bench`. Each adds its figures (and series) to ctx.out and throws
// bench::timeout when it passes its deadline, std::runtime_error on other failures; the node
// processes it started are stopped when it returns or throws (RAII).

#include <vector>

#include "bench_context.hpp"

namespace rumor::cli::bench {

void run_local(context& ctx);        // updates/s on one node: in memory, and durable process
void run_replicate(context& ctx);    // 2 processes: A's writes until B has them all
void run_disseminate(context& ctx);  // N processes: one update until every node has it
void run_insync(context& ctx);       // bytes per gossip round between in-sync nodes, 10^3 vs 10^6 keys
void run_catchup(context& ctx);      // restarted node catching up vs fresh node syncing
void run_memory(context& ctx);       // resident memory per key
void run_cas(context& ctx);          // 3 processes: linearizable cas ops/s and latency, 1 and 16 clients
void run_wire(context& ctx);         // push frame bytes per update, by type
void run_collections(context& ctx);  // 2 processes: one set / map update's cost as the collection grows
void run_text(context& ctx);         // in process: an editing trace replayed into the text CRDT

// Percentile (nearest rank) of `v` (copied and sorted), p in [0, 100].
double percentile(std::vector<double> v, double p);

}  // namespace rumor::cli::bench
