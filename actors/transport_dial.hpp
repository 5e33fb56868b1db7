#pragma once
// transport_dial: socket-level helpers of the transport broker that need no CAF — parsing
// "host:port" addresses and a TCP connect with a timeout (for dialing off the network thread).
//
// Thread safety: free functions, reentrant.

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

}  // namespace rumor::actors
