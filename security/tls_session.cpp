#include "security/tls_session.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>


#include "security/openssl_util.hpp"

namespace rumor::security {

result<std::unique_ptr<tls_session>> tls_session::make(std::shared_ptr<const tls_context> ctx, tls_side side,
                                                        std::string_view expected_host) {
  ERR_clear_error();
  ssl_ptr ssl(SSL_new(ctx->native()));
  if (!ssl) return error{errc::io_error, "cannot create a TLS session: " + take_openssl_errors()};
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  if (in == nullptr || out == nullptr) {
    BIO_free(in);
    BIO_free(out);
    return error{errc::io_error, "cannot create TLS buffers: " + take_openssl_errors()};
  }
  // An empty memory BIO reports "retry" (not EOF) when read: more bytes may come.
  BIO_set_mem_eof_return(in, -1);
  SSL_set_bio(ssl.get(), in, out);  // ssl owns both now
  if (side == tls_side::connect) {
    SSL_set_connect_state(ssl.get());
    if (!expected_host.empty()) {
      std::string host(expected_host);
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      int ok = is_ip_literal(host) ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                                   : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
      if (ok != 1) return error{errc::invalid_argument, "cannot check TLS certificates for host '" + host + "'"};
      if (!is_ip_literal(host)) SSL_set_tlsext_host_name(ssl.get(), host.c_str());
    }
  } else {
    SSL_set_accept_state(ssl.get());
  }
  std::unique_ptr<tls_session> s(new tls_session(std::move(ctx), ssl.release(), in, out, side));
  if (side == tls_side::connect) {
    if (auto st = s->advance(nullptr); !st) return st.err();  // writes the ClientHello
  }
  return s;
}

tls_session::~tls_session() { SSL_free(ssl_); }

rumor::status tls_session::failure(int ret, std::string_view what) {
  failed_ = true;
  int e = SSL_get_error(ssl_, ret);
  std::string reason;
  if (e == SSL_ERROR_ZERO_RETURN) {
    ERR_clear_error();
    return error{errc::unavailable, "the other side closed the TLS session"};
  }
  long verify = SSL_get_verify_result(ssl_);
  if (!established_ && verify != X509_V_OK) {
    reason = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
    ERR_clear_error();
  } else {
    reason = take_openssl_errors(e == SSL_ERROR_SYSCALL ? "unexpected end of the stream" : "protocol error");
  }
  return error{errc::unavailable, std::string(what) + reason};
}

rumor::status tls_session::advance(std::string* plain) {
  if (failed_) return error{errc::unavailable, "the TLS session has failed"};
  ERR_clear_error();
  if (!established_) {
    int r = SSL_do_handshake(ssl_);
    if (r != 1) {
      int e = SSL_get_error(ssl_, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return {};
      return failure(r, "TLS handshake failed: ");
    }
    established_ = true;
    X509* cert = SSL_get1_peer_certificate(ssl_);
    peer_ = peer_identity(cert);
    X509_free(cert);
    if (!pending_.empty()) {
      std::string p = std::move(pending_);
      pending_.clear();
      if (auto st = send(p); !st) return st;
    }
  }
  if (plain == nullptr) return {};
  char buf[16 * 1024];
  for (;;) {
    int n = SSL_read(ssl_, buf, sizeof buf);
    if (n > 0) {
      plain->append(buf, static_cast<size_t>(n));
      continue;
    }
    int e = SSL_get_error(ssl_, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return {};
    return failure(n, "TLS error: ");
  }
}

rumor::status tls_session::receive(std::string_view cipher, std::string& plain) {
  if (failed_) return error{errc::unavailable, "the TLS session has failed"};
  if (!cipher.empty() && BIO_write(in_, cipher.data(), static_cast<int>(cipher.size())) != static_cast<int>(cipher.size())) {
    failed_ = true;
    return error{errc::io_error, "cannot buffer TLS input: " + take_openssl_errors()};
  }
  return advance(&plain);
}

rumor::status tls_session::send(std::string_view plain) {
  if (failed_) return error{errc::unavailable, "the TLS session has failed"};
  if (plain.empty()) return {};
  if (!established_) {
    pending_.append(plain);
    return {};
  }
  ERR_clear_error();
  while (!plain.empty()) {
    int chunk = static_cast<int>(std::min<size_t>(plain.size(), 1u << 30));
    int n = SSL_write(ssl_, plain.data(), chunk);
    if (n <= 0) return failure(n, "TLS error: ");
    plain.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

std::string tls_session::take_output() {
  std::string out;
  size_t n = BIO_ctrl_pending(out_);
  if (n == 0) return out;
  out.resize(n);
  int got = BIO_read(out_, out.data(), static_cast<int>(n));
  out.resize(got > 0 ? static_cast<size_t>(got) : 0);
  return out;
}

bool tls_session::has_output() const { return BIO_ctrl_pending(out_) > 0; }

}  // namespace rumor::security
