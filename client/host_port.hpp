#pragma once
// host_port: parses the "host:port" addresses a client connects to.

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace rumor::client {

struct host_port {
  std::string host;  // a name or an address; IPv6 addresses without brackets
  uint16_t port = 0;
  friend bool operator==(const host_port&, const host_port&) = default;
};

// Parses "host:port" or "[ipv6]:port". Returns invalid_argument (naming the text and the expected
// form) when the host is empty, the port is missing, not a decimal number or not in 1..65535.
result<host_port> parse_host_port(std::string_view text);

// A TCP port on 127.0.0.1 that is free right now (the OS picks it by binding port 0; another
// program may take it before the caller binds it: for tests, benchmarks and local launchers).
// Returns 0 if no socket could be bound.
uint16_t free_loopback_port();

}  // namespace rumor::client
