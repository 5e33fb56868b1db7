#pragma once
// metric_families: the replica actor's counters, the compare-and-set lane's outcomes and the
// store's map figures as /metrics families (http/metrics.hpp; docs/http-api.md lists each).
// Pure: the caller hands over the figures.

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "http/metrics.hpp"
#include "persistence/store.hpp"
#include "replication/cas.hpp"
#include "replication/messages.hpp"
#include "replication/replica.hpp"

namespace rumor::actors {

// Appends to `out`: peer messages received and sent by kind; the replica's event counters
// (when `replica`); the lane's outcomes (when `cas`); the store's map and log (when `store`).
void add_replica_families(const std::array<uint64_t, replication::message_kinds>& received,
                          const std::array<uint64_t, replication::message_kinds>& sent,
                          const replication::replica_stats* replica, const replication::cas_stats* cas,
                          const std::optional<persistence::store_stats>& store, std::vector<http::family>& out);

}  // namespace rumor::actors
