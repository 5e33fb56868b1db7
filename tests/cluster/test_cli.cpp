// The `rumor` command end to end: client commands against a real node process, JSON output,
// exit codes (usage 2, unreachable 3, timeout 4, conflict 5, type mismatch 6), and the node
// daemon's refusals (busy port, unusable data directory, bad flags). Bounded; stops only its own
// PIDs.

#include <doctest/doctest.h>

#include <sys/wait.h>

#include <array>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cstdio>
#include <fstream>

#include "processes.hpp"

using namespace std::chrono_literals;
using rumor::test::node_process;
using rumor::test::temp_dir;

using rumor::test::rumor_cmd;

TEST_CASE("cli: client commands against a node, human and JSON output, exit codes") {
  temp_dir d;
  std::string addr = "127.0.0.1:" + std::to_string(rumor::test::free_port());
  node_process n(RUMOR_BINARY, addr, d.path + "/n0", d.path + "/n0.log");
  REQUIRE(n.start({"--durability", "relaxed"}));
  auto c = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--connect", addr});
    return rumor_cmd(args);
  };

  auto r = c({"incr", "hits", "5"});
  CHECK(r.code == 0);
  CHECK(r.out == "5\n");
  r = c({"decr", "hits"});
  CHECK(r.out == "4\n");
  r = c({"--json", "get", "hits"});
  CHECK(r.out == "{\"key\":\"hits\",\"type\":\"pn_counter\",\"value\":4}\n");
  // Global options after the command work too.
  r = c({"get", "hits", "--json"});
  CHECK(r.out == "{\"key\":\"hits\",\"type\":\"pn_counter\",\"value\":4}\n");

  CHECK(c({"sadd", "fruit", "pear", "apple"}).out == "added 2 (2 members)\n");
  CHECK(c({"srem", "fruit", "pear"}).code == 0);
  r = c({"--json", "get", "fruit"});
  CHECK(r.out == "{\"key\":\"fruit\",\"type\":\"or_set\",\"value\":[\"apple\"]}\n");
  CHECK(c({"set", "owner", "ada"}).code == 0);
  r = c({"--json", "get", "owner"});
  CHECK(r.out == "{\"key\":\"owner\",\"type\":\"lww_register\",\"value\":\"ada\"}\n");
  CHECK(c({"flag", "launch", "on"}).code == 0);
  r = c({"--json", "get", "launch"});
  CHECK(r.out == "{\"key\":\"launch\",\"type\":\"ew_flag\",\"value\":true}\n");

  SUBCASE("mv-register: context round trip and a stale conditional put exits 5") {
    CHECK(c({"mvput", "doc", "v1"}).code == 0);
    r = c({"--json", "mvget", "doc"});
    REQUIRE(r.code == 0);
    auto pos = r.out.find("\"context\":\"");
    REQUIRE(pos != std::string::npos);
    std::string ctx = r.out.substr(pos + 11, r.out.find('"', pos + 11) - pos - 11);
    CHECK(c({"mvput", "doc", "v2", "--context", ctx}).code == 0);
    r = c({"mvput", "doc", "v3", "--context", ctx});
    CHECK(r.code == 5);
    CHECK(r.err.find("conflict") != std::string::npos);
    r = c({"mvput", "doc", "v3", "--context", "zz"});
    CHECK(r.code == 2);
  }
  SUBCASE("type mismatch exits 6 and names the types") {
    r = c({"sadd", "hits", "x"});
    CHECK(r.code == 6);
    CHECK(r.err.find("pn_counter") != std::string::npos);
  }
  SUBCASE("keys, del, members, status") {
    r = c({"keys"});
    CHECK(r.out == "fruit\tor_set\nhits\tpn_counter\nlaunch\tew_flag\nowner\tlww_register\n");
    CHECK(c({"del", "owner"}).code == 0);
    r = c({"--json", "get", "owner"});
    CHECK(r.out == "{\"key\":\"owner\",\"type\":null,\"value\":null}\n");
    r = c({"--json", "members"});
    CHECK(r.out.find("\"status\":\"alive\"") != std::string::npos);
    r = c({"--json", "status"});
    CHECK(r.out.find("\"readiness\":\"ready\"") != std::string::npos);
    CHECK(r.out.find("\"cas_voters\":0") != std::string::npos);
    CHECK(r.out.find("\"write_behind\":{\"bytes\":") != std::string::npos);
    CHECK(r.out.find("\"error\":\"\"}") != std::string::npos);  // materialization works
    CHECK(c({"status"}).out.find("cas lane    disabled") != std::string::npos);
    // The node is the whole cluster: the deleted key's tombstone is collected within a few gossip
    // rounds, and status says so.
    CHECK(rumor::test::eventually_for(10s, [&] {
      auto s = c({"--json", "status"}).out;
      return s.find("\"tombstones\":0,") != std::string::npos &&
             s.find("\"tombstones_collected\":0,") == std::string::npos;
    }));
  }
  SUBCASE("watch streams the changes under its prefix, and only those") {
    std::thread writer([&] {
      for (int i = 0; i < 10; ++i) {
        std::this_thread::sleep_for(200ms);
        c({"set", "u:" + std::to_string(i), "v"});
        c({"set", "x", "not watched"});
      }
    });
    auto w = rumor_cmd({"--connect", addr, "--json", "watch", "u:"}, 2500ms);  // killed at the bound
    writer.join();
    CHECK(w.out.find("{\"key\":\"u:") != std::string::npos);
    CHECK(w.out.find("\"key\":\"x\"") == std::string::npos);
  }
  SUBCASE("watch of a big set prints what joined and left, not the whole set") {
    std::vector<std::string> add = {"sadd", "big"};
    char name[16];
    for (int i = 0; i < 1002; ++i) add.emplace_back(name, std::snprintf(name, sizeof name, "m%04d", i));
    REQUIRE(c(add).code == 0);
    std::thread writer([&] {
      for (int i = 0; i < 10; ++i) {
        std::this_thread::sleep_for(200ms);
        c({i % 2 ? "sadd" : "srem", "big", "m0000"});
      }
    });
    auto w = rumor_cmd({"--connect", addr, "--json", "watch", "big"}, 2500ms);  // killed at the bound
    writer.join();
    CHECK(w.out.find("{\"key\":\"big\",\"type\":\"or_set\",\"value\":null,") != std::string::npos);
    CHECK(w.out.find("\"value_omitted\":true,\"set\":{\"size\":1001,\"added\":[],\"removed\":[\"m0000\"],\"complete\":true}}") !=
          std::string::npos);
    CHECK(w.out.find("\"set\":{\"size\":1002,\"added\":[\"m0000\"],\"removed\":[],\"complete\":true}}") != std::string::npos);
    CHECK(w.out.find("m0500") == std::string::npos);  // no event carried the whole set
  }
  SUBCASE("map fields are written with --field, and a watch says which fields changed") {
    std::thread writer([&] {
      for (int i = 0; i < 10; ++i) {  // each field appears, then is written again
        std::this_thread::sleep_for(200ms);
        c({"incr", "doc", "--field", "f" + std::to_string(i)});
        c({"incr", "doc", "--field", "f" + std::to_string(i), "4"});
      }
    });
    auto w = rumor_cmd({"--connect", addr, "--json", "watch", "doc"}, 2500ms);  // killed at the bound
    writer.join();
    CHECK(w.out.find("{\"key\":\"doc\",\"type\":\"or_map\",") != std::string::npos);
    CHECK(w.out.find("\"set\":{\"size\":") != std::string::npos);
    CHECK(w.out.find("\"added\":[\"f") != std::string::npos);                                   // appeared
    CHECK(w.out.find("\"added\":[],\"removed\":[],\"changed\":[\"f") != std::string::npos);    // written again
    CHECK(c({"get", "doc", "--field", "f9"}).out == "5\n");
    REQUIRE(c({"del", "doc"}).code == 0);
    CHECK(c({"incr", "doc", "--field", "views"}).out == "added field views (1 field)\n");
    CHECK(c({"sadd", "doc", "--field", "tags", "a", "b"}).out == "added 2 (2 members)\n");  // the set in the field
    r = c({"set", "doc", "--field", "meta.owner", "ann"});
    CHECK(r.out == "added field meta.owner (1 field)\n");  // the fields of the map holding it: meta
    r = c({"incr", "doc", "--field", "views"});
    CHECK(r.out == "updated field views (3 fields)\n");
    r = c({"--json", "srem", "doc", "--field", "tags", "a"});  // the set in the field: its members
    CHECK(r.out == "{\"key\":\"doc\",\"changed\":1,\"size\":1}\n");
    CHECK(c({"flag", "doc", "--field", "live", "on"}).code == 0);
    CHECK(c({"get", "doc", "--field", "meta.owner"}).out == "ann\n");
    CHECK(c({"get", "doc"}).out == "{live: true, meta: {owner: ann}, tags: {\"b\"}, views: 2}\n");
    CHECK(c({"incr", "hits", "--field", "x"}).code == 6);  // a counter is not a map
    CHECK(c({"incr", "doc", "--field", "a..b"}).code == 2);
    // del --field removes one field; the name's type is read when it holds one.
    CHECK(c({"del", "doc", "--field", "meta.owner"}).out == "deleted field meta.owner (lww_register)\n");
    CHECK(c({"get", "doc", "--field", "meta.owner"}).out == "(none)\n");
    CHECK(c({"del", "doc", "--field", "nope"}).out == "nothing to delete: 'doc' has no field nope\n");
    // A name holding a counter and a flag: --type says which goes.
    REQUIRE(c({"flag", "doc", "--field", "views", "on"}).code == 0);
    r = c({"del", "doc", "--field", "views"});
    CHECK(r.code == 2);
    CHECK(r.err.find("several types (pn_counter, ew_flag)") != std::string::npos);
    CHECK(c({"--json", "del", "doc", "--field", "views", "--type", "counter"}).out ==
          "{\"key\":\"doc\",\"field\":\"views\",\"type\":\"pn_counter\",\"deleted\":true}\n");
    CHECK(c({"get", "doc", "--field", "views"}).out == "true\n");  // the flag of that name stays
    CHECK(c({"del", "doc", "--field", "views", "--type", "colour"}).code == 2);
    CHECK(c({"del", "doc", "--type", "flag"}).code == 2);  // --type without --field
    CHECK(c({"get", "doc"}).out == "{live: true, tags: {\"b\"}, views: true}\n");  // an emptied map shows as none
  }
  SUBCASE("usage errors exit 2 without contacting a node") {
    CHECK(rumor_cmd({"incr"}).code == 2);
    CHECK(rumor_cmd({"incr", "k", "-3"}).code == 2);
    CHECK(rumor_cmd({"flag", "k", "maybe"}).code == 2);
    CHECK(rumor_cmd({"frobnicate"}).code == 2);
    CHECK(rumor_cmd({"--consistency", "some", "get", "k"}).code == 2);
    auto wb = rumor_cmd({"node", "--data", "/nonexistent/rumor-test", "--write-behind-mb", "0"});
    CHECK(wb.code == 2);
    CHECK(wb.err.find("--write-behind-mb") != std::string::npos);
  }
  SUBCASE("an unreachable node exits 3 with the address in the message") {
    std::string dead = "127.0.0.1:" + std::to_string(rumor::test::free_port());
    r = rumor_cmd({"--connect", dead, "get", "k"});
    CHECK(r.code == 3);
    CHECK(r.err.find(dead) != std::string::npos);
  }
  SUBCASE("the node daemon refuses a busy port and a busy data directory") {
    r = rumor_cmd({"node", "--listen", addr, "--data", d.path + "/other"}, 20s);
    CHECK(r.code == 3);
    CHECK(r.err.find("cannot start") != std::string::npos);
    std::string addr2 = "127.0.0.1:" + std::to_string(rumor::test::free_port());
    r = rumor_cmd({"node", "--listen", addr2, "--data", d.path + "/n0"}, 20s);
    CHECK(r.code == 3);
    std::ofstream(d.path + "/file") << "not a directory";
    r = rumor_cmd({"node", "--listen", addr2, "--data", d.path + "/file"}, 20s);
    CHECK(r.code != 0);
    CHECK(r.err.find("cannot start") != std::string::npos);
    r = rumor_cmd({"node", "--data", d.path + "/x", "--durability", "sometimes"});
    CHECK(r.code == 2);
  }
  CHECK(n.stop() == 0);
}

