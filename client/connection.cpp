#include "client/connection.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <utility>

#include "client/client_codec.hpp"
#include "client/host_port.hpp"

namespace rumor::client {

namespace {

constexpr uint64_t max_timeout_ms = uint64_t{30} * 24 * 3600 * 1000;  // 30 days
constexpr size_t read_chunk = 64 * 1024;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t deadline_after(uint64_t timeout_ms) {
  return now_ms() + static_cast<int64_t>(std::min(timeout_ms, max_timeout_ms));
}

// Waits for `events` on `fd` until `deadline_ms`. Returns the revents (0 on timeout) or -1 with
// errno set.
int wait_for(int fd, short events, int64_t deadline_ms) {
  while (true) {
    int64_t left = std::max<int64_t>(0, deadline_ms - now_ms());
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, INT_MAX)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) {
      if (now_ms() < deadline_ms) continue;  // woke early (clamped or coarse clock)
      return 0;
    }
    return p.revents;
  }
}

std::string os_error(int err) { return std::strerror(err); }

std::string refused_hint(const std::string& address) {
  return " (is `rumor node` running and listening there? pass its address with --connect; tried " + address + ")";
}

// Opens a non-blocking TCP socket connected to `address` before `deadline_ms`.
result<int> open_socket(const std::string& address, int64_t deadline_ms) {
  auto hp = parse_host_port(address);
  if (!hp) return hp.err();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string port = std::to_string(hp->port);
  // Name resolution is the one step not bounded by our deadline (the resolver's own timeouts).
  if (int rc = ::getaddrinfo(hp->host.c_str(), port.c_str(), &hints, &found); rc != 0)
    return error{errc::unavailable, "cannot resolve host '" + hp->host + "': " + ::gai_strerror(rc) +
                                        refused_hint(address)};
  error last{errc::unavailable, "no addresses for " + address};
  int result_fd = -1;
  for (addrinfo* ai = found; ai && result_fd < 0; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last = error{errc::unavailable, "cannot create a socket for " + address + ": " + os_error(errno)};
      continue;
    }
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    int err = rc == 0 ? 0 : errno;
    if (rc != 0 && (err == EINPROGRESS || err == EINTR)) {
      int ev = wait_for(fd, POLLOUT, deadline_ms);
      if (ev == 0) {
        ::close(fd);
        last = error{errc::timeout, "connecting to " + address + " timed out" + refused_hint(address)};
        break;  // the deadline has passed: no time for other addresses
      }
      if (ev < 0) {
        err = errno;
      } else {
        socklen_t len = sizeof err;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      }
    }
    if (err != 0) {
      ::close(fd);
      last = error{errc::unavailable, "cannot connect to " + address + ": " + os_error(err) + refused_hint(address)};
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // small request/response frames
    result_fd = fd;
  }
  ::freeaddrinfo(found);
  if (result_fd < 0) return last;
  return result_fd;
}

}  // namespace

connection::connection(int fd, std::string address, uint64_t write_timeout_ms)
    : fd_(fd), address_(std::move(address)), write_timeout_ms_(write_timeout_ms) {}

connection::connection(connection&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      address_(std::move(other.address_)),
      write_timeout_ms_(other.write_timeout_ms_),
      last_id_(other.last_id_),
      reader_(std::move(other.reader_)),
      queue_(std::move(other.queue_)),
      node_(std::move(other.node_)),
      tls_(std::move(other.tls_)) {}

connection& connection::operator=(connection&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    address_ = std::move(other.address_);
    write_timeout_ms_ = other.write_timeout_ms_;
    last_id_ = other.last_id_;
    reader_ = std::move(other.reader_);
    queue_ = std::move(other.queue_);
    node_ = std::move(other.node_);
    tls_ = std::move(other.tls_);
  }
  return *this;
}

connection::~connection() { close(); }

void connection::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

error connection::fail(error e) noexcept {
  close();
  return e;
}

error connection::closed_error() const {
  return error{errc::unavailable, "the connection to " + address_ + " is closed"};
}

