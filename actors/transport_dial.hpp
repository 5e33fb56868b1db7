#pragma once
// transport_dial: socket-level helpers of the transport broker that need no CAF — parsing
// "host:port" addresses and a TCP connect with a timeout (for dialing off the network thread).
//
// Thread safety: free functions, reentrant.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "base/result.hpp"

namespace rumor::actors {

// Splits "host:port", "[v6]:port" into host (without brackets) and port.
// Errors: invalid_argument (no port, port not in 1..65535, empty host).
result<std::pair<std::string, uint16_t>> split_host_port(std::string_view address);

// Returns "host:port", bracketing hosts that contain ':' (IPv6 literals).
std::string join_host_port(std::string_view host, uint16_t port);

// Returns whether `host` resolves to at least one local address to listen on (numeric or a name
// getaddrinfo knows). Blocking (may ask DNS).
bool resolvable(const std::string& host);

// Connects to host:port over TCP, trying every resolved address, each bounded by `timeout`.
// Returns the connected socket (owned by the caller; close-on-exec set) or
// errc::unavailable with the reason ("connection refused", "timed out", "no such host").
// Blocking: call it off the network thread.
result<int> connect_tcp(const std::string& host, uint16_t port, std::chrono::milliseconds timeout);

// A connected socket on its way from a dialing thread to the broker. Exactly one owner closes
// it: whoever take()s it first, or the destructor if nobody did (the message carrying it was
// dropped because the broker is gone). So the dialer never waits for the broker.
class dialed_socket {
 public:
  explicit dialed_socket(int fd) : fd_(fd) {}
  ~dialed_socket();
  dialed_socket(const dialed_socket&) = delete;
  dialed_socket& operator=(const dialed_socket&) = delete;
  // Returns the socket (the caller owns it now) or -1 when there is none or it was taken.
  int take() { return fd_.exchange(-1); }

 private:
  std::atomic<int> fd_;
};


}  // namespace rumor::actors