TEST_CASE("cli: sets read in parts — sismember, scard, smembers pages, and a get bigger than a frame") {
  temp_dir d;
  std::string addr = "127.0.0.1:" + std::to_string(rumor::test::free_port());
  node_process n(RUMOR_BINARY, addr, d.path + "/n0", d.path + "/n0.log");
  // A 64 KiB frame limit: a set of 3,000 members of ~30 bytes does not fit one answer.
  REQUIRE(n.start({"--durability", "relaxed", "--max-frame-kb", "64"}));
  auto c = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--connect", addr});
    return rumor_cmd(args);
  };
  // Updates answer with what they did, not with the set.
  auto r = c({"sadd", "s", "b", "a", "c"});
  CHECK(r.out == "added 3 (3 members)\n");
  r = c({"sadd", "s", "c", "d"});
  CHECK(r.out == "added 1 (4 members)\n");
  r = c({"--json", "srem", "s", "a", "zz"});
  CHECK(r.out == "{\"key\":\"s\",\"changed\":1,\"size\":3}\n");
  r = c({"srem", "s", "d", "--value"});
  CHECK(r.out == "{\"b\", \"c\"}\n");
  CHECK(c({"sismember", "s", "b"}).out == "true\n");
  CHECK(c({"sismember", "s", "a"}).out == "false\n");
  CHECK(c({"--json", "sismember", "s", "c"}).out == "{\"key\":\"s\",\"member\":\"c\",\"contains\":true}\n");
  CHECK(c({"scard", "s"}).out == "2\n");
  CHECK(c({"scard", "nothing"}).out == "0\n");
  CHECK(c({"smembers", "s"}).out == "b\nc\n");
  CHECK(c({"smembers", "s", "--limit", "1"}).out == "b\n(more: --after \"b\")\n");
  CHECK(c({"smembers", "s", "--after", "b"}).out == "c\n");
  CHECK(c({"smembers", "s", "--limit", "0"}).code == 2);
  CHECK(c({"scard", "s", "--field", "a..b"}).code == 2);
  CHECK(c({"incr", "n"}).code == 0);
  CHECK(c({"scard", "n"}).code == 6);

  // 3,000 members: every read still works, page by page.
  std::vector<std::string> members;
  for (int i = 0; i < 3000; ++i) members.push_back("member-" + std::to_string(100000 + i) + "-padding-xxxxxx");
  for (size_t at = 0; at < members.size(); at += 500) {
    std::vector<std::string> args{"sadd", "big"};
    args.insert(args.end(), members.begin() + static_cast<long>(at), members.begin() + static_cast<long>(at) + 500);
    REQUIRE(c(args).code == 0);
  }
  std::string expect_text = "{", expect_json = "[", expect_lines;
  for (size_t i = 0; i < members.size(); ++i) {
    expect_text += (i ? ", \"" : "\"") + members[i] + "\"";
    expect_json += (i ? ",\"" : "\"") + members[i] + "\"";
    expect_lines += members[i] + "\n";
  }
  r = c({"get", "big"});
  CHECK(r.code == 0);
  CHECK(r.out == expect_text + "}\n");
  r = c({"--json", "get", "big"});
  CHECK(r.out == "{\"key\":\"big\",\"type\":\"or_set\",\"value\":" + expect_json + "]}\n");
  CHECK(c({"smembers", "big"}).out == expect_lines);
  CHECK(c({"scard", "big"}).out == "3000\n");
  // An update whose value would not fit still says it was applied (and that the value was left out).
  r = c({"sadd", "big", "zzz", "--value"});
  CHECK(r.code == 0);
  CHECK(r.out == "added 1 (3001 members)\n");
  CHECK(r.err.find("left out") != std::string::npos);
  CHECK(n.stop() == 0);
}

