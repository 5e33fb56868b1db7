#include "security/certs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "security/openssl_util.hpp"

namespace rumor::security {

namespace {

// A DNS name as RFC 1123 allows (letters, digits, '-', dots; an optional leading "*." wildcard).
bool is_dns_name(const std::string& h) {
  if (h.empty() || h.size() > 253) return false;
  std::string_view s(h);
  if (s.starts_with("*.")) s.remove_prefix(2);
  size_t label = 0;
  for (char ch : s) {
    if (ch == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-')) return false;
    if (++label > 63) return false;
  }
  return label > 0;
}

result<pkey_ptr> new_key() {
  pkey_ptr k(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!k) return error{errc::io_error, "cannot generate an ECDSA P-256 key: " + take_openssl_errors()};
  return k;
}

rumor::status add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return error{errc::io_error, "cannot make extension '" + value + "': " + take_openssl_errors()};
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) return error{errc::io_error, "cannot add extension '" + value + "': " + take_openssl_errors()};
  return {};
}

rumor::status set_subject(X509* cert, const std::string& cn, std::string_view ou) {
  X509_NAME* name = X509_get_subject_name(cert);
  auto add = [&](const char* field, std::string_view v) {
    return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(v.data()),
                                      static_cast<int>(v.size()), -1, 0) == 1;
  };
  if (!add("O", "rumor") || (!ou.empty() && !add("OU", ou)) || !add("CN", cn))
    return error{errc::io_error, "cannot set the certificate subject: " + take_openssl_errors()};
  return {};
}

// A fresh certificate: version 3, random serial, validity [now + from, now + from + days].
result<x509_ptr> new_cert(EVP_PKEY* key, int64_t from_s, int days) {
  x509_ptr cert(X509_new());
  if (!cert) return error{errc::io_error, "cannot allocate a certificate: " + take_openssl_errors()};
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return error{errc::io_error, "no randomness: " + take_openssl_errors()};
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  bool ok = bn != nullptr && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) != nullptr;
  BN_free(bn);
  ok = ok && X509_set_version(cert.get(), 2) == 1;
  ok = ok && X509_gmtime_adj(X509_getm_notBefore(cert.get()), static_cast<long>(from_s)) != nullptr;
  ok = ok && X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(from_s + int64_t{days} * 86400)) != nullptr;
  ok = ok && X509_set_pubkey(cert.get(), key) == 1;
  if (!ok) return error{errc::io_error, "cannot fill in the certificate: " + take_openssl_errors()};
  return cert;
}

result<pem_pair> to_pem(X509* cert, EVP_PKEY* key) {
  bio_ptr c(BIO_new(BIO_s_mem()));
  bio_ptr k(BIO_new(BIO_s_mem()));
  if (!c || !k || PEM_write_bio_X509(c.get(), cert) != 1 ||
      PEM_write_bio_PrivateKey(k.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return error{errc::io_error, "cannot encode PEM: " + take_openssl_errors()};
  return pem_pair{bio_text(c.get()), bio_text(k.get())};
}

result<x509_ptr> parse_cert(const std::string& pem) {
  bio_ptr b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  x509_ptr cert(b ? PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return error{errc::invalid_argument, "not a PEM certificate: " + take_openssl_errors()};
  return cert;
}

result<pkey_ptr> parse_key(const std::string& pem) {
  bio_ptr b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  pkey_ptr key(b ? PEM_read_bio_PrivateKey(b.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) return error{errc::invalid_argument, "not a PEM private key: " + take_openssl_errors()};
  return key;
}

rumor::status write_file(const std::string& path, const std::string& text, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) return error{errc::busy, path + " exists already (not overwritten)"};
    return error{errc::io_error, "cannot create " + path + ": " + std::strerror(errno)};
  }
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      ::unlink(path.c_str());
      return error{errc::io_error, "cannot write " + path + ": " + std::strerror(e)};
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return error{errc::io_error, "cannot write " + path + ": " + std::strerror(errno)};
  return {};
}

result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error{errno == ENOENT ? errc::not_found : errc::io_error, "cannot read " + path + ": " + std::strerror(errno)};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

result<pem_pair> make_ca(const std::string& name, int days) {
  ERR_clear_error();
  if (name.empty()) return error{errc::invalid_argument, "a CA needs a name"};
  if (days <= 0) return error{errc::invalid_argument, "a validity of " + std::to_string(days) + " days"};
  auto key = new_key();
  if (!key) return key.err();
  auto cert = new_cert(key->get(), 0, days);
  if (!cert) return cert.err();
  X509* c = cert->get();
  if (auto st = set_subject(c, name, ""); !st) return st.err();
  if (X509_set_issuer_name(c, X509_get_subject_name(c)) != 1)
    return error{errc::io_error, "cannot set the issuer: " + take_openssl_errors()};
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                            std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
                            std::pair{NID_subject_key_identifier, "hash"}})
    if (auto st = add_ext(c, c, nid, value); !st) return st.err();
  if (X509_sign(c, key->get(), EVP_sha256()) == 0)
    return error{errc::io_error, "cannot sign the CA certificate: " + take_openssl_errors()};
  return to_pem(c, key->get());
}

