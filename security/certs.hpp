#pragma once
// certs: keys and certificates for a rumor cluster, made with the OpenSSL API (what `rumor certs`
// runs, and what tests use to build CAs and certificates, including broken ones).
//
//   auto ca = security::make_ca("rumor-ca", 3650);
//   auto n1 = security::make_certificate(*ca, {.name = "n1", .role = cert_role::node,
//                                              .hosts = {"127.0.0.1", "node1.example"}});
//   security::write_pem_files("certs", "n1", *n1);   // certs/n1.crt (0644), certs/n1.key (0600)
//
// Keys are ECDSA P-256; signatures SHA-256; serial numbers 127 random bits. A CA certificate has
// basicConstraints CA:TRUE (pathlen 0) and may only sign certificates. A node or client
// certificate names its holder as CN and its role as OU ("rumor-node", "rumor-client":
// tls_context.hpp), has extendedKeyUsage serverAuth + clientAuth (node) or clientAuth (client),
// and a node's `hosts` become its subjectAltNames (IP addresses as iPAddress, names as dNSName).
//
// Errors: invalid_argument (empty name, a node without hosts, a host that is neither an address
// nor a DNS name, days <= 0), io_error (OpenSSL failed; files not writable).

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "security/tls_context.hpp"

namespace rumor::security {

// A certificate and its private key, PEM encoded.
struct pem_pair {
  std::string cert;
  std::string key;
};

// A self-signed CA certificate valid for `days` from now.
result<pem_pair> make_ca(const std::string& name, int days = 3650);

struct cert_request {
  std::string name;                // CN
  cert_role role = cert_role::node;
  std::vector<std::string> hosts;  // node: required; client: ignored
  int days = 825;                  // validity from valid_from_s
  int64_t valid_from_s = 0;        // seconds relative to now (tests: negative to make one expired)
};

// A certificate for `req` signed by `ca`.
result<pem_pair> make_certificate(const pem_pair& ca, const cert_request& req);

// Writes dir/<base>.crt (mode 0644) and dir/<base>.key (mode 0600, created so: never readable by
// others, not even briefly), creating `dir` (0700) if needed. Refuses to overwrite an existing
// file (errc::busy), so a CA key is never replaced by accident.
rumor::status write_pem_files(const std::string& dir, const std::string& base, const pem_pair& pair);

// Reads dir/<base>.crt and dir/<base>.key. Errors: not_found, io_error.
result<pem_pair> read_pem_files(const std::string& dir, const std::string& base);

}  // namespace rumor::security
