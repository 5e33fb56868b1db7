#pragma once
// `rumor certs`: make the keys and certificates of a TLS cluster without openssl incantations
// (security/certs.hpp makes them).
//
//   rumor certs init-ca --dir certs                       certs/ca.crt, certs/ca.key
//   rumor certs node --ca certs --name n1 --host 127.0.0.1 --host node1.example
//                                                         certs/n1.crt, certs/n1.key
//   rumor certs client --ca certs --name alice            certs/alice.crt, certs/alice.key
//   rumor certs token                                     prints a fresh client token
//
// --out DIR writes a node's or client's files elsewhere than the CA's directory. Keys are
// created with mode 0600; no existing file is overwritten (exit 1 naming it).

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace rumor::cli {

struct certs_options {
  std::string dir;                 // init-ca: where ca.crt / ca.key go
  std::string ca;                  // node, client: the CA's directory
  std::string name;                // node, client: the holder (CN; also the file names)
  std::vector<std::string> hosts;  // node: the hosts it is reached at (subjectAltNames)
  std::string out;                 // node, client: output directory (default: the CA's)
  int days = 0;                    // validity; 0: 3650 for a CA, 825 otherwise
};

// Adds `certs` and its subcommands to `app`; returns the `certs` command.
CLI::App* add_certs_command(CLI::App& app, certs_options& o);

// Runs the parsed `certs` subcommand. Returns the process exit code.
int run_certs(CLI::App* certs, const certs_options& o);

}  // namespace rumor::cli
