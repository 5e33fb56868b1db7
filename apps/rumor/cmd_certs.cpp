#include "cmd_certs.hpp"

#include <iostream>

#include "exit_codes.hpp"
#include "security/certs.hpp"
#include "security/tokens.hpp"

namespace rumor::cli {

CLI::App* add_certs_command(CLI::App& app, certs_options& o) {
  auto* certs = app.add_subcommand("certs", "make a TLS cluster's CA, node and client certificates, and client tokens");
  certs->require_subcommand(1);
  auto* init = certs->add_subcommand("init-ca", "create a cluster CA: DIR/ca.crt and DIR/ca.key (keep the key safe)");
  init->add_option("--dir", o.dir, "directory for ca.crt and ca.key (created if missing)")->required();
  init->add_option("--name", o.name, "the CA's name")->default_str("rumor-ca");
  init->add_option("--days", o.days, "validity in days (default 3650)")->check(CLI::Range(1, 36500));
  auto* node = certs->add_subcommand("node", "create a node certificate signed by the CA: NAME.crt and NAME.key");
  auto* client = certs->add_subcommand("client", "create a client certificate signed by the CA: NAME.crt and NAME.key");
  for (auto* sc : {node, client}) {
    sc->add_option("--ca", o.ca, "the CA's directory (holding ca.crt and ca.key)")->required();
    sc->add_option("--name", o.name, "the holder's name (certificate CN, file names)")->required();
    sc->add_option("--out", o.out, "directory for the files (default: the CA's directory)");
    sc->add_option("--days", o.days, "validity in days (default 825)")->check(CLI::Range(1, 36500));
  }
  node->add_option("--host", o.hosts,
                   "an address or DNS name the node is reached at (repeatable; its --advertise host must be one)")
      ->required();
  certs->add_subcommand("token", "print a fresh random client token (for a --client-token-file)");
  return certs;
}

namespace {

int report(const rumor::error& e) {
  std::cerr << "rumor certs: " << e.message << "\n";
  return e.code == errc::invalid_argument ? exit_usage : exit_error;
}

}  // namespace

int run_certs(CLI::App* certs, const certs_options& o) {
  if (certs->got_subcommand("token")) {
    auto t = security::make_token();
    if (!t) return report(t.err());
    std::cout << *t << "\n";
    return exit_ok;
  }
  if (certs->got_subcommand("init-ca")) {
    auto ca = security::make_ca(o.name.empty() ? "rumor-ca" : o.name, o.days > 0 ? o.days : 3650);
    if (!ca) return report(ca.err());
    if (auto st = security::write_pem_files(o.dir, "ca", *ca); !st) return report(st.err());
    std::cout << "wrote " << o.dir << "/ca.crt and " << o.dir << "/ca.key (mode 0600: keep it off the nodes)\n";
    return exit_ok;
  }
  bool is_node = certs->got_subcommand("node");
  auto ca = security::read_pem_files(o.ca, "ca");
  if (!ca) return report(rumor::error{ca.err().code, "the CA in " + o.ca + ": " + ca.err().message +
                                                       " (make one with `rumor certs init-ca --dir " + o.ca + "`)"});
  security::cert_request req;
  req.name = o.name;
  req.role = is_node ? security::cert_role::node : security::cert_role::client;
  req.hosts = o.hosts;
  if (o.days > 0) req.days = o.days;
  auto made = security::make_certificate(*ca, req);
  if (!made) return report(made.err());
  std::string out = o.out.empty() ? o.ca : o.out;
  if (auto st = security::write_pem_files(out, o.name, *made); !st) return report(st.err());
  std::cout << "wrote " << out << "/" << o.name << ".crt and " << out << "/" << o.name << ".key ("
            << (is_node ? "node" : "client") << " certificate, valid " << req.days << " days)\n";
  return exit_ok;
}

}  // namespace rumor::cli
