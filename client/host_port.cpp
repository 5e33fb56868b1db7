#include "client/host_port.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace rumor::client {

result<host_port> parse_host_port(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return error{errc::invalid_argument,
                 "bad address '" + std::string(text) + "': " + std::string(why) + " (expected host:port)"};
  };
  host_port out;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return bad("missing ']'");
    out.host = std::string(text.substr(1, close - 1));
    if (close + 1 >= text.size() || text[close + 1] != ':') return bad("missing port");
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("missing port");
    out.host = std::string(text.substr(0, colon));
    if (out.host.find(':') != std::string::npos) return bad("IPv6 addresses need brackets");
    port = text.substr(colon + 1);
  }
  if (out.host.empty()) return bad("empty host");
  if (port.empty()) return bad("missing port");
  if (port.size() > 5) return bad("port out of range 1..65535");
  uint32_t n = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return bad("port is not a number");
    n = n * 10 + static_cast<uint32_t>(c - '0');
  }
  if (n == 0 || n > 65535) return bad("port out of range 1..65535");
  out.port = static_cast<uint16_t>(n);
  return out;
}

uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  ::close(fd);
  return ok ? ntohs(a.sin_port) : 0;
}

}  // namespace rumor::client
