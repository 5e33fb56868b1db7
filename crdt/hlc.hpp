#pragma once
// Hybrid logical clock (Kulkarni, Demirbas et al., "Logical Physical Clocks and Consistent
// Snapshots in Globally Distributed Databases", OPODIS 2014).
//
// A timestamp is 64 bits: the upper 48 are physical milliseconds since the Unix epoch, the lower 16
// a logical counter. Timestamps order events consistently with causality (e -> f implies
// ts(e) < ts(f)) and stay within max_drift of physical time. The physical clock is passed in by
// the caller (no clock in crdt/), which makes the clock deterministic under test.
//
// Thread safety: a plain value; the owner serialises calls.

#include <compare>
#include <cstdint>

#include "base/result.hpp"

namespace rumor::crdt {

struct hlc_timestamp {
  static constexpr unsigned logical_bits = 16;
  static constexpr uint64_t logical_mask = (uint64_t{1} << logical_bits) - 1;
  static constexpr uint64_t max_physical_ms = (uint64_t{1} << (64 - logical_bits)) - 1;

  uint64_t bits = 0;

  static constexpr hlc_timestamp make(uint64_t physical_ms, uint64_t logical) noexcept {
    return {(physical_ms << logical_bits) | (logical & logical_mask)};
  }
  constexpr uint64_t physical_ms() const noexcept { return bits >> logical_bits; }
  constexpr uint64_t logical() const noexcept { return bits & logical_mask; }

  friend constexpr auto operator<=>(const hlc_timestamp&, const hlc_timestamp&) = default;
};

class hlc_clock {
 public:
  // `max_drift_ms`: how far ahead of the local physical clock a remote timestamp may be before
  // update() refuses it (default 60 s, like CockroachDB's default max offset order of magnitude).
  explicit hlc_clock(uint64_t max_drift_ms = 60'000) : max_drift_ms_(max_drift_ms) {}

  // Local or send event at physical time `physical_ms`. Returns a timestamp greater than every
  // timestamp this clock returned or observed before. When the logical counter would overflow
  // within one millisecond, the physical part is advanced by 1 ms (bounded, documented).
  hlc_timestamp now(uint64_t physical_ms) noexcept;

  // Receive event: merges `remote` and returns a timestamp greater than both `remote` and every
  // earlier one. Returns errc::clock_drift (and changes nothing) when `remote` is more than
  // max_drift_ms ahead of `physical_ms`, instead of dragging this clock far into the future.
  result<hlc_timestamp> update(hlc_timestamp remote, uint64_t physical_ms);

  // The last timestamp issued or observed.
  hlc_timestamp last() const noexcept { return last_; }
  // Restores a persisted clock position (e.g. after restart): later timestamps exceed `ts`.
  void restore(hlc_timestamp ts) noexcept { if (ts > last_) last_ = ts; }
  // Forgets a position more than max_drift_ms ahead of `physical_ms` (returns whether it did):
  // update() never follows a remote clock that far, so only this node's own physical clock can
  // have put it there, while it was wrong (ahead). Later timestamps follow the physical clock
  // again — they may be below earlier ones of this clock. Callers that need numbers above every
  // earlier timestamp (rumor seeds a key's dots with the clock: replica.cpp) keep that floor
  // themselves.
  bool rewind_if_ahead(uint64_t physical_ms) noexcept {
    if (last_.physical_ms() <= physical_ms || last_.physical_ms() - physical_ms <= max_drift_ms_) return false;
    last_ = hlc_timestamp::make(std::min(physical_ms, hlc_timestamp::max_physical_ms), 0);
    return true;
  }

  uint64_t max_drift_ms() const noexcept { return max_drift_ms_; }

 private:
  hlc_timestamp advance(uint64_t l, uint64_t c) noexcept;

  hlc_timestamp last_{};
  uint64_t max_drift_ms_;
};

}  // namespace rumor::crdt
