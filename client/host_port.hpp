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

}  // namespace rumor::client
