#pragma once
// tls_session: one TLS connection as a byte-stream transformer, with no socket of its own. The
// owner moves bytes between it and the network (the transport broker with CAF's buffers, the
// blocking client with its socket): ciphertext read goes into receive(), which yields plaintext;
// plaintext to send goes into send(); take_output() hands back the ciphertext to write (records,
// handshake messages and alerts alike).
//
//   auto s = tls_session::make(ctx, tls_side::connect, "127.0.0.1");
//   s->send(hello);                      // held until the handshake is done
//   write(sock, s->take_output());       // the ClientHello
//   ... on every read:  auto st = s->receive(bytes, plain); write(sock, s->take_output());
//
// Contract:
//   - Plaintext passed to send() before the handshake completes is kept and sent, in order, as
//     soon as it completes. Plaintext comes out of receive() only after the handshake.
//   - The side that connects checks that the other side's certificate names `expected_host`
//     (when non-empty) as well as that it chains to the context's CA bundle.
//   - receive() errors (the stream is then lost; write take_output() — it may hold an alert — and
//     close): unavailable with "TLS handshake failed: <reason>" (certificate not trusted, expired,
//     wrong host, no common protocol, garbage instead of TLS) or "TLS error: <reason>" after the
//     handshake; unavailable "the other side closed the TLS session" on close_notify.
//   - Memory: take_output() empties the output; receive() decrypts everything it was given.
//
// Not thread safe: one owner at a time. Never throws.

#include <memory>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "security/tls_context.hpp"

typedef struct ssl_st SSL;
typedef struct bio_st BIO;

namespace rumor::security {

enum class tls_side { accept, connect };

class tls_session {
 public:
  // Errors: io_error when OpenSSL cannot allocate the session.
  static result<std::unique_ptr<tls_session>> make(std::shared_ptr<const tls_context> ctx, tls_side side,
                                                   std::string_view expected_host);
  ~tls_session();
  tls_session(const tls_session&) = delete;
  tls_session& operator=(const tls_session&) = delete;

  // Feeds `cipher` (bytes read from the network); appends the plaintext it yields to `plain`.
  rumor::status receive(std::string_view cipher, std::string& plain);
  // Queues `plain` for the other side (encrypted now, or after the handshake).
  rumor::status send(std::string_view plain);
  // The ciphertext produced so far, to be written to the network (and forgotten here).
  std::string take_output();
  bool has_output() const;

  bool established() const { return established_; }
  // The other side's certificate, once established.
  const peer_identity& peer() const { return peer_; }

 private:
  tls_session(std::shared_ptr<const tls_context> ctx, SSL* ssl, BIO* in, BIO* out, tls_side side)
      : ctx_(std::move(ctx)), ssl_(ssl), in_(in), out_(out), side_(side) {}
  rumor::status advance(std::string* plain);
  rumor::status failure(int ret, std::string_view what);

  std::shared_ptr<const tls_context> ctx_;
  SSL* ssl_;
  BIO* in_;   // network -> SSL (owned by ssl_)
  BIO* out_;  // SSL -> network (owned by ssl_)
  tls_side side_;
  bool established_ = false;
  bool failed_ = false;
  std::string pending_;  // plaintext sent before the handshake completed
  peer_identity peer_;
};

}  // namespace rumor::security
