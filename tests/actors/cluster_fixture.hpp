#pragma once
// In-process clusters of rumor::node over real loopback sockets, for tests: temporary data
// directories (removed at the end), nodes on 127.0.0.1 with OS-chosen ports, and bounded polling.

#include <doctest/doctest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "actors/node.hpp"
#include "client/host_port.hpp"

namespace rumor::test {

using actors::node;
using actors::node_config;

// Polls `pred` every 10 ms until it holds or `timeout` passes. Returns whether it held.
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

class temp_dir {
 public:
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "rumor-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : std::string{};
    REQUIRE(!path_.empty());
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct cluster {
  temp_dir root;
  std::vector<std::unique_ptr<node>> nodes;  // null = stopped
  std::vector<std::string> addresses;
  uint64_t gossip_ms = 50;
  std::vector<std::string> cas_voters;  // the compare-and-set lane's voters (empty: disabled)

  // Gives nodes 0..n-1 fixed free loopback addresses (before start) and makes all of them the
  // compare-and-set lane's voters.
  void with_cas_lane(size_t n) {
    addresses.resize(std::max(addresses.size(), n));
    nodes.resize(std::max(nodes.size(), n));
    cas_voters.clear();
    for (size_t i = 0; i < n; ++i) {
      addresses[i] = "127.0.0.1:" + std::to_string(client::free_loopback_port());
      cas_voters.push_back(addresses[i]);
    }
  }

  std::string dir(size_t i) const { return root.path() + "/n" + std::to_string(i); }

  node_config config(size_t i, std::string listen, std::vector<std::string> seeds) const {
    node_config c;
    c.data_dir = dir(i);
    c.listen = std::move(listen);
    c.seeds = std::move(seeds);
    c.cluster = "test";
    c.gossip_interval_ms = gossip_ms;
    c.durability = persistence::durability::relaxed;
    c.threads = 2;
    c.cas_voters = cas_voters;
    if (std::getenv("RUMOR_TEST_LOG")) {
      c.log = std::make_shared<spdlog::logger>("n" + std::to_string(i),
                                               std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
      c.log->set_level(spdlog::level::debug);
    } else {
      c.log = std::make_shared<spdlog::logger>("n" + std::to_string(i), std::make_shared<spdlog::sinks::null_sink_mt>());
    }
    return c;
  }

  // Starts node i (new, or restarted on its directory and address), joining through node 0.
  node& start(size_t i) {
    if (nodes.size() <= i) {
      nodes.resize(i + 1);
      addresses.resize(i + 1);
    }
    std::vector<std::string> seeds;
    if (i != 0 && !addresses[0].empty()) seeds.push_back(addresses[0]);
    else if (i == 0)
      for (size_t j = 1; j < addresses.size(); ++j)
        if (!addresses[j].empty() && nodes[j]) seeds.push_back(addresses[j]);
    std::string listen = addresses[i].empty() ? "127.0.0.1:0" : addresses[i];
    auto n = node::start(config(i, listen, seeds));
    REQUIRE_MESSAGE(n.has_value(), (n ? std::string() : n.err().describe()));
    addresses[i] = (*n)->address();
    nodes[i] = std::move(*n);
    return *nodes[i];
  }

  void start_all(size_t count) {
    for (size_t i = 0; i < count; ++i) start(i);
    for (size_t i = 0; i < count; ++i)
      REQUIRE_MESSAGE(nodes[i]->wait_ready(std::chrono::seconds(10)), "node " << i << " not ready");
    // Every node sees every other as a live member.
    REQUIRE(eventually([&] {
      for (auto& n : nodes) {
        auto ms = n->members();
        if (!ms) return false;
        size_t alive = 0;
        for (auto& m : *ms) alive += m.status == "alive";
        if (alive < count) return false;
      }
      return true;
    }, std::chrono::seconds(10)));
  }

  // Stops node i gracefully (it leaves the cluster), or as if it crashed (it stays a member).
  void stop(size_t i, bool leave = true) {
    if (leave) nodes[i]->stop();
    else nodes[i]->stop_without_leaving();
    nodes[i].reset();
  }

  ~cluster() {
    for (auto& n : nodes)
      if (n) n->stop();
  }
};

}  // namespace rumor::test
