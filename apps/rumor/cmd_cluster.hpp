#pragma once
// `rumor cluster`: starts N local `rumor node` processes (this same binary) on consecutive ports
// of 127.0.0.1 that join the first one, prints their addresses, and on SIGINT/SIGTERM stops
// them all (SIGTERM, then SIGKILL after 10 s) and exits. If a node dies on its own, the others
// are stopped too and the exit code is non-zero.

#include <cstdint>
#include <string>

namespace rumor::cli {

struct cluster_options {
  size_t nodes = 3;
  std::string dir = "rumor-cluster";
  uint16_t base_port = 7400;
  std::string cluster = "rumor";
  std::string durability = "durable";
  std::string log_level = "warn";
  bool tls = false;  // a throwaway CA in dir/certs, node certificates and a client certificate
};

// REQUIRES: block_stop_signals() was called. `self` is the path of the rumor binary.
int run_cluster(const cluster_options& o, const std::string& self);

}  // namespace rumor::cli
