#pragma once
// Exit codes of the `rumor` command (documented in README.md, stable for scripts).

#include "base/error.hpp"

namespace rumor::cli {

enum exit_code : int {
  exit_ok = 0,
  exit_error = 1,          // anything else (I/O, corrupt data, internal)
  exit_usage = 2,          // bad flags or arguments
  exit_unavailable = 3,    // cannot connect to the node / node not serving
  exit_timeout = 4,        // the consistency level was not reached in time
  exit_conflict = 5,       // conditional write with a stale context
  exit_type_mismatch = 6,  // operation of another type than the key holds
  exit_unauthenticated = 7,  // the node refused this client's credentials (certificate or token)
};

// What each exit code means, for the man page's EXIT STATUS (cmd_docs.cpp); one entry per
// enumerator above, in the same order.
struct exit_code_doc {
  int code;
  const char* meaning;
};
inline constexpr exit_code_doc exit_code_docs[] = {
    {exit_ok, "success"},
    {exit_error, "any other error (I/O, corrupt data, internal)"},
    {exit_usage, "bad flags or arguments"},
    {exit_unavailable, "cannot connect to the node, or the node is not serving"},
    {exit_timeout, "the consistency level was not reached in time"},
    {exit_conflict, "conditional write with a stale context"},
    {exit_type_mismatch, "operation of another type than the key holds"},
    {exit_unauthenticated, "the node refused the client's credentials (TLS certificate or token)"},
};

inline int exit_code_of(errc c) {
  switch (c) {
    case errc::ok: return exit_ok;
    case errc::invalid_argument:
    case errc::too_large: return exit_usage;
    case errc::unavailable:
    case errc::busy: return exit_unavailable;
    case errc::timeout: return exit_timeout;
    case errc::conflict: return exit_conflict;
    case errc::type_mismatch: return exit_type_mismatch;
    case errc::unauthenticated: return exit_unauthenticated;
    default: return exit_error;
  }
}

}  // namespace rumor::cli
