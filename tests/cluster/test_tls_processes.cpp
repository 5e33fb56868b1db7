// Security end to end (README "Security"): real `rumor node` processes with TLS — a cluster of
// one CA converges and runs the cas lane; nodes of another CA, with an expired certificate or
// without TLS are refused by every member (and refuse them); clients need a certificate or a
// token and get clear errors and exit codes from the CLI; a CA rotation by SIGHUP keeps the
// cluster converging with no restart. Bounded; stops only its own PIDs.

#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>
#include <fstream>

#include "processes.hpp"
#include "security/certs.hpp"

using namespace std::chrono_literals;
using rumor::test::eventually_for;
using rumor::test::node_process;
using rumor::test::rumor_cmd;
using rumor::test::temp_dir;
namespace sec = rumor::security;

namespace {

sec::pem_pair must(rumor::result<sec::pem_pair> r) {
  REQUIRE_MESSAGE(r, (r ? "" : r.err().describe()));
  return std::move(*r);
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

// A CA and the files of the nodes and clients it certifies, in one directory.
struct pki {
  std::string dir;
  sec::pem_pair ca;
  std::string ca_file;  // the bundle the nodes are given (ca.crt at first)

  pki(std::string d, const std::string& ca_name) : dir(std::move(d)), ca(must(sec::make_ca(ca_name, 30))) {
    REQUIRE(sec::write_pem_files(dir, "ca", ca));
    ca_file = dir + "/ca.crt";
  }
  // name.crt / name.key; `days_ago` > 0: a certificate that expired that many days ago.
  void issue(const std::string& name, sec::cert_role role, int days_ago = 0) {
    sec::cert_request req;
    req.name = name;
    req.role = role;
    if (role == sec::cert_role::node) req.hosts = {"127.0.0.1"};
    if (days_ago > 0) {
      req.valid_from_s = -int64_t{days_ago + 2} * 86400;
      req.days = 1;
    }
    REQUIRE(sec::write_pem_files(dir, name, must(sec::make_certificate(ca, req))));
  }
  std::vector<std::string> node_flags(const std::string& name) const {
    return {"--tls-ca", ca_file, "--tls-cert", dir + "/" + name + ".crt", "--tls-key", dir + "/" + name + ".key"};
  }
  rumor::client::credentials client(const std::string& name) const {
    return {{ca_file, dir + "/" + name + ".crt", dir + "/" + name + ".key"}, ""};
  }
  std::vector<std::string> cli_flags(const std::string& name) const {
    return {"--tls-ca", ca_file, "--tls-cert", dir + "/" + name + ".crt", "--tls-key", dir + "/" + name + ".key"};
  }
};

// Three TLS nodes of one CA, joined to each other, with the cas lane on all three.
struct tls_cluster {
  temp_dir d;
  pki ca{d.path + "/pki", "cluster-ca"};
  std::vector<std::unique_ptr<node_process>> nodes;
  std::vector<std::string> addrs;

  tls_cluster() {
    for (int i = 0; i < 3; ++i) {
      ca.issue("n" + std::to_string(i), sec::cert_role::node);
      addrs.push_back("127.0.0.1:" + std::to_string(rumor::test::free_port()));
    }
    ca.issue("admin", sec::cert_role::client);
    for (int i = 0; i < 3; ++i) {
      std::string n = "n" + std::to_string(i);
      nodes.push_back(std::make_unique<node_process>(RUMOR_BINARY, addrs[i], d.path + "/" + n, d.path + "/" + n + ".log"));
      nodes.back()->set_credentials(ca.client("admin"));
    }
    for (int i = 0; i < 3; ++i) start(i);
  }
  std::vector<std::string> flags(int i) const {
    std::vector<std::string> f = ca.node_flags("n" + std::to_string(i));
    for (std::string x : {"--cluster", "tls-test", "--gossip-interval-ms", "50", "--durability", "relaxed"}) f.push_back(x);
    for (int j = 0; j < 3; ++j)
      if (j != i) {
        f.push_back("--join");
        f.push_back(addrs[j]);
      }
    f.push_back("--cas-voters");
    f.push_back(addrs[0] + "," + addrs[1] + "," + addrs[2]);
    return f;
  }
  void start(int i) {
    bool ok = nodes[i]->start(flags(i));
    if (!ok) MESSAGE(rumor::test::read_text(d.path + "/n" + std::to_string(i) + ".log"));
    REQUIRE_MESSAGE(ok, "TLS node " << i << " did not start");
  }
  std::string log(int i) const { return rumor::test::read_text(d.path + "/n" + std::to_string(i) + ".log"); }

  // The CLI against node i with the admin's client certificate.
  rumor::test::run_result cli(int i, std::vector<std::string> args) const {
    std::vector<std::string> full = {"--connect", addrs[i]};
    for (auto& f : ca.cli_flags("admin")) full.push_back(f);
    full.insert(full.end(), args.begin(), args.end());
    return rumor_cmd(full);
  }
  bool converged_to(const std::string& key, const std::string& expected) const {
    return eventually_for(15s, [&] {
      for (int i = 0; i < 3; ++i) {
        auto r = cli(i, {"get", key});
        if (r.code != 0 || r.out != expected + "\n") return false;
      }
      return true;
    });
  }
};

}  // namespace

TEST_CASE("tls: a three-node TLS cluster converges and runs the cas lane") {
  tls_cluster c;
  for (int i = 0; i < 3; ++i) {
    auto r = c.cli(i, {"incr", "hits", std::to_string(i + 1)});
    REQUIRE_MESSAGE(r.code == 0, r.err);
  }
  CHECK(c.converged_to("hits", "6"));
  auto cas = c.cli(1, {"cas", "leader", "--absent", "n1"});
  CHECK_MESSAGE(cas.code == 0, cas.err);
  auto lget = c.cli(2, {"lget", "leader"});
  CHECK(lget.code == 0);
  CHECK(lget.out.find("n1") != std::string::npos);
  auto st = c.cli(0, {"status", "--json"});
  REQUIRE(st.code == 0);
  CHECK(st.out.find("\"security\":\"tls\"") != std::string::npos);
  auto members = c.cli(0, {"members"});
  CHECK(members.code == 0);
}

TEST_CASE("tls: nodes of another CA, with an expired certificate or without TLS are refused both ways") {
  tls_cluster c;
  REQUIRE(c.cli(0, {"set", "k", "members-only"}).code == 0);

  pki foreign(c.d.path + "/foreign", "foreign-ca");
  foreign.issue("x", sec::cert_role::node);
  c.ca.issue("old", sec::cert_role::node, /*days_ago=*/3);

  struct intruder {
    std::string name;
    std::vector<std::string> flags;
    rumor::client::credentials creds;  // what its own readiness probe connects with
    bool probe_ok;                     // whether that probe can succeed (it trusts its own certificate)
    std::string member_log_says;       // what a member logs about it
    std::string own_log_says;          // what it logs about the members
  };
  foreign.issue("probe", sec::cert_role::client);
  std::vector<std::string> foreign_cert = {"--tls-ca", c.ca.ca_file, "--tls-cert", foreign.dir + "/x.crt",
                                           "--tls-key", foreign.dir + "/x.key"};
  std::vector<intruder> cases = {
      // Trusts only its own CA: it refuses the members' certificates; they see its alert.
      {"foreign-ca", foreign.node_flags("x"), foreign.client("probe"), true, "unknown ca", "certificate verify failed"},
      // Trusts the cluster CA but holds a foreign certificate: the members refuse it.
      {"foreign-cert", foreign_cert, {}, false, "certificate verify failed", "unknown ca"},
      {"expired", c.ca.node_flags("old"), {}, false, "certificate has expired", "certificate expired"},
      {"plaintext", {}, {}, true, "did not start a TLS handshake", "requires TLS"},
  };
  for (auto& in : cases) {
    CAPTURE(in.name);
    std::string addr = "127.0.0.1:" + std::to_string(rumor::test::free_port());
    node_process x(RUMOR_BINARY, addr, c.d.path + "/" + in.name, c.d.path + "/" + in.name + ".log");
    x.set_credentials(in.creds);
    std::vector<std::string> flags = in.flags;
    for (std::string f : {"--cluster", "tls-test", "--gossip-interval-ms", "50", "--join", c.addrs[0].c_str(), "--join",
                          c.addrs[1].c_str()})
      flags.push_back(f);
    bool started = x.start(flags, in.probe_ok ? 20s : 3s);
    if (in.probe_ok) REQUIRE_MESSAGE(started, rumor::test::read_text(c.d.path + "/" + in.name + ".log"));
    REQUIRE(x.running());
    // Every member refuses it (it dials the two seeds; the members try it back once they hear of it
    // — they never do, as it is never admitted).
    CHECK(eventually_for(10s, [&] {
      return c.log(0).find(in.member_log_says) != std::string::npos ||
             c.log(1).find(in.member_log_says) != std::string::npos;
    }));
    // ... and it never joins: the members list stays the three, and it never gets the key.
    std::this_thread::sleep_for(500ms);
    auto members = c.cli(0, {"members", "--json"});
    REQUIRE(members.code == 0);
    CHECK(members.out.find(addr) == std::string::npos);
    if (in.probe_ok) {
      auto c2 = x.connect(2000);
      REQUIRE_MESSAGE(c2, (c2 ? "" : c2.err().describe()));
      rumor::client::request req;
      req.body = rumor::client::get{"k"};
      auto r = c2->call(req, 2000);
      REQUIRE(r);
      CHECK(r->values.empty());
    }
    // The intruder refuses the members as well, or is told it was refused.
    CHECK(rumor::test::read_text(c.d.path + "/" + in.name + ".log").find(in.own_log_says) != std::string::npos);
    x.stop();
  }
  // The members still converge among themselves.
  REQUIRE(c.cli(2, {"set", "k2", "still-fine"}).code == 0);
  CHECK(c.converged_to("k2", "still-fine"));
}

TEST_CASE("tls: clients need a certificate or a token, and the CLI says what is wrong") {
  temp_dir d;
  pki ca(d.path + "/pki", "cluster-ca");
  ca.issue("n0", sec::cert_role::node);
  ca.issue("alice", sec::cert_role::client);
  std::string token = "0123456789abcdef0123456789abcdef";
  write_text(d.path + "/tokens", "# clients\n" + token + "\n");
  std::string addr = "127.0.0.1:" + std::to_string(rumor::test::free_port());
  node_process n(RUMOR_BINARY, addr, d.path + "/n0", d.path + "/n0.log");
  n.set_credentials(ca.client("alice"));
  auto flags = ca.node_flags("n0");
  flags.push_back("--client-token-file");
  flags.push_back(d.path + "/tokens");
  REQUIRE(n.start(flags));
  auto cli = [&](std::vector<std::string> pre, std::vector<std::string> args) {
    std::vector<std::string> full = {"--connect", addr};
    full.insert(full.end(), pre.begin(), pre.end());
    full.insert(full.end(), args.begin(), args.end());
    return rumor_cmd(full);
  };

  auto r = cli(ca.cli_flags("alice"), {"set", "secret", "v"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  r = cli({"--tls-ca", ca.ca_file, "--token", token}, {"get", "secret"});
  CHECK_MESSAGE(r.code == 0, r.err);
  CHECK(r.out == "v\n");
  r = cli(ca.cli_flags("alice"), {"status"});
  CHECK(r.out.find("security    tls+token") != std::string::npos);

  // A plaintext client: refused, told TLS is required; exit 3.
  r = cli({}, {"get", "secret"});
  CHECK(r.code == 3);
  CHECK(r.err.find("requires TLS") != std::string::npos);
  // A wrong token and no credentials at all: the same answer for a key that exists and one that
  // does not (nothing about the keyspace is said); exit 7.
  for (std::string key : {"secret", "absent"}) {
    r = cli({"--tls-ca", ca.ca_file, "--token", "wrong-token-wrong-token"}, {"get", key});
    CHECK(r.code == 7);
    CHECK(r.err.find("authentication failed") != std::string::npos);
    CHECK(r.out.empty());
    r = cli({"--tls-ca", ca.ca_file}, {"get", key});
    CHECK(r.code == 7);
  }
  // The token and CA from the environment.
  r = rumor_cmd({"--connect", addr, "get", "secret"}, 20s, {"RUMOR_TOKEN=" + token, "RUMOR_TLS_CA=" + ca.ca_file});
  CHECK_MESSAGE(r.code == 0, r.err);
  CHECK(r.out == "v\n");
  // A client of a foreign CA: the node's certificate is not trusted; exit 3 naming TLS.
  pki other(d.path + "/other", "other-ca");
  other.issue("mallory", sec::cert_role::client);
  r = cli(other.cli_flags("mallory"), {"get", "secret"});
  CHECK(r.code == 3);
  CHECK(r.err.find("TLS") != std::string::npos);
  // A TLS client against a plaintext node: exit 3 naming TLS.
  std::string plain_addr = "127.0.0.1:" + std::to_string(rumor::test::free_port());
  node_process plain(RUMOR_BINARY, plain_addr, d.path + "/p0", d.path + "/p0.log");
  REQUIRE(plain.start({}));
  r = rumor_cmd({"--connect", plain_addr, "--tls-ca", ca.ca_file, "--token", token, "get", "x"});
  CHECK(r.code == 3);
  CHECK(r.err.find("TLS") != std::string::npos);
  CHECK(rumor::test::read_text(d.path + "/p0.log").find("it speaks TLS") != std::string::npos);
  // Bad TLS files: a usage error naming the file.
  r = cli({"--tls-ca", d.path + "/nope.crt"}, {"get", "secret"});
  CHECK(r.code == 2);
  CHECK(r.err.find("nope.crt") != std::string::npos);
}

TEST_CASE("tls: a CA rotation by SIGHUP keeps the cluster converging with no restart") {
  tls_cluster c;
  REQUIRE(c.cli(0, {"incr", "n", "1"}).code == 0);
  std::vector<pid_t> pids;
  for (auto& n : c.nodes) pids.push_back(n->pid());
  auto reloads = [&](int i) {
    std::string log = c.log(i);
    size_t n = 0;
    for (size_t at = log.find("SIGHUP: TLS files"); at != std::string::npos; at = log.find("SIGHUP: TLS files", at + 1)) ++n;
    return n;
  };
  auto hup_all = [&] {
    std::vector<size_t> before;
    for (int i = 0; i < 3; ++i) before.push_back(reloads(i));
    for (auto& n : c.nodes) ::kill(n->pid(), SIGHUP);
    for (int i = 0; i < 3; ++i) CHECK(eventually_for(5s, [&] { return reloads(i) > before[i]; }));
  };

  // 1. Every node trusts old + new CA (the bundle file is rewritten in place, then SIGHUP).
  pki next(c.d.path + "/next", "next-ca");
  write_text(c.ca.ca_file, c.ca.ca.cert + next.ca.cert);
  hup_all();
  // 2. Every node gets a certificate of the new CA (same file names), then SIGHUP.
  for (int i = 0; i < 3; ++i) {
    std::string n = "n" + std::to_string(i);
    std::filesystem::remove(c.ca.dir + "/" + n + ".crt");
    std::filesystem::remove(c.ca.dir + "/" + n + ".key");
    sec::cert_request req;
    req.name = n;
    req.role = sec::cert_role::node;
    req.hosts = {"127.0.0.1"};
    REQUIRE(sec::write_pem_files(c.ca.dir, n, must(sec::make_certificate(next.ca, req))));
  }
  std::filesystem::remove(c.ca.dir + "/admin.crt");
  std::filesystem::remove(c.ca.dir + "/admin.key");
  {
    sec::cert_request req;
    req.name = "admin";
    req.role = sec::cert_role::client;
    REQUIRE(sec::write_pem_files(c.ca.dir, "admin", must(sec::make_certificate(next.ca, req))));
  }
  hup_all();
  REQUIRE(c.cli(1, {"incr", "n", "1"}).code == 0);
  CHECK(c.converged_to("n", "2"));
  // 3. The old CA is dropped from the bundle.
  write_text(c.ca.ca_file, next.ca.cert);
  hup_all();
  REQUIRE(c.cli(2, {"incr", "n", "1"}).code == 0);
  CHECK(c.converged_to("n", "3"));
  // New connections now take new-CA certificates only: a client of the old CA is refused.
  sec::cert_request old_client;
  old_client.name = "old-admin";
  old_client.role = sec::cert_role::client;
  REQUIRE(sec::write_pem_files(c.ca.dir, "old-admin", must(sec::make_certificate(c.ca.ca, old_client))));
  auto refused = rumor_cmd({"--connect", c.addrs[0], "--tls-ca", c.ca.ca_file, "--tls-cert",
                            c.ca.dir + "/old-admin.crt", "--tls-key", c.ca.dir + "/old-admin.key", "get", "n"});
  CHECK(refused.code != 0);
  // A node restarted after the rotation rejoins with its new certificate (new peer connections).
  c.nodes[2]->stop();
  c.start(2);
  REQUIRE(c.cli(0, {"incr", "n", "1"}).code == 0);
  CHECK(c.converged_to("n", "4"));
  for (int i = 0; i < 2; ++i) CHECK(c.nodes[i]->pid() == pids[i]);  // never restarted
  // A bad file on SIGHUP keeps the old credentials, and says so.
  write_text(c.ca.dir + "/n0.key", "garbage\n");
  ::kill(c.nodes[0]->pid(), SIGHUP);
  CHECK(eventually_for(5s, [&] { return c.log(0).find("the old ones stay in use") != std::string::npos; }));
  CHECK(c.cli(0, {"get", "n"}).code == 0);
}

namespace {

// A raw TCP connection to 127.0.0.1:port (-1 on failure).
int raw_connect(const std::string& address) {
  auto hp = rumor::client::parse_host_port(address);
  REQUIRE(hp);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(hp->port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Whether the other side closed `fd` within `timeout` (reading and dropping whatever it sent).
bool closed_within(int fd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now()).count());
    if (::poll(&p, 1, std::max(left, 1)) <= 0) continue;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return true;  // EOF or reset
  }
  return false;
}

}  // namespace

TEST_CASE("tls: garbage, stalled handshakes and 1,000 idle connections are closed while clients are served") {
  // Room for 1,000 sockets in this process.
  rlimit lim{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &lim) == 0);
  if (lim.rlim_cur < 1500 && lim.rlim_max >= 1500) {
    lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 4096);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &lim) == 0);
  }
  const size_t idle_count = lim.rlim_cur >= 1500 ? 1000 : lim.rlim_cur / 2;
  MESSAGE("idle connections: " << idle_count);

  temp_dir d;
  pki ca(d.path + "/pki", "cluster-ca");
  ca.issue("n0", sec::cert_role::node);
  ca.issue("alice", sec::cert_role::client);
  std::string addr = "127.0.0.1:" + std::to_string(rumor::test::free_port());
  node_process n(RUMOR_BINARY, addr, d.path + "/n0", d.path + "/n0.log");
  n.set_credentials(ca.client("alice"));
  REQUIRE(n.start(ca.node_flags("n0")));
  auto served = [&](rumor::client::connection& c) {
    rumor::client::request req;
    req.body = rumor::client::status{};
    auto r = c.call(req, 3000);
    return r && r->code == rumor::errc::ok;
  };
  auto client = n.connect(3000);
  REQUIRE(client);
  REQUIRE(served(*client));

  // Garbage where a ClientHello belongs (plaintext, and a TLS record header with junk after it).
  for (std::string junk : {std::string("GET / HTTP/1.0\r\n\r\n"), std::string("\x16\x03\x01\x00\x05hello-junk", 15)}) {
    int fd = raw_connect(addr);
    REQUIRE(fd >= 0);
    REQUIRE(::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(junk.size()));
    CHECK(closed_within(fd, 3s));
    ::close(fd);
  }
  // A handshake that never finishes: closed by the handshake timeout (5 s).
  int stalled = raw_connect(addr);
  REQUIRE(stalled >= 0);
  std::string half("\x16\x03\x01\x02\x00", 5);  // a record header promising 512 bytes that never come
  REQUIRE(::send(stalled, half.data(), half.size(), MSG_NOSIGNAL) == 5);

  // Idle half-open connections: the node keeps serving the client it has and new ones.
  std::vector<int> idle;
  for (size_t i = 0; i < idle_count; ++i) {
    int fd = raw_connect(addr);
    if (fd < 0) break;
    idle.push_back(fd);
  }
  CHECK(idle.size() == idle_count);
  CHECK(served(*client));
  auto fresh = n.connect(3000);
  REQUIRE_MESSAGE(fresh, (fresh ? "" : fresh.err().describe()));
  CHECK(served(*fresh));
  // Every one of them is closed within the handshake timeout and a margin.
  CHECK(closed_within(stalled, 10s));
  ::close(stalled);
  size_t closed = 0;
  for (int fd : idle) {
    if (closed_within(fd, 10s)) ++closed;
    ::close(fd);
  }
  CHECK(closed == idle.size());
  CHECK(served(*client));
  CHECK(rumor::test::read_text(d.path + "/n0.log").find("in their handshake") != std::string::npos);
}