TEST_CASE("cli: a majority write with the other node down times out with exit code 4") {
  temp_dir d;
  std::string a0 = "127.0.0.1:" + std::to_string(rumor::test::free_port());
  std::string a1 = "127.0.0.1:" + std::to_string(rumor::test::free_port());
  node_process n0(RUMOR_BINARY, a0, d.path + "/n0", d.path + "/n0.log");
  node_process n1(RUMOR_BINARY, a1, d.path + "/n1", d.path + "/n1.log");
  REQUIRE(n0.start({"--gossip-interval-ms", "50"}));
  REQUIRE(n1.start({"--gossip-interval-ms", "50", "--join", a0}));
  // Both see each other, then a majority write succeeds.
  bool joined = false;
  for (int i = 0; i < 100 && !joined; ++i) {
    auto r = rumor_cmd({"--connect", a0, "--json", "members"});
    joined = r.code == 0 && r.out.find(a1) != std::string::npos;
    if (!joined) std::this_thread::sleep_for(100ms);
  }
  REQUIRE(joined);
  auto ok = rumor_cmd({"--connect", a0, "--consistency", "majority", "incr", "k"});
  CHECK(ok.code == 0);
  n1.kill_hard();
  auto r = rumor_cmd({"--connect", a0, "--consistency", "majority", "--timeout-ms", "500", "incr", "k"});
  CHECK(r.code == 4);
  CHECK(r.err.find("timeout") != std::string::npos);
  // Durable locally all the same.
  r = rumor_cmd({"--connect", a0, "get", "k"});
  CHECK(r.out == "2\n");
  CHECK(n0.stop() == 0);
}

