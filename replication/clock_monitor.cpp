#include "replication/clock_monitor.hpp"

#include <cstdio>

namespace rumor::replication {

void clock_monitor::record(crdt::node_id peer, uint64_t sent_ms, uint64_t peer_now_ms, uint64_t received_ms) {
  if (peer_now_ms == 0 || sent_ms == 0 || sent_ms > received_ms) return;
  uint64_t rtt = received_ms - sent_ms;
  // Midpoint of [sent, received] without overflow; offsets within ±2^62 ms are representable.
  uint64_t mid = sent_ms + rtt / 2;
  int64_t offset = static_cast<int64_t>(peer_now_ms - mid);
  offsets_[peer] = measurement{offset, (rtt + 1) / 2, received_ms};
}

clock_monitor::verdict clock_monitor::judge(const std::vector<crdt::node_id>& live, uint64_t stamp_ms,
                                            uint64_t now_ms, uint64_t bound_ms) const {
  verdict v;
  bool first = true;
  for (crdt::node_id p : live) {
    auto it = offsets_.find(p);
    if (it == offsets_.end()) continue;
    const measurement& m = it->second;
    if (now_ms > m.at_ms && now_ms - m.at_ms > max_age_ms_) continue;
    ++v.measured;
    // The peer's clock now ≈ now_ms + offset; how far our stamp is ahead of it, at the least.
    int64_t ahead = static_cast<int64_t>(stamp_ms - now_ms) - m.offset_ms - static_cast<int64_t>(m.uncertainty_ms);
    if (first || ahead > v.max_ahead_ms) v.max_ahead_ms = ahead;
    first = false;
    if (ahead > 0 && static_cast<uint64_t>(ahead) > bound_ms) ++v.too_far_behind;
  }
  return v;
}

std::string clock_monitor::describe(const verdict& v, uint64_t bound_ms) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "this node's clock is %.1f s ahead of %zu of its %zu measured peers (bound %.1f s): local writes are "
                "refused until the clocks agree (check NTP on this machine)",
                static_cast<double>(v.max_ahead_ms) / 1000.0, v.too_far_behind, v.measured,
                static_cast<double>(bound_ms) / 1000.0);
  return buf;
}

}  // namespace rumor::replication
