#pragma once
// tls_context: the TLS settings of one node or client, loaded from PEM files — the CA bundle that
// every peer certificate must chain to, and this side's certificate chain and private key.
//
//   auto ctx = security::tls_context::load({"certs/ca.crt", "certs/n1.crt", "certs/n1.key"});
//   if (!ctx) { log(ctx.err().describe()); ... }
//   auto s = security::tls_session::make(*ctx, tls_side::accept, "");   // per connection
//
// Policy (the same for nodes and clients):
//   - TLS 1.3 only; OpenSSL's default TLS 1.3 cipher suites (AES-GCM, ChaCha20-Poly1305).
//   - The other side's certificate is verified against the CA bundle (which may hold several CAs:
//     during a CA rotation old + new). The accepting side asks for a certificate but accepts a
//     connection without one: whether that is enough is decided by the caller once it knows what
//     the connection is for (a peer must have a node certificate; a client may use a token).
//   - A certificate without a private key (or a key that does not match it) is refused at load.
//
// Identity: rumor certificates (security/certs.hpp) carry the holder's name as CN and its role as
// OU: "rumor-node" (may join the cluster; its subjectAltNames are the hosts it may announce) or
// "rumor-client" (may only be a client). peer_identity reads them back.
//
// A loaded context is immutable and shared (std::shared_ptr): sessions keep the context they were
// made with, so replacing it (certificate rotation on SIGHUP) changes new connections only.
// Thread safety: a context may be used by sessions on any thread.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.hpp"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct x509_st X509;

namespace rumor::security {

// The PEM files of one side. ca is required; cert and key go together (a client may have
// neither, when it authenticates with a token).
struct tls_files {
  std::string ca;
  std::string cert;
  std::string key;
  bool enabled() const { return !ca.empty() || !cert.empty() || !key.empty(); }
};

// The roles a rumor certificate may name (its OU).
enum class cert_role { none, node, client };
inline constexpr std::string_view node_role_ou = "rumor-node";
inline constexpr std::string_view client_role_ou = "rumor-client";
std::string_view to_string(cert_role r);

// What the other side's verified certificate says. has_certificate == false: it sent none.
class peer_identity {
 public:
  peer_identity() = default;
  explicit peer_identity(X509* cert);  // takes a reference of its own (nullptr: none)
  peer_identity(const peer_identity&);
  peer_identity& operator=(const peer_identity&);
  peer_identity(peer_identity&&) noexcept;
  peer_identity& operator=(peer_identity&&) noexcept;
  ~peer_identity();

  bool has_certificate() const { return cert_ != nullptr; }
  const std::string& name() const { return name_; }  // subject CN
  cert_role role() const { return role_; }
  // True iff the certificate names `host` (an IP address or a DNS name, as in "host:port") in its
  // subjectAltNames (RFC 6125 rules, no partial wildcards).
  bool names_host(std::string_view host) const;
  // "CN=n1, OU=rumor-node" or "no certificate", for log lines.
  std::string describe() const;
  // Seconds from now until the certificate expires (negative: expired that long ago); 0 without one.
  int64_t seconds_left() const;

 private:
  X509* cert_ = nullptr;
  std::string name_;
  cert_role role_ = cert_role::none;
};

class tls_context {
 public:
  // Loads `files`. Errors: invalid_argument naming the file and OpenSSL's reason (missing,
  // unreadable, not PEM, key not matching the certificate, cert without key or key without cert,
  // no CA).
  static result<std::shared_ptr<const tls_context>> load(const tls_files& files);

  ~tls_context();
  tls_context(const tls_context&) = delete;
  tls_context& operator=(const tls_context&) = delete;

  SSL_CTX* native() const { return ctx_; }
  bool has_certificate() const { return has_cert_; }
  const tls_files& files() const { return files_; }
  // This side's own identity (its certificate's CN and role), for status and logs.
  const peer_identity& own() const { return own_; }

 private:
  tls_context(SSL_CTX* ctx, tls_files files, bool has_cert, peer_identity own)
      : ctx_(ctx), files_(std::move(files)), has_cert_(has_cert), own_(std::move(own)) {}
  SSL_CTX* ctx_;
  tls_files files_;
  bool has_cert_;
  peer_identity own_;
};

// True iff `host` is an IPv4 or IPv6 address (not a name): certificates name those as iPAddress.
bool is_ip_literal(std::string_view host);

}  // namespace rumor::security