TEST_CASE("cli: rumor node reads its options from a --config file") {
  temp_dir d;
  std::string addr = "127.0.0.1:" + std::to_string(rumor::test::free_port());
  std::ofstream(d.path + "/node.toml") << "[node]\ncluster = \"from-file\"\nfanout = 2\nlog-level = \"warn\"\n";
  node_process n(RUMOR_BINARY, addr, d.path + "/n0", d.path + "/n0.log");
  REQUIRE(n.start({"--config", d.path + "/node.toml"}));
  auto r = rumor_cmd({"--connect", addr, "--json", "status"});
  CHECK(r.out.find("\"cluster\":\"from-file\"") != std::string::npos);
  CHECK(n.stop() == 0);
}

namespace {
// `count` consecutive free ports on 127.0.0.1 (bounded search).
uint16_t free_port_range(size_t count) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    uint16_t base = rumor::test::free_port();
    if (base > 65000) continue;
    bool ok = true;
    for (size_t i = 1; i < count && ok; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<uint16_t>(base + i));
      ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      ::close(fd);
    }
    if (ok) return base;
  }
  FAIL("no free port range");
  return 0;
}
}  // namespace

TEST_CASE("cli: rumor cluster starts N joined nodes and stops them all on SIGTERM") {
  temp_dir d;
  uint16_t base = free_port_range(3);
  pid_t pid = ::fork();
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    std::string bin = RUMOR_BINARY, dir = d.path + "/c", port = std::to_string(base);
    std::vector<char*> argv = {bin.data(), const_cast<char*>("cluster"), const_cast<char*>("--nodes"),
                               const_cast<char*>("3"), const_cast<char*>("--dir"), dir.data(),
                               const_cast<char*>("--base-port"), port.data(), nullptr};
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  std::vector<std::string> addrs;
  for (int i = 0; i < 3; ++i) addrs.push_back("127.0.0.1:" + std::to_string(base + i));
  bool all_up = false;
  for (int i = 0; i < 200 && !all_up; ++i) {
    auto r = rumor_cmd({"--connect", addrs[2], "--json", "members"});
    all_up = r.code == 0 && r.out.find(addrs[0]) != std::string::npos && r.out.find(addrs[1]) != std::string::npos;
    if (!all_up) std::this_thread::sleep_for(100ms);
  }
  CHECK(all_up);
  CHECK(rumor_cmd({"--connect", addrs[1], "incr", "k"}).code == 0);
  ::kill(pid, SIGTERM);
  int st = 0;
  bool exited = false;
  for (int i = 0; i < 400 && !exited; ++i) {
    exited = ::waitpid(pid, &st, WNOHANG) == pid;
    if (!exited) std::this_thread::sleep_for(50ms);
  }
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &st, 0);
  }
  CHECK(exited);
  CHECK((WIFEXITED(st) && WEXITSTATUS(st) == 0));
  for (const auto& a : addrs) CHECK(rumor_cmd({"--connect", a, "status"}).code == 3);  // all stopped
}

