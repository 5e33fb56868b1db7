#pragma once
// Child `rumor node` processes for multi-process tests: started by fork/exec, stopped only by
// their PID (SIGTERM, SIGKILL), frozen with SIGSTOP/SIGCONT. Every wait is bounded; the
// destructor kills whatever is still running, so a failing test leaves nothing behind.

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <optional>

#include "client/connection.hpp"
#include "client/host_port.hpp"
#include "client/render.hpp"
#include "crdt/codec.hpp"
#include "netns_enter.hpp"

namespace rumor::test {

struct run_result {
  int code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `rumor ARGS...` with a bounded wait (timeout → killed, code -1).
// `env`: "NAME=value" set in the child (after RUMOR_* of the test's environment are cleared).
inline run_result rumor_cmd(std::vector<std::string> args,
                            std::chrono::milliseconds timeout = std::chrono::seconds(20),
                            std::vector<std::string> env = {}) {
  int out_pipe[2], err_pipe[2];
  REQUIRE(::pipe(out_pipe) == 0);
  REQUIRE(::pipe(err_pipe) == 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    for (const char* v : {"RUMOR_CONNECT", "RUMOR_TLS_CA", "RUMOR_TLS_CERT", "RUMOR_TLS_KEY", "RUMOR_TOKEN"}) ::unsetenv(v);
    for (auto& e : env) ::putenv(e.data());
    std::vector<char*> argv;
    std::string bin = RUMOR_BINARY;
    argv.push_back(bin.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  run_result r;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto drain = [](int fd, std::string& into) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) into.append(buf, static_cast<size_t>(n));
  };
  ::fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
  ::fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);
  while (true) {
    drain(out_pipe[0], r.out);
    drain(err_pipe[0], r.err);
    int st = 0;
    if (::waitpid(pid, &st, WNOHANG) == pid) {
      drain(out_pipe[0], r.out);
      drain(err_pipe[0], r.err);
      r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  return r;
}

// The whole text of the file at `path` (empty if it cannot be read): node logs.
inline std::string read_text(const std::string& path, std::streamoff from = 0) {
  std::ifstream in(path);
  in.seekg(from);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A currently free TCP port on 127.0.0.1 (a tiny race with other programs).
inline uint16_t free_port() { return client::free_loopback_port(); }

// Polls `pred` every 50 ms until it holds or `timeout` passes. Returns whether it held.
template <class Pred>
bool eventually_for(std::chrono::milliseconds timeout, Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

class node_process {
 public:
  // `netns`: a network namespace (netns_enter.hpp) the node runs in and is reached through; empty:
  // the test's own.
  node_process(std::string binary, std::string address, std::string dir, std::string log, std::string netns = {})
      : binary_(std::move(binary)),
        address_(std::move(address)),
        dir_(std::move(dir)),
        log_(std::move(log)),
        netns_(std::move(netns)) {}
  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;
  ~node_process() { kill_hard(); }

  const std::string& address() const { return address_; }
  const std::string& netns() const { return netns_; }
  pid_t pid() const { return pid_; }

  // A client connection to this node, made inside its network namespace.
  rumor::result<client::connection> connect(uint64_t timeout_ms) const {
    return in_netns(netns_, [&] { return client::connection::connect(address_, timeout_ms, creds_); },
                    rumor::result<client::connection>{
                        rumor::error{rumor::errc::unavailable, "cannot enter network namespace " + netns_}});
  }
  bool running() const { return pid_ > 0; }
  // After a failed start(): whether the node said a port it was given is in use. Tests pick free
  // ports by binding port 0 and closing it, so another process (any outgoing connection takes an
  // ephemeral port) can take one before the node binds it; such a start is worth a retry on
  // other ports.
  bool port_was_taken() const {
    return read_text(log_, static_cast<std::streamoff>(log_from_)).find("cannot listen on") != std::string::npos;
  }
  // Environment variables ("NAME=value") the next start() adds to the test's own (e.g. to run the
  // node under libfaketime); an empty list: the test's environment as it is.
  void set_env(std::vector<std::string> env) { env_ = std::move(env); }
  // What connect() (and so start()'s readiness probe) authenticates with (a TLS node needs them).
  void set_credentials(client::credentials c) { creds_ = std::move(c); }

  // Starts `rumor node` with `extra` arguments; returns once it answers a status request
  // (bounded by `timeout`), false if it did not, at once if the process exited (see
  // port_was_taken()).
  bool start(const std::vector<std::string>& extra, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::vector<std::string> args = {binary_, "node", "--listen", address_, "--data", dir_, "--log-level", "info"};
    args.insert(args.end(), extra.begin(), extra.end());
    const std::string ns_path = "/var/run/netns/" + netns_;
    std::vector<std::string> env_strings = env_;
    for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);  // env_ first: it wins
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::error_code ec;
    const auto log_size = std::filesystem::file_size(log_, ec);
    log_from_ = ec ? 0 : log_size;
    pid_ = ::fork();
    if (pid_ == 0) {
      FILE* f = std::freopen(log_.c_str(), "a", stderr);
      (void)f;
      if (!netns_.empty()) {  // raw system calls only between fork and exec
        int ns = ::open(ns_path.c_str(), O_RDONLY);
        if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) ::_exit(126);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execve(binary_.c_str(), argv.data(), envp.data());
      ::_exit(127);
    }
    // The listener (and so the hello) is up before the replica is loaded; until then requests are
    // refused with `unavailable`, so a connection alone is not enough.
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (int st = 0; ::waitpid(pid_, &st, WNOHANG) == pid_) {  // it gave up (e.g. a port in use)
        pid_ = 0;
        return false;
      }
      if (auto c = connect(500)) {
        client::request req;
        req.body = client::status{};
        if (auto r = c->call(req, 2000); r && r->code == errc::ok) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  void freeze() { if (pid_ > 0) ::kill(pid_, SIGSTOP); }
  void thaw() { if (pid_ > 0) ::kill(pid_, SIGCONT); }

  // kill -9 and reap.
  void kill_hard() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = 0;
  }

  // SIGTERM; returns the exit status (or -1 if it had to be killed after `timeout`).
  int stop(std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = 0;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill_hard();
    return -1;
  }

 private:
  std::string binary_, address_, dir_, log_, netns_;
  std::vector<std::string> env_;
  client::credentials creds_;
  pid_t pid_ = 0;
  uintmax_t log_from_ = 0;  // the log's size when the last start() began
};

// A temporary directory, removed with everything in it at the end of the test.
struct temp_dir {
  std::string path;
  temp_dir() {
    std::string t = (std::filesystem::temp_directory_path() / "rumor-proc-XXXXXX").string();
    path = ::mkdtemp(t.data()) ? t : "";
    REQUIRE(!path.empty());
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// N `rumor node` processes on free loopback ports joined to each other, with client connections.
struct cluster_processes {
  temp_dir dir;
  std::vector<std::unique_ptr<node_process>> nodes;
  std::vector<std::optional<rumor::client::connection>> conns;
  std::vector<bool> frozen;
  std::vector<std::string> extra;  // flags every node gets besides the defaults

  explicit cluster_processes(size_t n) {
    for (size_t i = 0; i < n; ++i) {
      std::string addr = "127.0.0.1:" + std::to_string(free_port());
      nodes.push_back(std::make_unique<node_process>(RUMOR_BINARY, addr, dir.path + "/n" + std::to_string(i),
                                                     dir.path + "/n" + std::to_string(i) + ".log"));
    }
    conns.resize(n);
    frozen.assign(n, false);
  }

  std::vector<std::string> flags(size_t i) const {
    std::vector<std::string> f = {"--cluster", "proc-test", "--gossip-interval-ms", "50", "--durability", "durable"};
    // Join through every other node: any of them may be the one that is up.
    for (size_t j = 0; j < nodes.size(); ++j)
      if (j != i) {
        f.push_back("--join");
        f.push_back(nodes[j]->address());
      }
    f.insert(f.end(), extra.begin(), extra.end());
    return f;
  }

  void start(size_t i) {
    bool ok = nodes[i]->start(flags(i));
    if (!ok) dump_log(i);
    REQUIRE_MESSAGE(ok, "node " << i << " did not start");
    conns[i].reset();
    frozen[i] = false;
  }

  void dump_log(size_t i) const {
    std::ifstream f(dir.path + "/n" + std::to_string(i) + ".log");
    std::string line;
    int n = 0;
    while (std::getline(f, line) && n++ < 200) MESSAGE("n" << i << ": " << line);
  }

  // A connection to node i (reconnecting if needed); nullptr if it cannot be had quickly.
  rumor::client::connection* conn(size_t i) {
    if (conns[i] && conns[i]->is_open()) return &*conns[i];
    conns[i].reset();
    auto c = nodes[i]->connect(500);
    if (!c) return nullptr;
    conns[i] = std::move(*c);
    return &*conns[i];
  }

  // The encoded value of `key` on node i, or nullopt when the node does not answer.
  std::optional<std::string> read(size_t i, const std::string& key) {
    auto* c = conn(i);
    if (!c) return std::nullopt;
    rumor::client::request req;
    req.body = rumor::client::get{key};
    auto r = c->call(req, 2000);
    if (!r || r->code != rumor::errc::ok) return std::nullopt;
    for (const auto& kv : r->values) {
      auto v = rumor::crdt::decode(kv.value);
      if (v && !v->holds_nothing()) return rumor::client::render_json(*v);
    }
    return std::string("null");
  }
};

}  // namespace rumor::test
