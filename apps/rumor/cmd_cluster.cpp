#include "cmd_cluster.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <thread>
#include <vector>

#include "exit_codes.hpp"
#include "security/certs.hpp"

namespace rumor::cli {

namespace {

pid_t spawn(const std::string& self, const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(self.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    // The child gets the default signal mask back: SIGTERM stops it.
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, nullptr);
    execv(self.c_str(), argv.data());
    std::cerr << "rumor cluster: cannot run " << self << ": " << std::strerror(errno) << "\n";
    _exit(127);
  }
  return pid;
}

// Stops every child still running: SIGTERM, up to 10 s, then SIGKILL.
void stop_all(std::vector<pid_t>& pids) {
  for (pid_t p : pids)
    if (p > 0) kill(p, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (pid_t& p : pids) {
    while (p > 0) {
      int st = 0;
      pid_t r = waitpid(p, &st, WNOHANG);
      if (r == p || r < 0) {
        p = 0;
        break;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        kill(p, SIGKILL);
        waitpid(p, &st, 0);
        p = 0;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

// A throwaway CA in `dir` (created fresh each time: old files are replaced), node0..N-1 node
// certificates for 127.0.0.1 and a client certificate "client".
rumor::status make_cluster_certs(const std::string& dir, size_t nodes) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  auto ca = security::make_ca("rumor-cluster-ca", 30);
  if (!ca) return ca.err();
  if (auto st = security::write_pem_files(dir, "ca", *ca); !st) return st;
  for (size_t i = 0; i <= nodes; ++i) {
    security::cert_request req;
    req.name = i < nodes ? "node" + std::to_string(i) : "client";
    req.role = i < nodes ? security::cert_role::node : security::cert_role::client;
    if (i < nodes) req.hosts = {"127.0.0.1"};
    req.days = 30;
    auto made = security::make_certificate(*ca, req);
    if (!made) return made.err();
    if (auto st = security::write_pem_files(dir, req.name, *made); !st) return st;
  }
  return {};
}

}  // namespace

int run_cluster(const cluster_options& o, const std::string& self) {
  if (o.nodes == 0 || o.nodes > 64) {
    std::cerr << "rumor cluster: --nodes must be between 1 and 64\n";
    return exit_usage;
  }
  if (static_cast<size_t>(o.base_port) + o.nodes > 65536 || o.base_port == 0) {
    std::cerr << "rumor cluster: --base-port " << o.base_port << " leaves no room for " << o.nodes << " ports\n";
    return exit_usage;
  }
  if (mkdir(o.dir.c_str(), 0755) != 0 && errno != EEXIST) {
    std::cerr << "rumor cluster: cannot create " << o.dir << ": " << std::strerror(errno) << "\n";
    return exit_error;
  }
  // SIGCHLD is waited for with the stop signals: a node that dies ends the cluster.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);  // a closed terminal stops the cluster, as it would without the mask
  sigaddset(&set, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  std::string certs = o.dir + "/certs";
  if (o.tls) {
    if (auto st = make_cluster_certs(certs, o.nodes); !st) {
      std::cerr << "rumor cluster: " << st.err().message << "\n";
      return exit_error;
    }
  }
  std::string first = "127.0.0.1:" + std::to_string(o.base_port);
  std::vector<pid_t> pids;
  for (size_t i = 0; i < o.nodes; ++i) {
    std::string addr = "127.0.0.1:" + std::to_string(o.base_port + i);
    std::vector<std::string> args = {"node", "--listen", addr, "--data", o.dir + "/node" + std::to_string(i),
                                     "--cluster", o.cluster, "--durability", o.durability,
                                     "--log-level", o.log_level};
    if (i > 0) {
      args.push_back("--join");
      args.push_back(first);
    }
    // Every node votes in the compare-and-set lane (the same list everywhere).
    std::string voters;
    for (size_t j = 0; j < o.nodes; ++j)
      voters += (j ? "," : "") + std::string("127.0.0.1:") + std::to_string(o.base_port + j);
    args.push_back("--cas-voters");
    args.push_back(voters);
    if (o.tls) {
      std::string n = certs + "/node" + std::to_string(i);
      for (const std::string& a : std::vector<std::string>{"--tls-ca", certs + "/ca.crt", "--tls-cert", n + ".crt",
                                                           "--tls-key", n + ".key"})
        args.push_back(a);
    }
    pid_t pid = spawn(self, args);
    if (pid < 0) {
      std::cerr << "rumor cluster: fork failed: " << std::strerror(errno) << "\n";
      stop_all(pids);
      return exit_error;
    }
    pids.push_back(pid);
    std::cout << "node " << i << "  " << addr << "  pid " << pid << "  data " << o.dir << "/node" << i << std::endl;
  }
  std::string tls_flags = o.tls ? " --tls-ca " + certs + "/ca.crt --tls-cert " + certs + "/client.crt --tls-key " +
                                      certs + "/client.key"
                                : "";
  std::cout << "cluster of " << o.nodes << (o.tls ? " (TLS)" : "") << " running; try: rumor --connect " << first
            << tls_flags << " incr hits; Ctrl-C stops it" << std::endl;

  int code = exit_ok;
  while (true) {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig != SIGCHLD) break;
    bool died = false;
    for (size_t i = 0; i < pids.size(); ++i) {
      int st = 0;
      if (pids[i] > 0 && waitpid(pids[i], &st, WNOHANG) == pids[i]) {
        std::cerr << "rumor cluster: node " << i << " (pid " << pids[i] << ") exited"
                  << (WIFEXITED(st) ? " with code " + std::to_string(WEXITSTATUS(st))
                                    : " on signal " + std::to_string(WTERMSIG(st)))
                  << "; stopping the others\n";
        pids[i] = 0;
        died = true;
      }
    }
    if (died) {
      code = exit_error;
      break;
    }
  }
  stop_all(pids);
  std::cout << "cluster stopped" << std::endl;
  return code;
}

}  // namespace rumor::cli
