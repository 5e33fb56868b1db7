#pragma once
// The load of watching a cluster, for `rumor bench replicate --observe`: a thread that, once a
// second and for each node's HTTP endpoint, scrapes GET /metrics (as Prometheus would) and makes
// the requests an open dashboard makes (/v1/status and /v1/members every second; every 10 s
// /v1/keys?limit=50 and the value of each listed key). Counts what it did; stop() (or the
// destructor) ends and joins it.

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace rumor::cli::bench {

class http_observer {
 public:
  explicit http_observer(std::vector<std::string> http_addresses);  // "127.0.0.1:port" each
  ~http_observer();
  http_observer(const http_observer&) = delete;
  http_observer& operator=(const http_observer&) = delete;
  void stop();
  uint64_t requests() const { return requests_.load(); }
  uint64_t failures() const { return failures_.load(); }  // no answer, or not 2xx / 404
  uint64_t scrape_bytes() const { return scrape_bytes_.load(); }  // /metrics bodies, total

 private:
  void run();
  std::vector<std::string> addresses_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> requests_{0}, failures_{0}, scrape_bytes_{0};
  std::thread thread_;
};

}  // namespace rumor::cli::bench
