#include "bench_context.hpp"

#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <filesystem>

namespace rumor::cli::bench {

namespace {
std::atomic<bool> g_interrupted{false};
extern "C" void on_stop_signal(int) { g_interrupted.store(true); }
}  // namespace

bool interrupted() noexcept { return g_interrupted.load(); }

void install_interrupt_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void context::begin(const std::string& name) {
  scenario_ = name;
  start_ = std::chrono::steady_clock::now();
  deadline_ = start_ + std::chrono::seconds(opt.scenario_timeout_s);
}

void context::check(const std::string& what) const {
  if (interrupted()) throw timeout("interrupted (SIGINT/SIGTERM) during: " + what);
  if (std::chrono::steady_clock::now() > deadline_)
    throw timeout("scenario '" + scenario_ + "' passed its time limit of " + std::to_string(opt.scenario_timeout_s) +
                  " s (--scenario-timeout) during: " + what + "; it was stopped");
}

int64_t context::left_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - std::chrono::steady_clock::now()).count();
}

void context::progress(const std::string& line) const {
  double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(stderr, "[bench %s %6.1fs] %s\n", scenario_.c_str(), t, line.c_str());
  std::fflush(stderr);
}

void context::ensure_cert(const std::string& name, bool node) const {
  std::lock_guard<std::mutex> lock(certs_mu_);
  const std::string certs = tmp + "/certs";
  if (!ca_) {
    auto ca = security::make_ca("rumor-bench-ca", 7);
    if (!ca) throw std::runtime_error("bench CA: " + ca.err().message);
    if (auto st = security::write_pem_files(certs, "ca", *ca); !st) throw std::runtime_error(st.err().message);
    ca_ = std::move(*ca);
  }
  if (std::filesystem::exists(certs + "/" + name + ".crt")) return;
  security::cert_request req;
  req.name = name;
  req.role = node ? security::cert_role::node : security::cert_role::client;
  if (node) req.hosts = {"127.0.0.1"};
  req.days = 7;
  auto made = security::make_certificate(*ca_, req);
  if (!made) throw std::runtime_error("bench certificate: " + made.err().message);
  if (auto st = security::write_pem_files(certs, name, *made); !st) throw std::runtime_error(st.err().message);
}

std::vector<std::string> context::node_tls_flags(const std::string& name) const {
  if (!opt.tls) return {};
  ensure_cert(name, true);
  const std::string c = tmp + "/certs/";
  return {"--tls-ca", c + "ca.crt", "--tls-cert", c + name + ".crt", "--tls-key", c + name + ".key"};
}

client::credentials context::client_credentials() const {
  if (!opt.tls) return {};
  ensure_cert("bench-client", false);
  const std::string c = tmp + "/certs/";
  return {{c + "ca.crt", c + "bench-client.crt", c + "bench-client.key"}, ""};
}

std::string context::dir(const std::string& name) const {
  std::string d = tmp + "/" + scenario_ + "-" + name;
  std::filesystem::create_directories(d);
  return d;
}

}  // namespace rumor::cli::bench
