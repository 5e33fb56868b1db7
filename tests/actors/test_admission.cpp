// actors/admission: which peers and clients a node admits at the hello, over TLS and without.

#include <doctest/doctest.h>

#include "actors/admission.hpp"
#include "security/tls_fixture.hpp"
#include "security/tokens.hpp"

using namespace rumor;
using namespace rumor::actors;
using namespace rumor::security;
using namespace rumor::security::test;

namespace {

using certs = test_pki;

replication::hello peer_hello(std::string address) {
  replication::hello h;
  h.cluster = "c";
  h.node = 7;
  h.address = std::move(address);
  return h;
}

replication::hello client_hello(std::string token = {}) {
  replication::hello h;
  h.client = true;
  h.token = std::move(token);
  return h;
}

// The acceptor's session after `who` connected to a node holding `server`.
pair_run accepted(const tls_files& who, const tls_files& server) {
  auto p = connect_pair(load(who), load(server), "127.0.0.1");
  REQUIRE(p.server_status);
  REQUIRE(p.client_status);
  return p;
}

}  // namespace

TEST_CASE("a peer over TLS needs a node certificate naming the host it announces") {
  certs c;
  auto p = accepted(c.n2, c.n1);
  CHECK_FALSE(peer_refusal(p.server.get(), peer_hello("127.0.0.2:7400")));
  auto wrong_host = peer_refusal(p.server.get(), peer_hello("127.0.0.1:7400"));
  REQUIRE(wrong_host);
  CHECK(wrong_host->find("does not name 127.0.0.1") != std::string::npos);
  auto as_client = accepted(c.client, c.n1);
  auto role = peer_refusal(as_client.server.get(), peer_hello("127.0.0.1:7400"));
  REQUIRE(role);
  CHECK(role->find("not a node certificate") != std::string::npos);
  auto none = accepted(c.bare, c.n1);
  CHECK(peer_refusal(none.server.get(), peer_hello("127.0.0.1:7400")));
  // Without TLS the transport admits any peer of the cluster (the cluster name is checked elsewhere).
  CHECK_FALSE(peer_refusal(nullptr, peer_hello("127.0.0.9:1")));
}

TEST_CASE("a client needs a certificate or a token, as the node is set up") {
  certs c;
  transport_credentials tls_only{load(c.n1), {}};
  transport_credentials tls_tokens{load(c.n1), {"0123456789abcdef0123"}};
  transport_credentials plain_tokens{nullptr, {"0123456789abcdef0123"}};
  transport_credentials open{};
  auto with_cert = accepted(c.client, c.n1);
  auto with_node_cert = accepted(c.n2, c.n1);
  auto without = accepted(c.bare, c.n1);

  CHECK_FALSE(client_refusal(tls_only, with_cert.server.get(), client_hello()));
  CHECK_FALSE(client_refusal(tls_only, with_node_cert.server.get(), client_hello()));
  CHECK(client_refusal(tls_only, without.server.get(), client_hello()));
  CHECK(client_refusal(tls_only, without.server.get(), client_hello("0123456789abcdef0123")));  // no tokens here

  CHECK_FALSE(client_refusal(tls_tokens, without.server.get(), client_hello("0123456789abcdef0123")));
  auto wrong = client_refusal(tls_tokens, without.server.get(), client_hello("0123456789abcdef0124"));
  REQUIRE(wrong);
  CHECK(*wrong == "a wrong token");
  CHECK(client_refusal(tls_tokens, without.server.get(), client_hello()));
  CHECK_FALSE(client_refusal(tls_tokens, with_cert.server.get(), client_hello()));

  CHECK_FALSE(client_refusal(plain_tokens, nullptr, client_hello("0123456789abcdef0123")));
  CHECK(client_refusal(plain_tokens, nullptr, client_hello("nope")));
  CHECK_FALSE(client_refusal(open, nullptr, client_hello()));

  CHECK(security_mode(tls_only) == "tls");
  CHECK(security_mode(tls_tokens) == "tls+token");
  CHECK(security_mode(plain_tokens) == "token");
  CHECK(security_mode(open) == "none");
}
