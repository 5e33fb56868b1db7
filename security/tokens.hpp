#pragma once
// tokens: bearer tokens that authenticate clients (`rumor node --client-token-file F`, a client's
// `--token` / RUMOR_TOKEN). A token travels in the client's hello (wire.capnp Hello.token), so it
// belongs on TLS connections only.
//
// File format: one token per line; blank lines and lines starting with '#' are ignored; leading and
// trailing whitespace is trimmed. Several tokens may be valid at once (rotation: add the new one,
// move clients over, remove the old one, SIGHUP the node after each step).

#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace rumor::security {

// Reads the tokens of `path`. Errors: not_found / io_error (unreadable), invalid_argument (no token
// in it, or a token shorter than 16 characters: too easy to guess).
result<std::vector<std::string>> load_tokens(const std::string& path);

// True iff `given` equals one of `tokens`. Its time does not depend on where `given` and a token
// first differ, nor on their lengths (both sides are hashed first), so answers do not leak a token
// byte by byte.
bool token_matches(std::string_view given, const std::vector<std::string>& tokens);

// A fresh random token (32 bytes from the OS CSPRNG, hex encoded: 64 characters).
result<std::string> make_token();

}  // namespace rumor::security
