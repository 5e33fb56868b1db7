#include "security/tls_context.hpp"

#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "security/openssl_util.hpp"

namespace rumor::security {

std::string_view to_string(cert_role r) {
  switch (r) {
    case cert_role::node: return node_role_ou;
    case cert_role::client: return client_role_ou;
    case cert_role::none: break;
  }
  return "none";
}

namespace {

std::string name_entry(X509_NAME* name, int nid) {
  int i = X509_NAME_get_index_by_NID(name, nid, -1);
  if (i < 0) return {};
  ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, s);
  if (n < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

}  // namespace

bool is_ip_literal(std::string_view host) {
  std::string h(host);
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

peer_identity::peer_identity(X509* cert) : cert_(cert) {
  if (cert_ == nullptr) return;
  X509_up_ref(cert_);
  X509_NAME* subject = X509_get_subject_name(cert_);
  name_ = name_entry(subject, NID_commonName);
  std::string ou = name_entry(subject, NID_organizationalUnitName);
  role_ = ou == node_role_ou ? cert_role::node : ou == client_role_ou ? cert_role::client : cert_role::none;
}

peer_identity::peer_identity(const peer_identity& o) : cert_(o.cert_), name_(o.name_), role_(o.role_) {
  if (cert_ != nullptr) X509_up_ref(cert_);
}

peer_identity& peer_identity::operator=(const peer_identity& o) {
  if (this != &o) {
    peer_identity copy(o);
    *this = std::move(copy);
  }
  return *this;
}

peer_identity::peer_identity(peer_identity&& o) noexcept
    : cert_(std::exchange(o.cert_, nullptr)), name_(std::move(o.name_)), role_(o.role_) {}

peer_identity& peer_identity::operator=(peer_identity&& o) noexcept {
  if (this != &o) {
    if (cert_ != nullptr) X509_free(cert_);
    cert_ = std::exchange(o.cert_, nullptr);
    name_ = std::move(o.name_);
    role_ = o.role_;
  }
  return *this;
}

peer_identity::~peer_identity() {
  if (cert_ != nullptr) X509_free(cert_);
}

bool peer_identity::names_host(std::string_view host) const {
  if (cert_ == nullptr || host.empty()) return false;
  std::string h(host);
  if (is_ip_literal(host)) return X509_check_ip_asc(cert_, h.c_str(), 0) == 1;
  return X509_check_host(cert_, h.data(), h.size(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) == 1;
}

std::string peer_identity::describe() const {
  if (cert_ == nullptr) return "no certificate";
  return "CN=" + name_ + ", OU=" + std::string(to_string(role_));
}

int64_t peer_identity::seconds_left() const {
  if (cert_ == nullptr) return 0;
  int days = 0, secs = 0;
  if (ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(cert_)) != 1) return 0;
  return int64_t{days} * 86400 + secs;
}

tls_context::~tls_context() { SSL_CTX_free(ctx_); }

result<std::shared_ptr<const tls_context>> tls_context::load(const tls_files& files) {
  ERR_clear_error();
  if (files.ca.empty())
    return error{errc::invalid_argument, "TLS needs a CA bundle (--tls-ca): the certificates peers are checked against"};
  if (files.cert.empty() != files.key.empty())
    return error{errc::invalid_argument, files.cert.empty() ? "a TLS key (--tls-key) needs its certificate (--tls-cert)"
                                                            : "a TLS certificate (--tls-cert) needs its key (--tls-key)"};
  ssl_ctx_ptr ctx(SSL_CTX_new(TLS_method()));
  if (!ctx) return error{errc::io_error, "cannot create a TLS context: " + take_openssl_errors()};
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION);
  // Sessions are not resumed: every connection is verified in full (certificates may be rotated).
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
  // Writes are whole (memory BIOs never refuse), and the write buffer may move between calls.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

  if (SSL_CTX_load_verify_locations(ctx.get(), files.ca.c_str(), nullptr) != 1)
    return error{errc::invalid_argument, "cannot read the TLS CA bundle '" + files.ca + "': " + take_openssl_errors()};
  if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.ca.c_str()))
    SSL_CTX_set_client_CA_list(ctx.get(), names);  // told to clients in the CertificateRequest
  ERR_clear_error();
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_verify_depth(ctx.get(), 4);

  peer_identity own;
  if (!files.cert.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), files.cert.c_str()) != 1)
      return error{errc::invalid_argument,
                   "cannot read the TLS certificate '" + files.cert + "': " + take_openssl_errors()};
    bio_ptr key_file(BIO_new_file(files.key.c_str(), "r"));
    pkey_ptr key(key_file ? PEM_read_bio_PrivateKey(key_file.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!key)
      return error{errc::invalid_argument, "cannot read the TLS key '" + files.key + "': " + take_openssl_errors()};
    if (X509_check_private_key(SSL_CTX_get0_certificate(ctx.get()), key.get()) != 1) {
      ERR_clear_error();
      return error{errc::invalid_argument,
                   "the TLS key '" + files.key + "' does not belong to the certificate '" + files.cert + "'"};
    }
    if (SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1 || SSL_CTX_check_private_key(ctx.get()) != 1)
      return error{errc::invalid_argument, "cannot use the TLS key '" + files.key + "': " + take_openssl_errors()};
    own = peer_identity(SSL_CTX_get0_certificate(ctx.get()));
  }
  bool has_cert = !files.cert.empty();
  return std::shared_ptr<const tls_context>(new tls_context(ctx.release(), files, has_cert, std::move(own)));
}

}  // namespace rumor::security
