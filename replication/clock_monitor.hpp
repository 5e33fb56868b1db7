#pragma once
// clock_monitor: how far this node's clock is from its peers', from the membership probes (the
// idea of CockroachDB's RemoteClockMonitor). A direct ack to a ping carries the ping's send time
// and the peer's physical clock when it answered, so one round trip gives
//   offset = peer clock - our clock ≈ peer_now - (sent + received) / 2,   uncertain by ±rtt/2.
// The newest measurement per peer is kept for max_age_ms.
//
// judge() answers the question the replica asks before it stamps a local write: would the
// timestamp it issues (`stamp_ms`, the HLC's physical part: at least the physical clock) be more
// than `bound_ms` ahead of the clocks of more than half of the live peers measured (at least one)?
// Then last-writer-wins could be hijacked by this node's clock (crdt/hlc.hpp's bound), and the
// replica refuses local writes until it is not so. A clock *behind* its peers is not refused: its
// writes only lose ties they would have won. With two nodes only the one ahead is refused.
//
// Pure and deterministic: times are passed in. Thread safety: none (the replica's).

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "crdt/dot.hpp"

namespace rumor::replication {

class clock_monitor {
 public:
  explicit clock_monitor(uint64_t max_age_ms = 30'000) : max_age_ms_(max_age_ms) {}

  // A direct ack from `peer`: our ping left at `sent_ms` (our clock), the peer answered at
  // `peer_now_ms` (its clock), the ack arrived at `received_ms` (our clock). Ignored unless
  // sent_ms <= received_ms and peer_now_ms != 0.
  void record(crdt::node_id peer, uint64_t sent_ms, uint64_t peer_now_ms, uint64_t received_ms);
  void forget(crdt::node_id peer) { offsets_.erase(peer); }

  struct verdict {
    size_t measured = 0;         // live peers with a measurement younger than max_age_ms
    size_t too_far_behind = 0;   // of those, whose clock is more than bound_ms behind stamp_ms
    int64_t max_ahead_ms = 0;    // the largest of (stamp_ms - peer clock - uncertainty) among them
    bool refuse() const { return too_far_behind > 0 && 2 * too_far_behind > measured; }
  };
  verdict judge(const std::vector<crdt::node_id>& live, uint64_t stamp_ms, uint64_t now_ms, uint64_t bound_ms) const;

  // A sentence for logs and status ("this node's clock is 3600.2 s ahead of 2 of its 2 measured peers ...").
  static std::string describe(const verdict& v, uint64_t bound_ms);

 private:
  struct measurement {
    int64_t offset_ms;       // peer clock - our clock
    uint64_t uncertainty_ms; // rtt / 2, rounded up
    uint64_t at_ms;          // our clock when measured
  };
  uint64_t max_age_ms_;
  std::unordered_map<crdt::node_id, measurement> offsets_;
};

}  // namespace rumor::replication
