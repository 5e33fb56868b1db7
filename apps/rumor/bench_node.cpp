#include "bench_node.hpp"

#include "client/host_port.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "client/connection.hpp"

namespace rumor::cli::bench {

node_proc::node_proc(const context& ctx, const std::string& name) : ctx_(ctx), name_(name) {
  port_ = client::free_loopback_port();
  address_ = "127.0.0.1:" + std::to_string(port_);
  data_ = ctx.dir(name);
  log_ = ctx.tmp + "/" + ctx.scenario() + "-" + name + ".log";
}

node_proc::~node_proc() { kill_hard(); }

void node_proc::start(const std::vector<std::string>& seeds, const std::vector<std::string>& extra) {
  if (pid_ > 0) return;
  std::vector<std::string> args = {ctx_.binary, "node", "--listen", address_, "--data", data_, "--cluster", "bench",
                                   "--durability", durability.empty() ? ctx_.opt.durability : durability,
                                   "--gossip-interval-ms", std::to_string(ctx_.opt.gossip_interval_ms),
                                   "--fanout", std::to_string(ctx_.opt.fanout), "--log-level", "info"};
  for (const auto& s : seeds) {
    args.push_back("--join");
    args.push_back(s);
  }
  args.insert(args.end(), extra.begin(), extra.end());
  for (auto& f : ctx_.node_tls_flags("node-" + name_)) args.push_back(f);
  const auto credentials = ctx_.client_credentials();
  pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) {
    pid_ = 0;
    throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
  }
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 2);
      ::dup2(fd, 1);
      ::close(fd);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(ctx_.binary.c_str(), argv.data());
    ::_exit(127);
  }
  while (true) {
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = 0;
      throw std::runtime_error("node " + name_ + " (" + address_ + ") exited at start; its log ends with:\n" + log_tail());
    }
    if (auto c = client::connection::connect(address_, 500, credentials)) return;
    ctx_.check("starting node " + name_);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void node_proc::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = 0;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::fprintf(stderr, "[bench] node %s (pid %d) did not exit within 20 s of SIGTERM; SIGKILL. Its log ends with:\n%s",
               name_.c_str(), static_cast<int>(pid_), log_tail().c_str());
  kill_hard();
}

void node_proc::signal_stop() {
  if (pid_ > 0) ::kill(pid_, SIGTERM);
}

void stop_all(const std::vector<node_proc*>& nodes) {
  for (auto* n : nodes) n->signal_stop();
  for (auto* n : nodes) n->stop();
}

void node_proc::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int st = 0;
  ::waitpid(pid_, &st, 0);
  pid_ = 0;
}

rss_info node_proc::rss() const {
  rss_info r;
  std::ifstream f("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    auto val = [&] { return std::strtoull(line.c_str() + line.find(':') + 1, nullptr, 10); };
    if (line.rfind("VmRSS:", 0) == 0) r.rss_kb = val();
    else if (line.rfind("RssAnon:", 0) == 0) r.anon_kb = val();
    else if (line.rfind("RssFile:", 0) == 0) r.file_kb = val();
  }
  return r;
}

std::string node_proc::log_tail() const {
  std::ifstream f(log_);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(f, line)) {
    lines.push_back(line);
    if (lines.size() > 15) lines.erase(lines.begin());
  }
  std::string out;
  for (auto& l : lines) out += "    " + l + "\n";
  return out.empty() ? "    (empty log " + log_ + ")\n" : out;
}

}  // namespace rumor::cli::bench
