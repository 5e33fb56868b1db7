#pragma once
// net_lab: a private network of N network namespaces for real-process fault tests, and the faults
// it can inject (nftables drop rules inside the namespaces). Needs root; ok() says whether it
// could be built (and why() why not), so tests skip with a message elsewhere.
//
// Topology: namespace rl<pid>-b holds a bridge; node namespace rl<pid>-n<i> holds eth0, one end
// of a veth pair whose other end is a port of that bridge, with address 198.18.0.<i+1>/24
// (198.18.0.0/15 is reserved for network benchmark tests, RFC 2544: nothing real lives there).
// Nothing is added to the test's own namespace: a test reaches node i only from inside rl<pid>-n<i>
// (netns_enter.hpp), over that namespace's own interfaces, which the faults never touch; so a
// client always reaches its own node, as a Jepsen client does.
//
// Faults are directed links: block(a, b) drops every packet from a to b (in a's output and b's
// input chains, table inet rumor_fault), TCP connections included. Every change rewrites the
// rules of the namespaces it touches atomically (nft -f: the table is replaced in one
// transaction). Built on block/unblock: partition (symmetric split into sides), deafen (a node
// hears nobody but can send), bridge-style splits (partition with a node on both sides' lists:
// see partition_except), and heal.
//
// Cleanup: the destructor deletes every namespace it made (nodes must be stopped first: a process
// keeps its namespace alive). Namespaces left by a test process that died (rl<pid>-* whose pid is
// gone) are deleted by the next net_lab. Every command is bounded (`timeout 10`).

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace rumor::test {

class net_lab {
 public:
  explicit net_lab(size_t n) : n_(n), prefix_("rl" + std::to_string(::getpid()) + "-") {
    if (::geteuid() != 0) {
      why_ = "needs root (network namespaces, nftables)";
      return;
    }
    if (!has_program("ip") || !has_program("nft")) {
      why_ = "needs `ip` (iproute2) and `nft` (nftables): scripts/setup installs them";
      return;
    }
    remove_stale();
    ok_ = run("ip netns add " + bridge_ns()) && run("ip -n " + bridge_ns() + " link set lo up") &&
          run("ip -n " + bridge_ns() + " link add br0 type bridge") &&
          run("ip -n " + bridge_ns() + " link set br0 up");
    made_.push_back(bridge_ns());
    for (size_t i = 0; ok_ && i < n_; ++i) {
      std::string ns = this->ns(i);
      ok_ = run("ip netns add " + ns);
      if (ok_) made_.push_back(ns);
      ok_ = ok_ && run("ip -n " + ns + " link set lo up") &&
            run("ip -n " + bridge_ns() + " link add vb" + std::to_string(i) + " type veth peer name eth0 netns " + ns) &&
            run("ip -n " + bridge_ns() + " link set vb" + std::to_string(i) + " master br0 up") &&
            run("ip -n " + ns + " addr add " + ip(i) + "/24 dev eth0") && run("ip -n " + ns + " link set eth0 up") &&
            write_rules(i);
    }
    if (!ok_ && why_.empty()) why_ = "could not build the namespaces";
  }
  net_lab(const net_lab&) = delete;
  net_lab& operator=(const net_lab&) = delete;
  ~net_lab() {
    for (const auto& ns : made_) run("ip netns del " + ns);
  }

  bool ok() const { return ok_; }
  const std::string& why() const { return why_; }
  size_t size() const { return n_; }
  std::string ns(size_t i) const { return prefix_ + "n" + std::to_string(i); }
  static std::string ip(size_t i) { return "198.18.0." + std::to_string(i + 1); }
  static std::string address(size_t i, uint16_t port = 7000) { return ip(i) + ":" + std::to_string(port); }

  // ---- faults; each returns false if a rule could not be written (the message is in why()) ----

  // Packets from `from` to `to` are dropped (or pass again).
  bool block(size_t from, size_t to) { return set_links({{from, to}}, true); }
  bool unblock(size_t from, size_t to) { return set_links({{from, to}}, false); }
  // Symmetric split: every link between two different sides is blocked both ways; links within a
  // side pass. Nodes on no side keep every link (a bridge node: partition({{0,1},{3,4}}) leaves
  // node 2 talking to both sides).
  bool partition(const std::vector<std::vector<size_t>>& sides) {
    std::vector<std::pair<size_t, size_t>> links;
    for (size_t a = 0; a < sides.size(); ++a)
      for (size_t b = 0; b < sides.size(); ++b)
        if (a != b)
          for (size_t x : sides[a])
            for (size_t y : sides[b]) links.emplace_back(x, y);
    return set_links(links, true);
  }
  // `i` hears nobody (every link into it is blocked) but its packets still leave.
  bool deafen(size_t i) {
    std::vector<std::pair<size_t, size_t>> links;
    for (size_t j = 0; j < n_; ++j)
      if (j != i) links.emplace_back(j, i);
    return set_links(links, true);
  }
  // Every link passes again.
  bool heal() {
    std::set<size_t> touched;
    for (auto [a, b] : blocked_) touched.insert(a), touched.insert(b);
    blocked_.clear();
    bool all = true;
    for (size_t i : touched) all = write_rules(i) && all;
    return all;
  }
  bool is_blocked(size_t from, size_t to) const { return blocked_.count({from, to}) != 0; }
  const std::set<std::pair<size_t, size_t>>& blocked() const { return blocked_; }

 private:
  std::string bridge_ns() const { return prefix_ + "b"; }

  static bool has_program(const std::string& name) {
    for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"})
      if (::access((std::string(dir) + name).c_str(), X_OK) == 0) return true;
    return false;
  }

  bool run(const std::string& cmd) {
    std::string full = "timeout 10 " + cmd + " 2>&1";
    FILE* p = ::popen(full.c_str(), "r");
    if (!p) {
      why_ = "cannot run: " + cmd;
      return false;
    }
    std::string out;
    char buf[256];
    while (size_t got = std::fread(buf, 1, sizeof buf, p)) out.append(buf, got);
    int rc = ::pclose(p);
    if (rc != 0) {
      why_ = "`" + cmd + "` failed: " + out;
      return false;
    }
    return true;
  }

  // Deletes rl<pid>-* namespaces whose test process is gone.
  void remove_stale() {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/var/run/netns", ec)) {
      std::string name = e.path().filename().string();
      if (name.size() < 4 || name.compare(0, 2, "rl") != 0) continue;
      auto dash = name.find('-');
      if (dash == std::string::npos) continue;
      std::string pid = name.substr(2, dash - 2);
      if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
      if (std::filesystem::exists("/proc/" + pid, ec)) continue;
      run("ip netns del " + name);
    }
  }

  bool set_links(const std::vector<std::pair<size_t, size_t>>& links, bool blocked) {
    std::set<size_t> touched;
    for (auto l : links) {
      if (l.first == l.second || l.first >= n_ || l.second >= n_) continue;
      if (blocked) blocked_.insert(l);
      else blocked_.erase(l);
      touched.insert(l.first);
      touched.insert(l.second);
    }
    bool all = true;
    for (size_t i : touched) all = write_rules(i) && all;
    return all;
  }

  // Replaces node i's table with the rules of the links it takes part in (one nft transaction).
  bool write_rules(size_t i) {
    std::string in_rules, out_rules;
    for (auto [a, b] : blocked_) {
      if (b == i) in_rules += "    ip saddr " + ip(a) + " drop\n";
      if (a == i) out_rules += "    ip daddr " + ip(b) + " drop\n";
    }
    std::string script = "table inet rumor_fault\ndelete table inet rumor_fault\ntable inet rumor_fault {\n"
                         "  chain in {\n    type filter hook input priority 0; policy accept;\n" +
                         in_rules +
                         "  }\n  chain out {\n    type filter hook output priority 0; policy accept;\n" + out_rules +
                         "  }\n}\n";
    std::string file = (std::filesystem::temp_directory_path() / (ns(i) + ".nft")).string();
    if (FILE* f = std::fopen(file.c_str(), "w")) {
      std::fwrite(script.data(), 1, script.size(), f);
      std::fclose(f);
    } else {
      why_ = "cannot write " + file;
      return false;
    }
    bool ok = run("ip netns exec " + ns(i) + " nft -f " + file);
    std::error_code ec;
    std::filesystem::remove(file, ec);
    return ok;
  }

  size_t n_;
  std::string prefix_;
  bool ok_ = false;
  std::string why_;
  std::vector<std::string> made_;
  std::set<std::pair<size_t, size_t>> blocked_;
};

}  // namespace rumor::test
