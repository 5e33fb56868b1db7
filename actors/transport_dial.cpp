#include "actors/transport_dial.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>

namespace rumor::actors {

result<std::pair<std::string, uint16_t>> split_host_port(std::string_view address) {
  auto colon = address.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == address.size())
    return error{errc::invalid_argument, "address '" + std::string(address) + "' has no port (want host:port)"};
  std::string_view host = address.substr(0, colon);
  std::string_view port_text = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) return error{errc::invalid_argument, "address '" + std::string(address) + "' has no host"};
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
    return error{errc::invalid_argument, "address '" + std::string(address) + "' has a bad port (want 1..65535)"};
  return std::pair{std::string(host), static_cast<uint16_t>(port)};
}

std::string join_host_port(std::string_view host, uint16_t port) {
  std::string s;
  if (host.find(':') != std::string_view::npos) {
    s += '[';
    s += host;
    s += ']';
  } else {
    s += host;
  }
  s += ':';
  s += std::to_string(port);
  return s;
}

namespace {

struct addrinfo_deleter {
  void operator()(addrinfo* p) const noexcept { ::freeaddrinfo(p); }
};
using addrinfo_ptr = std::unique_ptr<addrinfo, addrinfo_deleter>;

result<addrinfo_ptr> resolve(const std::string& host, uint16_t port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  addrinfo* out = nullptr;
  std::string service = std::to_string(port);
  int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &out);
  if (rc != 0 || out == nullptr) return error{errc::unavailable, "cannot resolve '" + host + "': " + ::gai_strerror(rc)};
  return addrinfo_ptr{out};
}

// Connects one resolved address; returns the socket or the failure reason.
result<int> connect_one(const addrinfo& ai, std::chrono::milliseconds timeout) {
  int fd = ::socket(ai.ai_family, ai.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai.ai_protocol);
  if (fd < 0) return error{errc::unavailable, std::string("socket: ") + std::strerror(errno)};
  auto fail = [fd](std::string what) -> result<int> {
    ::close(fd);
    return error{errc::unavailable, std::move(what)};
  };
  if (::connect(fd, ai.ai_addr, ai.ai_addrlen) == 0) return fd;
  if (errno != EINPROGRESS) return fail(std::strerror(errno));
  pollfd p{fd, POLLOUT, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (rc < 0 && errno == EINTR);
  if (rc == 0) return fail("timed out after " + std::to_string(timeout.count()) + " ms");
  if (rc < 0) return fail(std::string("poll: ") + std::strerror(errno));
  int so_error = 0;
  socklen_t len = sizeof so_error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) return fail(std::strerror(errno));
  if (so_error != 0) return fail(std::strerror(so_error));
  return fd;
}

}  // namespace

bool resolvable(const std::string& host) { return static_cast<bool>(resolve(host, 1, true)); }

result<int> connect_tcp(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) {
  auto ai = resolve(host, port, false);
  if (!ai) return ai.err();
  std::string reasons;
  for (const addrinfo* a = ai->get(); a != nullptr; a = a->ai_next) {
    auto fd = connect_one(*a, timeout);
    if (fd) return fd;
    if (!reasons.empty()) reasons += "; ";
    reasons += fd.err().message;
  }
  return error{errc::unavailable, reasons};
}

dialed_socket::~dialed_socket() {
  int fd = fd_.exchange(-1);
  if (fd >= 0) ::close(fd);
}

}  // namespace rumor::actors
