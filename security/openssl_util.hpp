#pragma once
// openssl_util: what security/ shares about OpenSSL — owning pointers for its objects and the
// text of its error queue. Internal to security/ (callers see rumor::error values only).

#include <memory>
#include <string>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace rumor::security {

struct ssl_ctx_free { void operator()(SSL_CTX* p) const noexcept { SSL_CTX_free(p); } };
struct ssl_free { void operator()(SSL* p) const noexcept { SSL_free(p); } };
struct bio_free { void operator()(BIO* p) const noexcept { BIO_free_all(p); } };
struct x509_free { void operator()(X509* p) const noexcept { X509_free(p); } };
struct pkey_free { void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); } };

using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, ssl_ctx_free>;
using ssl_ptr = std::unique_ptr<SSL, ssl_free>;
using bio_ptr = std::unique_ptr<BIO, bio_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;

// Drains this thread's OpenSSL error queue into one line ("a; b"); `fallback` when it is empty.
std::string take_openssl_errors(std::string_view fallback = "unknown OpenSSL error");

// The text of a memory BIO (e.g. one PEM_write_bio_* wrote into).
std::string bio_text(BIO* b);

}  // namespace rumor::security
