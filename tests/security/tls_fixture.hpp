#pragma once
// Test helpers for TLS: a directory of generated CAs and certificates, and a pump that runs two
// tls_sessions against each other in memory.

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "security/certs.hpp"
#include "security/tls_context.hpp"
#include "security/tls_session.hpp"

namespace rumor::security::test {

// A fresh temporary directory, removed on destruction.
class cert_dir {
 public:
  cert_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "rumor-certs-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  cert_dir(const cert_dir&) = delete;
  cert_dir& operator=(const cert_dir&) = delete;
  ~cert_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

  // Writes `pair` as <base>.crt/.key and returns the files (with `ca` as the CA bundle).
  tls_files add(const std::string& base, const pem_pair& pair, const std::string& ca_file) {
    auto st = write_pem_files(path_, base, pair);
    REQUIRE_MESSAGE(st, (st ? "" : st.err().describe()));
    return tls_files{ca_file, path_ + "/" + base + ".crt", path_ + "/" + base + ".key"};
  }
  // Writes a CA's certificate alone (a CA bundle) and returns its path.
  std::string add_ca(const std::string& base, const pem_pair& ca) {
    auto st = write_pem_files(path_, base, ca);
    REQUIRE_MESSAGE(st, (st ? "" : st.err().describe()));
    return path_ + "/" + base + ".crt";
  }

 private:
  std::string path_;
};

inline pem_pair must(result<pem_pair> r) {
  REQUIRE_MESSAGE(r, (r ? "" : r.err().describe()));
  return std::move(*r);
}

inline std::shared_ptr<const tls_context> load(const tls_files& f) {
  auto c = tls_context::load(f);
  REQUIRE_MESSAGE(c, (c ? "" : c.err().describe()));
  return *c;
}

// A CA and a few certificates of it, on disk: nodes n1 (127.0.0.1, node1.example) and n2
// (127.0.0.2), client "alice", and `bare` (the CA bundle alone: no certificate of one's own).
struct test_pki {
  cert_dir dir;
  pem_pair ca = must(make_ca("test-ca", 30));
  std::string ca_file = dir.add_ca("ca", ca);
  tls_files n1 = node("n1", {"127.0.0.1", "node1.example"});
  tls_files n2 = node("n2", {"127.0.0.2"});
  tls_files client = dir.add("cli", must(make_certificate(ca, {.name = "alice", .role = cert_role::client, .hosts = {}})),
                             ca_file);
  tls_files bare{ca_file, "", ""};

  tls_files node(const std::string& name, std::vector<std::string> hosts) {
    return dir.add(name, must(make_certificate(ca, {.name = name, .role = cert_role::node, .hosts = std::move(hosts)})),
                   ca_file);
  }
};

// Two sessions and the bytes between them.
struct pair_run {
  std::unique_ptr<tls_session> client;  // tls_side::connect
  std::unique_ptr<tls_session> server;  // tls_side::accept
  std::string client_got, server_got;   // plaintext received
  rumor::status client_status, server_status;

  // Moves bytes both ways until neither side has output (bounded), stopping a side at its first
  // error (its final output, e.g. an alert, still reaches the other).
  void pump() {
    for (int round = 0; round < 50; ++round) {
      bool moved = false;
      if (client->has_output()) {
        moved = true;
        auto bytes = client->take_output();
        if (server_status) server_status = server->receive(bytes, server_got);
      }
      if (server->has_output()) {
        moved = true;
        auto bytes = server->take_output();
        if (client_status) client_status = client->receive(bytes, client_got);
      }
      if (!moved) return;
    }
    FAIL("the TLS sessions kept talking for 50 rounds");
  }
};

inline pair_run connect_pair(std::shared_ptr<const tls_context> client_ctx,
                             std::shared_ptr<const tls_context> server_ctx, const std::string& host) {
  pair_run p;
  auto c = tls_session::make(client_ctx, tls_side::connect, host);
  REQUIRE_MESSAGE(c, (c ? "" : c.err().describe()));
  auto s = tls_session::make(server_ctx, tls_side::accept, "");
  REQUIRE_MESSAGE(s, (s ? "" : s.err().describe()));
  p.client = std::move(*c);
  p.server = std::move(*s);
  p.pump();
  return p;
}

}  // namespace rumor::security::test
