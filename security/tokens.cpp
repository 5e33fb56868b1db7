#include "security/tokens.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "security/openssl_util.hpp"

namespace rumor::security {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

constexpr size_t min_token_chars = 16;

}  // namespace

result<std::vector<std::string>> load_tokens(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return error{errno == ENOENT ? errc::not_found : errc::io_error,
                 "cannot read the client token file '" + path + "': " + std::strerror(errno)};
  std::vector<std::string> tokens;
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    auto t = trim(line);
    if (t.empty() || t.front() == '#') continue;
    if (t.size() < min_token_chars)
      return error{errc::invalid_argument, "the client token on line " + std::to_string(number) + " of '" + path +
                                               "' is shorter than " + std::to_string(min_token_chars) +
                                               " characters (`rumor certs token` makes a good one)"};
    tokens.emplace_back(t);
  }
  if (tokens.empty()) return error{errc::invalid_argument, "the client token file '" + path + "' holds no token"};
  return tokens;
}

bool token_matches(std::string_view given, const std::vector<std::string>& tokens) {
  unsigned char g[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(given.data()), given.size(), g);
  bool found = false;
  for (const auto& t : tokens) {  // every token is compared: the time does not say which matched
    unsigned char h[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(t.data()), t.size(), h);
    found |= CRYPTO_memcmp(g, h, sizeof h) == 0;
  }
  return found && !given.empty();
}

result<std::string> make_token() {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return error{errc::io_error, "no randomness: " + take_openssl_errors()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : raw) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

}  // namespace rumor::security
