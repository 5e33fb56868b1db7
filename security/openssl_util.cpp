#include "security/openssl_util.hpp"

#include <openssl/err.h>

namespace rumor::security {

std::string take_openssl_errors(std::string_view fallback) {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    // "error:0A000086:SSL routines::certificate verify failed": keep the reason after the last ':'.
    std::string_view s(buf);
    auto colon = s.rfind(':');
    std::string_view reason = colon == std::string_view::npos ? s : s.substr(colon + 1);
    if (reason.empty()) reason = s;
    if (!out.empty()) out += "; ";
    out += reason;
  }
  return out.empty() ? std::string(fallback) : out;
}

std::string bio_text(BIO* b) {
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

}  // namespace rumor::security
