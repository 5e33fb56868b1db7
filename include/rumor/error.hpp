#pragma once
// rumor/error.hpp (public) — rumor::error, the one error vocabulary of every layer. Errors are
// values: functions that can fail return result<T> (rumor/result.hpp); nothing throws across a
// layer boundary. The same codes travel in the client protocol and become the CLI's exit codes.

#include <cstdint>
#include <string>
#include <string_view>

namespace rumor {

// Stable numeric codes (they travel on the wire and in exit codes); append only.
enum class errc : uint8_t {
  ok = 0,
  invalid_argument = 1,  // the caller passed something malformed (empty key, bad flag)
  type_mismatch = 2,     // operation of one CRDT type on a key of another
  conflict = 3,          // conditional write whose causal context is stale
  decode_error = 4,      // bytes that are not a valid encoding (garbage, truncated, wrong version)
  overflow = 5,          // a counter or clock would overflow
  clock_drift = 6,       // a remote HLC timestamp is too far ahead of the local physical clock, or this
                         // node's clock too far ahead of its peers' (its writes are refused)
  not_found = 7,         // no such key / record
  io_error = 8,          // the OS or storage engine reported an I/O failure
  map_full = 9,          // storage is full and could not grow
  corrupt = 10,          // a stored record failed its checksum or decoding
  unsupported_version = 11,  // data or protocol of a version this build does not understand
  busy = 12,             // resource held by someone else (locked directory, port in use)
  timeout = 13,          // the requested consistency was not reached in time
  unavailable = 14,      // not enough peers / node not ready
  too_large = 15,        // a value, key or frame exceeds its bound
  unauthenticated = 16,  // credentials refused: no or an untrusted certificate, a certificate of the wrong
                         // role, a wrong token (which part was wrong is not said)
};

// Returns a short stable name for `c` ("type_mismatch").
constexpr std::string_view to_string(errc c) noexcept {
  switch (c) {
    case errc::ok: return "ok";
    case errc::invalid_argument: return "invalid_argument";
    case errc::type_mismatch: return "type_mismatch";
    case errc::conflict: return "conflict";
    case errc::decode_error: return "decode_error";
    case errc::overflow: return "overflow";
    case errc::clock_drift: return "clock_drift";
    case errc::not_found: return "not_found";
    case errc::io_error: return "io_error";
    case errc::map_full: return "map_full";
    case errc::corrupt: return "corrupt";
    case errc::unsupported_version: return "unsupported_version";
    case errc::busy: return "busy";
    case errc::timeout: return "timeout";
    case errc::unavailable: return "unavailable";
    case errc::too_large: return "too_large";
    case errc::unauthenticated: return "unauthenticated";
  }
  return "unknown";
}

// An error: a code plus a human message that names the problem (and, where possible, the fix).
struct error {
  errc code = errc::ok;
  std::string message;

  error() = default;
  error(errc c, std::string msg) : code(c), message(std::move(msg)) {}

  // "type_mismatch: key 'x' holds a pn_counter, not an or_set"
  std::string describe() const {
    std::string s{to_string(code)};
    if (!message.empty()) {
      s += ": ";
      s += message;
    }
    return s;
  }
  friend bool operator==(const error& a, const error& b) = default;
};

}  // namespace rumor
