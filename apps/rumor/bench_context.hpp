#pragma once
// bench_context: what every `rumor bench` scenario shares: sizes from the command line, the
// scenario's deadline (a scenario past it throws bench::timeout, which stops it cleanly), the
// run's temp directory, the rumor binary, progress lines on stderr, and Ctrl-C.

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "bench_report.hpp"

#include "client/connection.hpp"
#include "security/certs.hpp"

namespace rumor::cli::bench {

struct options {
  std::vector<std::string> scenarios;   // empty: all
  std::string json;                     // --json FILE
  std::string plot;                     // --plot FILE.png
  bool quick = false;
  uint64_t updates = 200'000;           // replicate, catchup, local (b)
  uint64_t local_updates = 1'000'000;   // local (a), in memory
  uint64_t keys = 1'000'000;            // memory; insync's large size
  uint64_t insync_small = 1'000;        // insync's small size
  uint64_t samples = 30;                // disseminate samples per N
  uint64_t cas_ops = 3000;              // cas: operations per client setting
  std::vector<size_t> nodes = {8, 16};  // disseminate cluster sizes
  uint64_t window = 1000;               // pipelined requests in flight
  std::string durability = "durable";   // of the node processes
  uint64_t gossip_interval_ms = 200;
  size_t fanout = 3;
  uint64_t scenario_timeout_s = 600;    // per scenario
  uint64_t insync_window_ms = 10'000;   // how long in-sync traffic is counted
  bool keep_tmp = false;
  bool observe = false;                 // replicate: nodes with --http, scraped and dashboard-polled
  std::vector<uint64_t> collection_sizes = {1'000, 10'000, 100'000};  // collections: set sizes
  uint64_t collection_ops = 1'000;      // collections: adds (and as many removes) per size
  std::vector<uint64_t> map_fields = {1'000, 100'000};  // collections: or_map sizes in fields (0: none)
  std::string collection_watch = "none";  // collections: a watch open on B: none, changes, whole
  bool tls = false;                     // nodes and clients speak TLS (a throwaway CA in the temp dir)
  std::string text_trace;               // text: a sequential editing trace (JSON, optionally gzipped)
  std::string text_concurrent;          // text: a concurrent editing trace
  uint64_t text_node_patches = 20'000;  // text: patches replayed through a node process
};

// Thrown when a scenario passes its deadline or the run is interrupted.
struct timeout : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class context {
 public:
  context(options o, std::string binary, std::string tmp, report& r)
      : opt(std::move(o)), binary(std::move(binary)), tmp(std::move(tmp)), out(r) {}

  const options opt;
  const std::string binary;  // this rumor executable
  const std::string tmp;     // the run's temp dir (removed at the end unless --keep-tmp)
  report& out;

  // Starts scenario `name`'s clock: its deadline is now + --scenario-timeout.
  void begin(const std::string& name);
  const std::string& scenario() const { return scenario_; }
  // Throws timeout if the deadline passed or Ctrl-C/SIGTERM arrived; `what` names the step.
  void check(const std::string& what) const;
  // Milliseconds left before the deadline.
  int64_t left_ms() const;
  // A progress line on stderr ("[bench scenario] ...").
  void progress(const std::string& line) const;
  // A fresh directory under tmp.
  std::string dir(const std::string& name) const;

  // With opt.tls: the `rumor node` flags of a node called `name` (its certificate is made on first
  // use, under a throwaway CA in tmp/certs); without: none.
  std::vector<std::string> node_tls_flags(const std::string& name) const;
  // What the bench's client connections authenticate with (a client certificate with opt.tls).
  client::credentials client_credentials() const;

 private:
  // Makes tmp/certs/<name>.crt/.key (and the CA first) unless they exist. Throws runtime_error.
  void ensure_cert(const std::string& name, bool node) const;
  mutable std::mutex certs_mu_;  // ensure_cert runs on the scenarios' client threads too
  mutable std::optional<security::pem_pair> ca_;
  std::string scenario_;
  std::chrono::steady_clock::time_point start_{}, deadline_{};
};

// Set by the SIGINT/SIGTERM handler that run_bench installs.
bool interrupted() noexcept;
void install_interrupt_handler();

double now_ms();  // steady clock, ms (fractional)

}  // namespace rumor::cli::bench