TEST_CASE("tls: rumor certs makes a CA, node and client certificates and tokens, and refuses to overwrite") {
  temp_dir d;
  std::string ca = d.path + "/ca";
  auto r = rumor_cmd({"certs", "init-ca", "--dir", ca});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  struct stat st{};
  REQUIRE(::stat((ca + "/ca.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  r = rumor_cmd({"certs", "init-ca", "--dir", ca});
  CHECK(r.code == 1);
  CHECK(r.err.find("exists already") != std::string::npos);
  r = rumor_cmd({"certs", "node", "--ca", ca, "--name", "n1", "--host", "127.0.0.1", "--host", "n1.example"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  r = rumor_cmd({"certs", "client", "--ca", ca, "--name", "alice", "--out", d.path + "/alice"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  REQUIRE(::stat((d.path + "/alice/alice.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(rumor_cmd({"certs", "node", "--ca", ca, "--name", "n2"}).code == 2);  // no --host
  CHECK(rumor_cmd({"certs", "node", "--ca", ca, "--name", "n2", "--host", "not a host"}).code == 2);
  r = rumor_cmd({"certs", "node", "--ca", d.path + "/nowhere", "--name", "n2", "--host", "127.0.0.1"});
  CHECK(r.code != 0);
  CHECK(r.err.find("init-ca") != std::string::npos);
  auto t1 = rumor_cmd({"certs", "token"});
  auto t2 = rumor_cmd({"certs", "token"});
  REQUIRE(t1.code == 0);
  CHECK(t1.out.size() == 65);
  CHECK(t1.out != t2.out);

  // The files it made work together: a node and a client of that CA.
  write_text(d.path + "/tokens", t1.out);
  std::string addr = "127.0.0.1:" + std::to_string(rumor::test::free_port());
  node_process n(RUMOR_BINARY, addr, d.path + "/n1", d.path + "/n1.log");
  rumor::client::credentials alice{{ca + "/ca.crt", d.path + "/alice/alice.crt", d.path + "/alice/alice.key"}, ""};
  n.set_credentials(alice);
  // The TLS settings from a --config file, as rumor.toml sets them.
  write_text(d.path + "/node.toml", "[node]\ntls-ca = \"" + ca + "/ca.crt\"\ntls-cert = \"" + ca + "/n1.crt\"\ntls-key = \"" +
                                        ca + "/n1.key\"\nclient-token-file = \"" + d.path + "/tokens\"\n");
  REQUIRE(n.start({"--config", d.path + "/node.toml"}));
  r = rumor_cmd({"--connect", addr, "--tls-ca", ca + "/ca.crt", "--token", t1.out.substr(0, 64), "status", "--json"});
  CHECK_MESSAGE(r.code == 0, r.err);
  CHECK(r.out.find("\"security\":\"tls+token\"") != std::string::npos);
}

TEST_CASE("tls: rumor cluster --tls runs its nodes with a throwaway CA that its printed command uses") {
  temp_dir d;
  uint16_t port = rumor::test::free_port();
  int out_pipe[2];
  REQUIRE(::pipe(out_pipe) == 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_pipe[1], 1);
    ::close(out_pipe[0]);
    std::vector<std::string> args = {RUMOR_BINARY, "cluster", "--nodes", "1", "--tls", "--base-port", std::to_string(port),
                                     "--dir", d.path + "/rc"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(RUMOR_BINARY, argv.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  struct reaper {
    pid_t pid;
    ~reaper() {
      ::kill(pid, SIGTERM);
      int st = 0;
      for (int i = 0; i < 200 && ::waitpid(pid, &st, WNOHANG) != pid; ++i) std::this_thread::sleep_for(50ms);
      if (::waitpid(pid, &st, WNOHANG) == 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &st, 0);
      }
    }
  } reap{pid};
  std::string certs = d.path + "/rc/certs";
  std::vector<std::string> tls = {"--tls-ca", certs + "/ca.crt", "--tls-cert", certs + "/client.crt", "--tls-key",
                                  certs + "/client.key"};
  std::string addr = "127.0.0.1:" + std::to_string(port);
  auto with_tls = [&](std::vector<std::string> args) {
    std::vector<std::string> full = {"--connect", addr};
    full.insert(full.end(), tls.begin(), tls.end());
    full.insert(full.end(), args.begin(), args.end());
    return rumor_cmd(full);
  };
  CHECK(eventually_for(20s, [&] { return with_tls({"incr", "hits"}).code == 0; }));
  CHECK(with_tls({"get", "hits"}).out == "1\n");
  CHECK(rumor_cmd({"--connect", addr, "get", "hits"}).code == 3);  // plaintext: refused
  // What it printed names the client files.
  char buf[4096];
  ::fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
  ssize_t got = ::read(out_pipe[0], buf, sizeof buf);
  std::string printed = got > 0 ? std::string(buf, static_cast<size_t>(got)) : "";
  CHECK(printed.find("--tls-cert " + certs + "/client.crt") != std::string::npos);
  ::close(out_pipe[0]);
}