result<connection> connection::connect(std::string host_port, uint64_t timeout_ms, const credentials& cred) {
  int64_t deadline = deadline_after(timeout_ms);
  std::shared_ptr<const security::tls_context> ctx;
  if (cred.tls.enabled()) {
    auto loaded = security::tls_context::load(cred.tls);
    if (!loaded) return loaded.err();
    ctx = std::move(*loaded);
  }
  auto fd = open_socket(host_port, deadline);
  if (!fd) return fd.err();
  connection c(*fd, std::move(host_port), std::max<uint64_t>(timeout_ms, 1000));
  if (ctx) {
    auto s = security::tls_session::make(ctx, security::tls_side::connect, parse_host_port(c.address_)->host);
    if (!s) return s.err();
    c.tls_ = std::move(*s);
  }

  replication::hello mine;
  mine.cluster = "";
  mine.node = 0;
  mine.version = replication::client_protocol_version;
  mine.address = "";
  mine.client = true;
  mine.token = cred.token;
  if (auto s = c.write_all(replication::encode_message(mine), deadline); !s) return s.err();

  auto frame = c.read_frame(deadline);
  if (!frame) {
    if (frame.err().code == errc::unavailable)  // closed before answering: the node refused us
      return error{errc::unavailable, frame.err().message +
                                          " during the handshake (is it a rumor node of a compatible version?)"};
    return frame.err();
  }
  if (!*frame)
    return error{errc::timeout, "no hello from " + c.address_ + " within " + std::to_string(timeout_ms) + " ms"};
  auto msg = replication::decode_message(**frame);
  if (!msg)
    return error{errc::decode_error, "invalid hello from " + c.address_ + ": " + msg.err().message};
  const auto* h = std::get_if<replication::hello>(&msg.value());
  if (!h) return error{errc::decode_error, "the first frame from " + c.address_ + " is not a hello"};
  if (!h->refusal.empty())
    return error{h->refusal_code, "node " + c.address_ + " refused the connection: " + h->refusal};
  if (c.tls_ && c.tls_->peer().role() != security::cert_role::node)
    return error{errc::unavailable, "node " + c.address_ + " presented a certificate that is not a node certificate (" +
                                        c.tls_->peer().describe() + ")"};
  if (h->version < replication::min_client_protocol_version || h->version > replication::client_protocol_version)
    return error{errc::unsupported_version, "node " + c.address_ + " speaks protocol version " +
                                                std::to_string(h->version) + ", this client versions " +
                                                std::to_string(replication::min_client_protocol_version) + ".." +
                                                std::to_string(replication::client_protocol_version)};
  c.node_ = *h;
  return c;
}

rumor::status connection::write_all(const std::string& bytes, int64_t deadline_ms) {
  if (fd_ < 0) return closed_error();
  if (!tls_) return write_raw(bytes, deadline_ms);
  if (auto s = tls_->send(bytes); !s) return fail(error{s.err().code, "TLS with " + address_ + ": " + s.err().message});
  // The session has numbered these records: unsent, the stream cannot go on (a later record would
  // not authenticate), so any failure, a timeout too, closes the connection.
  auto w = write_raw(tls_->take_output(), deadline_ms);
  if (!w && fd_ >= 0) return fail(w.err());
  return w;
}

rumor::status connection::write_raw(const std::string& bytes, int64_t deadline_ms) {
  if (fd_ < 0) return closed_error();
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int ev = wait_for(fd_, POLLOUT, deadline_ms);
      if (ev == 0) {
        // A partial frame is on the wire: the stream cannot be resumed.
        if (done > 0) return fail(error{errc::timeout, "sending to " + address_ + " timed out mid-frame"});
        return error{errc::timeout, "sending to " + address_ + " timed out (the node is not reading)"};
      }
      if (ev < 0) return fail(error{errc::unavailable, "waiting to send to " + address_ + ": " + os_error(errno)});
      continue;  // writable, or an error the next send reports
    }
    return fail(error{errc::unavailable, "sending to " + address_ + " failed: " + os_error(errno)});
  }
  return {};
}