TEST_CASE("cli: cas, cas --absent, cas --delete and lget — output, conflicts exit 5 with the current value") {
  temp_dir d;
  std::string addr = "127.0.0.1:" + std::to_string(rumor::test::free_port());
  node_process n(RUMOR_BINARY, addr, d.path + "/n0", d.path + "/n0.log");
  // A one-voter lane: this node alone is the quorum.
  REQUIRE(n.start({"--durability", "relaxed", "--cas-voters", addr}));
  auto c = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--connect", addr});
    return rumor_cmd(args);
  };
  CHECK(c({"--json", "status"}).out.find("\"cas_voters\":1,") != std::string::npos);
  CHECK(c({"status"}).out.find("cas lane    1 voters, quorum 1\n") != std::string::npos);
  auto r = c({"cas", "lock", "--absent", "alice"});
  CHECK(r.code == 0);
  CHECK(r.out == "alice\n");
  r = c({"--json", "cas", "lock", "--absent", "bob"});
  CHECK(r.code == 5);
  CHECK(r.out == "{\"key\":\"lock\",\"type\":\"cas\",\"value\":\"alice\",\"applied\":false}\n");
  CHECK(r.err.find("conflict") != std::string::npos);
  r = c({"cas", "lock", "bob", "carol"});
  CHECK(r.code == 5);
  CHECK(r.out == "alice\n");
  r = c({"--json", "cas", "lock", "alice", "carol"});
  CHECK(r.code == 0);
  CHECK(r.out == "{\"key\":\"lock\",\"type\":\"cas\",\"value\":\"carol\",\"applied\":true}\n");
  r = c({"--json", "lget", "lock"});
  CHECK(r.out == "{\"key\":\"lock\",\"type\":\"cas\",\"value\":\"carol\"}\n");
  // The lane's keys are not CRDT keys.
  r = c({"--json", "get", "lock"});
  CHECK(r.out == "{\"key\":\"lock\",\"type\":null,\"value\":null}\n");
  r = c({"cas", "lock", "carol", "--delete"});
  CHECK(r.code == 0);
  CHECK(r.out == "(none)\n");
  r = c({"lget", "lock"});
  CHECK(r.code == 0);
  CHECK(r.out == "(none)\n");
  // A value with terminal control bytes is printed escaped (as a register's is); JSON keeps it exact.
  r = c({"cas", "esc", "--absent", "a\x1b[2J\nb"});
  CHECK(r.code == 0);
  CHECK(r.out == "a\\x1b[2J\\nb\n");
  r = c({"cas", "esc", "--absent", "c"});
  CHECK(r.code == 5);
  CHECK(r.err.find("holds \"a\\x1b[2J\\nb\"") != std::string::npos);
  r = c({"--json", "lget", "esc"});
  CHECK(r.out == "{\"key\":\"esc\",\"type\":\"cas\",\"value\":\"a\\u001b[2J\\nb\"}\n");
  // Usage errors never reach the node.
  CHECK(c({"cas", "lock", "x"}).code == 2);
  CHECK(c({"cas", "lock", "--absent", "--delete", "x"}).code == 2);
  CHECK(c({"lget"}).code == 2);
  n.stop();
}

TEST_CASE("cli: cas on a node without a cas lane explains how to enable it") {
  temp_dir d;
  std::string addr = "127.0.0.1:" + std::to_string(rumor::test::free_port());
  node_process n(RUMOR_BINARY, addr, d.path + "/n0", d.path + "/n0.log");
  REQUIRE(n.start({"--durability", "relaxed"}));
  auto r = rumor_cmd({"--connect", addr, "cas", "k", "--absent", "v"});
  CHECK(r.code == 3);
  CHECK(r.err.find("--cas-voters") != std::string::npos);
  n.stop();
}
