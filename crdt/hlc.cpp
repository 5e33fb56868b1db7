#include "crdt/hlc.hpp"

#include <algorithm>
#include <string>

namespace rumor::crdt {

hlc_timestamp hlc_clock::advance(uint64_t l, uint64_t c) noexcept {
  if (c > hlc_timestamp::logical_mask) {  // logical overflow: move into the next millisecond
    l += 1;
    c = 0;
  }
  l = std::min(l, hlc_timestamp::max_physical_ms);
  last_ = hlc_timestamp::make(l, c);
  return last_;
}

hlc_timestamp hlc_clock::now(uint64_t physical_ms) noexcept {
  uint64_t pt = std::min(physical_ms, hlc_timestamp::max_physical_ms);
  uint64_t l_old = last_.physical_ms();
  if (pt > l_old) return advance(pt, 0);
  return advance(l_old, last_.logical() + 1);
}

result<hlc_timestamp> hlc_clock::update(hlc_timestamp remote, uint64_t physical_ms) {
  uint64_t pt = std::min(physical_ms, hlc_timestamp::max_physical_ms);
  uint64_t lm = remote.physical_ms();
  if (lm > pt && lm - pt > max_drift_ms_) {
    return error{errc::clock_drift,
                 "remote HLC timestamp is " + std::to_string(lm - pt) +
                     " ms ahead of the local clock (max drift " + std::to_string(max_drift_ms_) +
                     " ms); check the clocks of both machines (NTP)"};
  }
  uint64_t l_old = last_.physical_ms();
  uint64_t l = std::max({l_old, lm, pt});
  uint64_t c;
  if (l == l_old && l == lm)
    c = std::max(last_.logical(), remote.logical()) + 1;
  else if (l == l_old)
    c = last_.logical() + 1;
  else if (l == lm)
    c = remote.logical() + 1;
  else
    c = 0;
  return advance(l, c);
}

}  // namespace rumor::crdt
