#pragma once
// `rumor node`: runs one node in the foreground until SIGINT/SIGTERM, then leaves the cluster,
// commits what is queued and exits 0. Under systemd (Type=notify) it reports READY=1 once it
// listens and STOPPING=1 when it begins to stop. SIGHUP re-reads `log-level` from the --config
// file's [node] section (the one setting that changes without a restart) and logs what it did. Bad flags, a busy port or an unusable data directory: a
// message naming the problem on stderr and a non-zero exit (exit_codes.hpp).

#include <cstdint>
#include <string>
#include <vector>

#include "replication/replica.hpp"

namespace rumor::cli {

struct node_options {
  std::string listen = "127.0.0.1:7400";
  std::string advertise;
  std::string data;
  std::vector<std::string> join;
  std::vector<std::string> cas_voters;  // the compare-and-set lane's voter addresses
  std::string cluster = "rumor";
  std::string durability = "durable";
  uint64_t write_behind_mb = 256;  // memory for acknowledged updates not yet materialized
  uint64_t max_frame_kb = 65536;   // largest frame read, or answered to a client (64 MiB)
  uint64_t gossip_interval_ms = 200;
  size_t fanout = 3;
  uint64_t log_retain_deltas = rumor::replication::replica_config{}.log_retain_deltas;
  std::string log_level = "info";
  std::string http;  // HOST:PORT of the HTTP endpoint; empty: off
  std::string config_file;  // the --config file, re-read on SIGHUP; empty: none
  std::string tls_ca, tls_cert, tls_key;  // PEM files; tls_ca set: TLS on every connection
  std::string client_token_file;          // bearer tokens clients may present instead of a certificate
};

// REQUIRES: SIGINT, SIGTERM and SIGHUP are blocked in every thread (block_stop_signals() before any
// thread starts). Returns the process exit code.
int run_node(const node_options& o);

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (threads started later inherit the mask) so
// that run_node / run_cluster can wait for them with sigwait.
void block_stop_signals();

}  // namespace rumor::cli