result<std::optional<std::string>> connection::read_frame(int64_t deadline_ms) {
  for (bool first = true;; first = false) {
    auto f = reader_.next();
    if (!f) return fail(error{errc::decode_error, "from " + address_ + ": " + f.err().describe()});
    if (*f) return std::move(*f);
    if (fd_ < 0) return closed_error();
    // Bytes that keep trickling in must not extend the wait (a partial frame stays buffered).
    if (!first && now_ms() >= deadline_ms) return std::optional<std::string>{};
    int ev = wait_for(fd_, POLLIN, deadline_ms);
    if (ev == 0) return std::optional<std::string>{};
    if (ev < 0) return fail(error{errc::unavailable, "waiting for " + address_ + ": " + os_error(errno)});
    char buf[read_chunk];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      std::string_view got(buf, static_cast<size_t>(n));
      if (!tls_) {
        reader_.feed(got);
        continue;
      }
      std::string plain;
      auto s = tls_->receive(got, plain);
      if (tls_->has_output()) {  // handshake messages (or the alert of a failure)
        auto out = tls_->take_output();
        if (auto w = write_raw(out, deadline_ms); !w && s) return w.err();
      }
      if (!s) return fail(error{s.err().code, "TLS with " + address_ + ": " + s.err().message});
      reader_.feed(plain);
      continue;
    }
    if (n == 0) {
      if (tls_ && !tls_->established())
        return fail(error{errc::unavailable, "node " + address_ +
                                                 " closed the connection during the TLS handshake (is TLS on there? "
                                                 "a node without --tls-ca speaks plaintext)"});
      std::string partial = reader_.buffered() > 0 ? " (mid-frame)" : "";
      return fail(error{errc::unavailable, "node " + address_ + " closed the connection" + partial});
    }
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
    return fail(error{errc::unavailable, "receiving from " + address_ + " failed: " + os_error(errno)});
  }
}

result<std::optional<client_message>> connection::read_message(int64_t deadline_ms) {
  auto frame = read_frame(deadline_ms);
  if (!frame) return frame.err();
  if (!*frame) return std::optional<client_message>{};
  auto msg = decode_client(**frame);
  if (!msg) return fail(error{errc::decode_error, "from " + address_ + ": " + msg.err().describe()});
  return std::optional<client_message>{std::move(msg.value())};
}

rumor::status connection::send(const request& req) {
  if (fd_ < 0) return closed_error();
  last_id_ = std::max(last_id_, req.id);
  return write_all(encode_client(req), deadline_after(write_timeout_ms_));
}

rumor::status connection::send_all(const std::vector<request>& reqs) {
  if (fd_ < 0) return closed_error();
  std::string bytes;
  for (const request& r : reqs) {
    last_id_ = std::max(last_id_, r.id);
    bytes += encode_client(r);
  }
  return write_all(bytes, deadline_after(write_timeout_ms_));
}

result<response> connection::call(request req, uint64_t timeout_ms) {
  int64_t deadline = deadline_after(timeout_ms);
  if (req.id == 0) req.id = next_id();
  last_id_ = std::max(last_id_, req.id);
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {  // an earlier, late response
    if (auto* r = std::get_if<response>(&*it); r && r->id == req.id) {
      response out = std::move(*r);
      queue_.erase(it);
      return out;
    }
  }
  if (fd_ < 0) return closed_error();
  if (auto s = write_all(encode_client(req), deadline); !s) return s.err();
  while (true) {
    auto msg = read_message(deadline);
    if (!msg) return msg.err();
    if (*msg) {
      if (auto* r = std::get_if<response>(&**msg); r && r->id == req.id) return std::move(*r);
      queue_.push_back(std::move(**msg));
    }
    // A stream of other messages (events) must not extend the wait.
    if (!*msg || now_ms() >= deadline)
      return error{errc::timeout, "no response to request " + std::to_string(req.id) + " from " + address_ +
                                      " within " + std::to_string(timeout_ms) + " ms"};
  }
}

result<std::optional<client_message>> connection::next(uint64_t timeout_ms) {
  if (!queue_.empty()) {
    client_message m = std::move(queue_.front());
    queue_.pop_front();
    return std::optional<client_message>{std::move(m)};
  }
  return read_message(deadline_after(timeout_ms));
}

}  // namespace rumor::client
