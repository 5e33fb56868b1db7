#include "bench_observer.hpp"

#include <cctype>
#include <chrono>

#include <httplib.h>

namespace rumor::cli::bench {

namespace {
// `s` percent-encoded for a path segment (unreserved characters kept).
std::string encode_segment(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}
}  // namespace

http_observer::http_observer(std::vector<std::string> http_addresses)
    : addresses_(std::move(http_addresses)), thread_([this] { run(); }) {}

http_observer::~http_observer() { stop(); }

void http_observer::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void http_observer::run() {
  std::vector<httplib::Client> clients;
  for (const auto& a : addresses_) {
    auto colon = a.rfind(':');
    clients.emplace_back(a.substr(0, colon), std::stoi(a.substr(colon + 1)));
    clients.back().set_connection_timeout(2);
    clients.back().set_read_timeout(5);
  }
  auto get = [&](httplib::Client& c, const std::string& path) -> std::string {
    ++requests_;
    auto r = c.Get(path.c_str());
    if (!r || (r->status / 100 != 2 && r->status != 404)) {
      ++failures_;
      return {};
    }
    return r->body;
  };
  auto next = std::chrono::steady_clock::now();
  uint64_t round = 0;
  while (!stop_.load()) {
    for (auto& c : clients) {
      scrape_bytes_ += get(c, "/metrics").size();
      get(c, "/v1/status");
      get(c, "/v1/members");
      get(c, "/v1/sync");
      if (round % 10 != 0) continue;
      // The dashboard's key table, every 10 s: the listing, then each listed key's value.
      std::string keys = get(c, "/v1/keys?limit=50");
      for (size_t p = keys.find("{\"key\":\""); p != std::string::npos; p = keys.find("{\"key\":\"", p + 1)) {
        size_t start = p + 8, end = keys.find('"', start);
        if (end == std::string::npos) break;
        get(c, "/v1/kv/" + encode_segment(keys.substr(start, end - start)));
      }
    }
    ++round;
    next += std::chrono::seconds(1);
    while (!stop_.load() && std::chrono::steady_clock::now() < next) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace rumor::cli::bench
