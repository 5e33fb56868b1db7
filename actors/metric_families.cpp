#include "actors/metric_families.hpp"

#include <string>
#include <tuple>

namespace rumor::actors {

using replication::message_kind_names;
using replication::message_kinds;

void add_replica_families(const std::array<uint64_t, message_kinds>& received,
                          const std::array<uint64_t, message_kinds>& sent,
                          const replication::replica_stats* replica, const replication::cas_stats* cas,
                          const std::optional<persistence::store_stats>& store, std::vector<http::family>& out) {
  using http::family;
  auto by_kind = [](std::string name, std::string help, const std::array<uint64_t, message_kinds>& counts) {
    family f{std::move(name), "counter", std::move(help), {}};
    for (std::size_t k = 0; k < message_kinds; ++k)
      f.samples.emplace_back(std::string("kind=\"") + message_kind_names[k] + "\"", static_cast<double>(counts[k]));
    return f;
  };
  out.push_back(by_kind("rumor_peer_messages_received_total", "Peer messages received, by kind.",
                               received));
  out.push_back(by_kind("rumor_peer_messages_sent_total", "Peer messages handed to the transport, by kind.",
                               sent));
  if (replica) {
    const auto& s = *replica;
    const std::tuple<const char*, const char*, uint64_t> counters[] = {
        {"deltas_duplicate", "Deltas received that this node already had.", s.duplicates},
        {"deltas_buffered", "Deltas received out of order and held until the gap before them filled.", s.buffered},
        {"deltas_dropped", "Out-of-order deltas dropped (buffer full; anti-entropy brings them again).", s.dropped},
        {"deltas_bad", "Undecodable or invalid deltas received.", s.bad_deltas},
        {"states_joined", "Key states joined from repairs, read repairs and full transfers.", s.states_joined},
        {"repairs_started", "Repairs (reconciliation or full transfer) started with a peer.", s.repairs_started},
        {"repairs_finished", "Repairs finished.", s.repairs_finished},
        {"full_transfers", "Repairs started as a full transfer of the peer's values.", s.full_transfers},
        {"collections_repaired_by_elements",
         "Big sets and maps that repairs compared by their elements (fields), not whole.", s.sets_repaired_by_elements},
        {"collections_transferred_in_pages",
         "Big sets and maps that full transfers fetched in pages, not as one record.", s.sets_transferred_in_pages},
        {"gossip_rounds", "Anti-entropy rounds (one per gossip interval while peers are known).", s.gossip_rounds},
        {"announcements", "Lazy announcements (ihave) sent.", s.announcements},
        {"grafts", "Pulls started by a lazy announcement of deltas this node still lacked.", s.grafts},
        {"stale_states", "States of collected keys, or dead dots, dropped.", s.stale_states},
        {"clock_rewinds", "Times the hybrid logical clock forgot a position far ahead of the physical clock.",
         s.clock_rewinds}};
    for (const auto& [name, help, value] : counters)
      out.push_back(family::one(std::string("rumor_") + name + "_total", "counter", help, static_cast<double>(value)));
  }
  if (cas) {
    const auto& c = *cas;
    out.push_back(family{"rumor_cas_outcomes_total", "counter",
                                "Compare-and-set operations proposed here, by outcome (timeout: outcome unknown).",
                                {{"outcome=\"ok\"", static_cast<double>(c.ok)},
                                 {"outcome=\"conflict\"", static_cast<double>(c.conflicts)},
                                 {"outcome=\"unavailable\"", static_cast<double>(c.unavailable)},
                                 {"outcome=\"timeout\"", static_cast<double>(c.timeouts)}}});
    out.push_back(family::one("rumor_cas_attempts_total", "counter", "Ballots started by this proposer.",
                                     static_cast<double>(c.attempts)));
    out.push_back(family::one("rumor_cas_retries_total", "counter", "Ballots started after a refused one.",
                                     static_cast<double>(c.retries)));
    out.push_back(family{"rumor_cas_acceptor_replies_total", "counter",
                                "The acceptor's answers to proposers, by kind.",
                                {{"reply=\"promise\"", static_cast<double>(c.promises)},
                                 {"reply=\"accepted\"", static_cast<double>(c.accepts)},
                                 {"reply=\"nack\"", static_cast<double>(c.nacks)}}});
  }
  if (const auto& s = store) {
    out.push_back(family::one("rumor_store_map_bytes", "gauge", "The LMDB map's current size.",
                                     static_cast<double>(s->map_bytes)));
    out.push_back(family::one("rumor_store_map_max_bytes", "gauge", "The size the LMDB map may grow to.",
                                     static_cast<double>(s->max_map_bytes)));
    out.push_back(family::one("rumor_store_used_bytes", "gauge", "Bytes of the LMDB map in use.",
                                     static_cast<double>(s->used_bytes)));
    out.push_back(family::one("rumor_store_log_bytes", "gauge", "Bytes of the write-ahead log (wal.mdb) in use.",
                                     static_cast<double>(s->log_bytes)));
    out.push_back(family::one("rumor_materializations_total", "counter",
                                     "Materializations of the write-behind layers into the B-trees since the store opened.",
                                     static_cast<double>(s->materializations)));
  }
}

}  // namespace rumor::actors
