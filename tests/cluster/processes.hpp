#pragma once
// Child `rumor node` processes for multi-process tests: started by fork/exec, stopped only by
// their PID (SIGTERM, SIGKILL), frozen with SIGSTOP/SIGCONT. Every wait is bounded; the
// destructor kills whatever is still running, so a failing test leaves nothing behind.

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "client/connection.hpp"

namespace rumor::test {

// A currently free TCP port on 127.0.0.1 (the OS picks it; a tiny race with other programs).
inline uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

class node_process {
 public:
  node_process(std::string binary, std::string address, std::string dir, std::string log)
      : binary_(std::move(binary)), address_(std::move(address)), dir_(std::move(dir)), log_(std::move(log)) {}
  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;
  ~node_process() { kill_hard(); }

  const std::string& address() const { return address_; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // Starts `rumor node` with `extra` arguments; returns once it answers a status request
  // (bounded by `timeout`), false if it did not.
  bool start(const std::vector<std::string>& extra, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::vector<std::string> args = {binary_, "node", "--listen", address_, "--data", dir_, "--log-level", "info"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      FILE* f = std::freopen(log_.c_str(), "a", stderr);
      (void)f;
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(binary_.c_str(), argv.data());
      ::_exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (auto c = client::connection::connect(address_, 500)) return true;
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
  std::string binary_, address_, dir_, log_;
  pid_t pid_ = 0;
};

}  // namespace rumor::test