result<pem_pair> make_certificate(const pem_pair& ca, const cert_request& req) {
  ERR_clear_error();
  if (req.name.empty()) return error{errc::invalid_argument, "a certificate needs a name"};
  if (req.days <= 0) return error{errc::invalid_argument, "a validity of " + std::to_string(req.days) + " days"};
  if (req.role == cert_role::none) return error{errc::invalid_argument, "a certificate needs a role (node or client)"};
  std::string san;
  if (req.role == cert_role::node) {
    if (req.hosts.empty())
      return error{errc::invalid_argument, "a node certificate needs the hosts it is reached at (--host)"};
    for (const auto& h : req.hosts) {
      if (!san.empty()) san += ",";
      if (is_ip_literal(h)) san += "IP:" + h;
      else if (is_dns_name(h)) san += "DNS:" + h;
      else return error{errc::invalid_argument, "'" + h + "' is neither an IP address nor a DNS name"};
    }
  }
  auto ca_cert = parse_cert(ca.cert);
  if (!ca_cert) return error{errc::invalid_argument, "the CA certificate: " + ca_cert.err().message};
  auto ca_key = parse_key(ca.key);
  if (!ca_key) return error{errc::invalid_argument, "the CA key: " + ca_key.err().message};
  if (X509_check_private_key(ca_cert->get(), ca_key->get()) != 1)
    return error{errc::invalid_argument, "the CA key does not belong to the CA certificate"};
  auto key = new_key();
  if (!key) return key.err();
  auto cert = new_cert(key->get(), req.valid_from_s, req.days);
  if (!cert) return cert.err();
  X509* c = cert->get();
  if (auto st = set_subject(c, req.name, to_string(req.role)); !st) return st.err();
  if (X509_set_issuer_name(c, X509_get_subject_name(ca_cert->get())) != 1)
    return error{errc::io_error, "cannot set the issuer: " + take_openssl_errors()};
  std::vector<std::pair<int, std::string>> exts = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature"},
      {NID_ext_key_usage, req.role == cert_role::node ? "serverAuth,clientAuth" : "clientAuth"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"}};
  if (!san.empty()) exts.emplace_back(NID_subject_alt_name, san);
  for (const auto& [nid, value] : exts)
    if (auto st = add_ext(c, ca_cert->get(), nid, value); !st) return st.err();
  if (X509_sign(c, ca_key->get(), EVP_sha256()) == 0)
    return error{errc::io_error, "cannot sign the certificate: " + take_openssl_errors()};
  return to_pem(c, key->get());
}

rumor::status write_pem_files(const std::string& dir, const std::string& base, const pem_pair& pair) {
  if (base.empty() || base.find('/') != std::string::npos)
    return error{errc::invalid_argument, "'" + base + "' is not a file name"};
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return error{errc::io_error, "cannot create " + dir + ": " + std::strerror(errno)};
  std::string crt = dir + "/" + base + ".crt";
  std::string key = dir + "/" + base + ".key";
  if (::access(crt.c_str(), F_OK) == 0) return error{errc::busy, crt + " exists already (not overwritten)"};
  if (::access(key.c_str(), F_OK) == 0) return error{errc::busy, key + " exists already (not overwritten)"};
  if (auto st = write_file(key, pair.key, 0600); !st) return st;
  if (auto st = write_file(crt, pair.cert, 0644); !st) {
    ::unlink(key.c_str());
    return st;
  }
  return {};
}

result<pem_pair> read_pem_files(const std::string& dir, const std::string& base) {
  auto crt = read_file(dir + "/" + base + ".crt");
  if (!crt) return crt.err();
  auto key = read_file(dir + "/" + base + ".key");
  if (!key) return key.err();
  return pem_pair{std::move(*crt), std::move(*key)};
}

}  // namespace rumor::security
