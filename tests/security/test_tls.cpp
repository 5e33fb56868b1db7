// The TLS engine (security/tls_session) and certificate tooling (security/certs) against each
// other in memory: who is trusted, who is refused and why, and that bytes arrive intact.

#include <sys/stat.h>

#include <fstream>

#include <doctest/doctest.h>

#include "security/tokens.hpp"
#include "tls_fixture.hpp"

using namespace rumor;
using namespace rumor::security;
using namespace rumor::security::test;

using cluster_certs = test_pki;

TEST_CASE("two nodes of one CA: handshake, identities, and bytes both ways") {
  cluster_certs c;
  auto p = connect_pair(load(c.n2), load(c.n1), "127.0.0.1");
  REQUIRE_MESSAGE(p.client_status, (p.client_status ? "" : p.client_status.err().describe()));
  REQUIRE_MESSAGE(p.server_status, (p.server_status ? "" : p.server_status.err().describe()));
  CHECK(p.client->established());
  CHECK(p.server->established());
  CHECK(p.client->peer().name() == "n1");
  CHECK(p.client->peer().role() == cert_role::node);
  CHECK(p.server->peer().name() == "n2");
  CHECK(p.server->peer().role() == cert_role::node);
  CHECK(p.server->peer().names_host("127.0.0.2"));
  CHECK_FALSE(p.server->peer().names_host("127.0.0.1"));
  CHECK(p.client->peer().names_host("node1.example"));
  CHECK_FALSE(p.client->peer().names_host("node2.example"));

  // Bytes queued before the handshake and after it, both ways, big enough for several records.
  std::string big(100000, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  REQUIRE(p.client->send("hello "));
  REQUIRE(p.client->send(big));
  REQUIRE(p.server->send("world"));
  p.pump();
  CHECK(p.server_got == "hello " + big);
  CHECK(p.client_got == "world");
}

TEST_CASE("plaintext sent before the handshake is delivered once it completes") {
  cluster_certs c;
  auto cl = tls_session::make(load(c.n2), tls_side::connect, "127.0.0.1");
  auto sv = tls_session::make(load(c.n1), tls_side::accept, "");
  REQUIRE(cl);
  REQUIRE(sv);
  REQUIRE((*cl)->send("early"));
  CHECK_FALSE((*cl)->established());
  pair_run p{std::move(*cl), std::move(*sv), {}, {}, {}, {}};
  p.pump();
  REQUIRE(p.client_status);
  REQUIRE(p.server_status);
  CHECK(p.server_got == "early");
}

TEST_CASE("a certificate of another CA is refused in both directions") {
  cluster_certs c;
  cert_dir other;
  auto foreign_ca = must(make_ca("foreign-ca", 30));
  auto foreign_ca_file = other.add_ca("ca", foreign_ca);
  auto intruder = other.add(
      "x", must(make_certificate(foreign_ca, {.name = "x", .role = cert_role::node, .hosts = {"127.0.0.1"}})),
      foreign_ca_file);

  SUBCASE("the intruder dials a member") {
    auto p = connect_pair(load(intruder), load(c.n1), "127.0.0.1");
    // The intruder does not trust the member's CA either: it gives up first.
    REQUIRE_FALSE(p.client_status);
    CHECK(p.client_status.err().message.find("TLS handshake failed") != std::string::npos);
    CHECK_FALSE(p.server->established());
  }
  SUBCASE("the intruder trusts the cluster CA but holds a foreign certificate") {
    tls_files f = intruder;
    f.ca = c.ca_file;
    auto p = connect_pair(load(f), load(c.n1), "127.0.0.1");
    REQUIRE_FALSE(p.server_status);
    CHECK(p.server_status.err().message.find("certificate verify failed") != std::string::npos);
    CHECK_FALSE(p.server->established());
    REQUIRE_FALSE(p.client_status);  // told by the member's alert
  }
  SUBCASE("a member dials the intruder") {
    auto p = connect_pair(load(c.n1), load(intruder), "127.0.0.1");
    REQUIRE_FALSE(p.client_status);
    CHECK(p.client_status.err().message.find("certificate verify failed") != std::string::npos);
    CHECK(p.client_status.err().code == errc::unavailable);
  }
}

TEST_CASE("an expired certificate is refused") {
  cluster_certs c;
  auto old = c.dir.add("old", must(make_certificate(c.ca, {.name = "old", .role = cert_role::node,
                                                           .hosts = {"127.0.0.1"}, .days = 1,
                                                           .valid_from_s = -3 * 86400})),
                       c.ca_file);
  CHECK(load(old)->own().seconds_left() < -86400);  // expired two days ago
  SUBCASE("as a server") {
    auto p = connect_pair(load(c.n2), load(old), "127.0.0.1");
    REQUIRE_FALSE(p.client_status);
    CHECK(p.client_status.err().message.find("expired") != std::string::npos);
  }
  SUBCASE("as a client") {
    auto p = connect_pair(load(old), load(c.n1), "127.0.0.1");
    REQUIRE_FALSE(p.server_status);
    CHECK(p.server_status.err().message.find("expired") != std::string::npos);
  }
}

TEST_CASE("the connecting side checks the host it dialed against the certificate") {
  cluster_certs c;
  auto p = connect_pair(load(c.n2), load(c.n1), "127.0.0.9");
  REQUIRE_FALSE(p.client_status);
  CHECK(p.client_status.err().message.find("mismatch") != std::string::npos);
  auto by_name = connect_pair(load(c.n2), load(c.n1), "node1.example");
  CHECK(by_name.client_status);
}

TEST_CASE("a client without a certificate gets through TLS, and the acceptor sees it has none") {
  cluster_certs c;
  auto p = connect_pair(load(tls_files{c.ca_file, "", ""}), load(c.n1), "127.0.0.1");
  REQUIRE(p.client_status);
  REQUIRE(p.server_status);
  CHECK(p.server->established());
  CHECK_FALSE(p.server->peer().has_certificate());
  auto q = connect_pair(load(c.client), load(c.n1), "127.0.0.1");
  REQUIRE(q.server_status);
  CHECK(q.server->peer().role() == cert_role::client);
  CHECK(q.server->peer().name() == "alice");
}

TEST_CASE("garbage instead of a ClientHello fails the handshake") {
  cluster_certs c;
  auto s = tls_session::make(load(c.n1), tls_side::accept, "");
  REQUIRE(s);
  std::string plain;
  auto st = (*s)->receive(std::string("\0\0\0\0\x05\0\0\0garbage-garbage-garbage", 31), plain);
  REQUIRE_FALSE(st);
  CHECK(st.err().message.find("TLS handshake failed") != std::string::npos);
  CHECK(plain.empty());
  // Failed stays failed.
  CHECK_FALSE((*s)->receive("more", plain));
  CHECK_FALSE((*s)->send("x"));
}

TEST_CASE("tls_context::load names what is wrong") {
  cluster_certs c;
  auto missing = tls_context::load({c.dir.path() + "/nope.crt", c.n1.cert, c.n1.key});
  REQUIRE_FALSE(missing);
  CHECK(missing.err().message.find("nope.crt") != std::string::npos);
  auto mismatch = tls_context::load({c.ca_file, c.n1.cert, c.n2.key});
  REQUIRE_FALSE(mismatch);
  CHECK(mismatch.err().message.find("does not belong") != std::string::npos);
  auto half = tls_context::load({c.ca_file, c.n1.cert, ""});
  REQUIRE_FALSE(half);
  CHECK(half.err().code == errc::invalid_argument);
  auto no_ca = tls_context::load({"", c.n1.cert, c.n1.key});
  REQUIRE_FALSE(no_ca);
  std::ofstream(c.dir.path() + "/junk.crt") << "not a certificate\n";
  auto junk = tls_context::load({c.dir.path() + "/junk.crt", c.n1.cert, c.n1.key});
  REQUIRE_FALSE(junk);
  auto ok = tls_context::load(c.n1);
  REQUIRE(ok);
  CHECK((*ok)->own().name() == "n1");
  CHECK((*ok)->own().role() == cert_role::node);
  CHECK((*ok)->own().seconds_left() > int64_t{824} * 86400);  // 825 days from now
  CHECK((*ok)->own().seconds_left() <= int64_t{825} * 86400);
}

TEST_CASE("a CA bundle with two CAs trusts both (rotation)") {
  cluster_certs c;
  cert_dir d2;
  auto new_ca = must(make_ca("new-ca", 30));
  auto new_n3 = d2.add("n3", must(make_certificate(new_ca, {.name = "n3", .role = cert_role::node,
                                                           .hosts = {"127.0.0.1"}})),
                       d2.add_ca("ca", new_ca));
  std::string bundle = d2.path() + "/bundle.pem";
  std::ofstream(bundle) << c.ca.cert << new_ca.cert;
  tls_files n3 = new_n3;
  n3.ca = bundle;
  tls_files n1 = c.n1;
  n1.ca = bundle;
  auto p = connect_pair(load(n3), load(n1), "127.0.0.1");  // new cert dials old cert, both trust both
  CHECK(p.client_status);
  CHECK(p.server_status);
  auto q = connect_pair(load(n3), load(c.n1), "127.0.0.1");  // n1 still trusting the old CA only
  CHECK_FALSE(q.server_status);
}

TEST_CASE("certificate files: modes, no overwriting, bad requests") {
  cert_dir d;
  auto ca = must(make_ca("ca", 1));
  REQUIRE(write_pem_files(d.path(), "ca", ca));
  struct stat st{};
  REQUIRE(::stat((d.path() + "/ca.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat((d.path() + "/ca.crt").c_str(), &st) == 0);
  CHECK((st.st_mode & 0077) != 0077);  // readable by others is fine for a certificate, never writable
  auto again = write_pem_files(d.path(), "ca", must(make_ca("ca2", 1)));
  REQUIRE_FALSE(again);
  CHECK(again.err().code == errc::busy);
  auto back = read_pem_files(d.path(), "ca");
  REQUIRE(back);
  CHECK(back->cert == ca.cert);
  CHECK(back->key == ca.key);

  CHECK_FALSE(make_certificate(ca, {.name = "n", .role = cert_role::node, .hosts = {}}));  // no hosts
  CHECK_FALSE(make_certificate(ca, {.name = "n", .role = cert_role::node, .hosts = {"bad host!"}}));
  CHECK_FALSE(make_certificate(ca, {.name = "", .role = cert_role::client, .hosts = {}}));
  CHECK_FALSE(make_certificate(pem_pair{ca.cert, must(make_ca("other", 1)).key}, {.name = "c", .role = cert_role::client, .hosts = {}}));
  CHECK_FALSE(make_ca("ca", 0));
}

TEST_CASE("client tokens: file rules and matching") {
  cert_dir d;
  std::string path = d.path() + "/tokens";
  std::ofstream(path) << "# clients\n\n  0123456789abcdef0123  \nsecond-token-long-enough\n";
  auto t = load_tokens(path);
  REQUIRE_MESSAGE(t, (t ? "" : t.err().describe()));
  REQUIRE(t->size() == 2);
  CHECK((*t)[0] == "0123456789abcdef0123");
  CHECK(token_matches("0123456789abcdef0123", *t));
  CHECK(token_matches("second-token-long-enough", *t));
  CHECK_FALSE(token_matches("0123456789abcdef012", *t));
  CHECK_FALSE(token_matches("", *t));
  CHECK_FALSE(token_matches("x", {}));
  std::ofstream(d.path() + "/short") << "short\n";
  auto s = load_tokens(d.path() + "/short");
  REQUIRE_FALSE(s);
  CHECK(s.err().message.find("line 1") != std::string::npos);
  std::ofstream(d.path() + "/empty") << "# nothing\n";
  CHECK_FALSE(load_tokens(d.path() + "/empty"));
  CHECK(load_tokens(d.path() + "/absent").err().code == errc::not_found);
  auto a = make_token();
  auto b = make_token();
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->size() == 64);
  CHECK(*a != *b);
}
