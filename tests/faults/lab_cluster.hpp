#pragma once
// lab_cluster: N `rumor node` processes, node i in net_lab namespace i listening on
// 198.18.0.<i+1>:7000, joined to each other; and `workload`, one client thread per node (inside
// that node's namespace) whose every operation is recorded, for the invariants the fault tests
// check after healing:
//   counter "c" (consistency local):    final value in [acknowledged, attempted]
//   counter "m" (consistency majority): final value in [acknowledged, attempted], and no majority
//                                       write acknowledged by a node cut off from a majority
//   or-set "s" (local): every acknowledged add whose element was never removed is present, every
//                       acknowledged remove's element absent (each element is added once, by one
//                       client, and removed at most once after its add was acknowledged)
// Every loop is bounded in time and count; nodes are stopped by PID only (processes.hpp).

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/render.hpp"
#include "crdt/codec.hpp"
#include "net_lab.hpp"
#include "processes.hpp"

namespace rumor::test {

struct lab_cluster {
  net_lab lab;
  temp_dir dir;
  std::vector<std::unique_ptr<node_process>> nodes;
  std::vector<std::string> extra;  // flags every node gets besides the defaults

  explicit lab_cluster(size_t n) : lab(n) {
    for (size_t i = 0; i < n; ++i) {
      std::string base = dir.path + "/n" + std::to_string(i);
      nodes.push_back(std::make_unique<node_process>(RUMOR_BINARY, net_lab::address(i), base, base + ".log", lab.ns(i)));
    }
  }
  ~lab_cluster() {
    for (auto& p : nodes) p->kill_hard();  // before the namespaces go
  }

  size_t size() const { return nodes.size(); }

  std::vector<std::string> flags(size_t i) const {
    std::vector<std::string> f = {"--cluster", "lab", "--gossip-interval-ms", "100", "--durability", "durable"};
    for (size_t j = 0; j < nodes.size(); ++j)
      if (j != i) f.insert(f.end(), {"--join", nodes[j]->address()});
    f.insert(f.end(), extra.begin(), extra.end());
    return f;
  }

  bool start(size_t i) {
    bool ok = nodes[i]->start(flags(i));
    if (!ok) dump_log(i);
    return ok;
  }

  void dump_log(size_t i, size_t max_lines = 60) const {
    std::ifstream f(dir.path + "/n" + std::to_string(i) + ".log");
    std::vector<std::string> lines;
    for (std::string line; std::getline(f, line);) lines.push_back(line);
    size_t from = lines.size() > max_lines ? lines.size() - max_lines : 0;
    for (size_t k = from; k < lines.size(); ++k) MESSAGE("n" << i << ": " << lines[k]);
  }

  // The values of `keys` on node i (crdt codec bytes; "" when absent), or nullopt if it does not
  // answer within a second or two.
  std::optional<std::vector<std::string>> read_all(size_t i, const std::vector<std::string>& keys) {
    auto c = nodes[i]->connect(1000);
    if (!c) return std::nullopt;
    std::vector<std::string> out;
    for (const auto& k : keys) {
      client::request req;
      req.body = client::get{k};
      auto r = c->call(req, 2000);
      if (!r || r->code != errc::ok) return std::nullopt;
      std::string v;
      for (const auto& kv : r->values) v += kv.value;
      out.push_back(std::move(v));
    }
    return out;
  }

  // Waits (at most `timeout`) until every node answers and all hold the same values of `keys`;
  // returns the seconds it took, or nullopt.
  std::optional<double> converge(const std::vector<std::string>& keys, std::chrono::seconds timeout) {
    auto start = std::chrono::steady_clock::now();
    bool done = eventually_for(timeout, [&] {
      std::optional<std::vector<std::string>> first;
      for (size_t i = 0; i < nodes.size(); ++i) {
        auto v = read_all(i, keys);
        if (!v) return false;
        if (!first) first = std::move(v);
        else if (*v != *first) return false;
      }
      return true;
    });
    if (!done) return std::nullopt;
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
};

// Which nodes are cut off from a majority, given the blocked (directed) links: node i is when
// fewer than a majority of the nodes (itself included) can both be reached from it and reach it,
// by paths of unblocked links (a delta may be relayed, so a direct link is not needed).
inline std::vector<bool> minority_nodes(const net_lab& lab) {
  const size_t n = lab.size();
  auto reach = [&](size_t from, bool forward) {
    std::vector<bool> seen(n, false);
    std::vector<size_t> todo = {from};
    seen[from] = true;
    while (!todo.empty()) {
      size_t a = todo.back();
      todo.pop_back();
      for (size_t b = 0; b < n; ++b)
        if (!seen[b] && !(forward ? lab.is_blocked(a, b) : lab.is_blocked(b, a))) {
          seen[b] = true;
          todo.push_back(b);
        }
    }
    return seen;
  };
  std::vector<bool> out(n, false);
  for (size_t i = 0; i < n; ++i) {
    auto to = reach(i, true), back = reach(i, false);
    size_t both = 0;
    for (size_t j = 0; j < n; ++j) both += to[j] && back[j];
    out[i] = both < n / 2 + 1;
  }
  return out;
}

// Which nodes are cut off from a majority, per stable period of the topology. A fault change is
// made through change(): the period before it ends first (while the rules change, nobody counts
// as cut off), the new one starts once the rules are in place. An operation is judged only if it
// was sent and answered within one period (stamp at sending, same_period at the answer).
class cut_off_tracker {
 public:
  explicit cut_off_tracker(const net_lab& lab) : lab_(lab), cut_(lab.size(), false) {}

  template <class Fn>
  bool change(Fn fn) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++epoch_;
      cut_.assign(cut_.size(), false);
    }
    bool ok = fn();
    std::lock_guard<std::mutex> lock(mu_);
    cut_ = minority_nodes(lab_);
    ++epoch_;
    return ok;
  }

  struct stamp {
    uint64_t epoch = 0;
    bool cut_off = false;
  };
  stamp at(size_t i) const {
    std::lock_guard<std::mutex> lock(mu_);
    return stamp{epoch_, cut_[i]};
  }
  bool same_period(const stamp& s) const {
    std::lock_guard<std::mutex> lock(mu_);
    return s.epoch == epoch_;
  }

 private:
  const net_lab& lab_;
  mutable std::mutex mu_;
  std::vector<bool> cut_;
  uint64_t epoch_ = 0;
};

class workload {
 public:
  struct record {
    int64_t c_attempted = 0, c_acked = 0;
    int64_t m_attempted = 0, m_acked = 0;
    std::set<std::string> added_acked, removed_attempted, removed_acked;
    std::vector<std::string> minority_majority_acks;  // violations, described
    uint64_t minority_majority_attempts = 0;           // majority writes sent while cut off
    uint64_t ops = 0, failed = 0;
  };

  // `suffix` is appended to the key names (a fresh set of keys per workload: soak.cpp).
  workload(lab_cluster& c, uint64_t seed, std::string suffix = {})
      : c_(c), records_(c.size()), cut_(c.lab), seed_(seed), c_key_("c" + suffix), m_key_("m" + suffix),
        s_key_("s" + suffix) {}
  // The keys it writes: the counters c and m, the set s (with the suffix).
  std::vector<std::string> keys() const { return {c_key_, m_key_, s_key_}; }
  ~workload() { stop(); }

  // Makes a fault change (fn: a net_lab call returning whether it worked), so that the clients
  // know which nodes are cut off (cut_off_tracker).
  template <class Fn>
  bool change(Fn fn) {
    return cut_.change(fn);
  }

  void start() {
    for (size_t i = 0; i < c_.size(); ++i) threads_.emplace_back([this, i] { run(i); });
  }
  void stop() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  // After stop(): the records of every client, and the checks against the final values (crdt
  // codec bytes of keys(), as read from any node after convergence).
  const std::vector<record>& records() const { return records_; }
  // Majority writes sent by nodes while they were cut off from a majority (none acknowledged).
  uint64_t minority_majority_attempts() const {
    uint64_t n = 0;
    for (const auto& r : records_) n += r.minority_majority_attempts;
    return n;
  }

  void check(const std::vector<std::string>& finals) const {
    REQUIRE(finals.size() == 3);
    int64_t c_acked = 0, c_attempted = 0, m_acked = 0, m_attempted = 0;
    uint64_t ops = 0, failed = 0;
    for (const auto& r : records_) {
      c_acked += r.c_acked, c_attempted += r.c_attempted, m_acked += r.m_acked, m_attempted += r.m_attempted;
      ops += r.ops, failed += r.failed;
      for (const auto& v : r.minority_majority_acks) CHECK_MESSAGE(false, v);
    }
    auto counter = [](const std::string& bytes) -> int64_t {
      if (bytes.empty()) return 0;
      auto v = crdt::decode(bytes);
      REQUIRE(v);
      auto* pn = v->get_if<crdt::pn_counter>();
      REQUIRE(pn);
      return pn->value();
    };
    int64_t c = counter(finals[0]), m = counter(finals[1]);
    MESSAGE("workload: " << ops << " operations (" << failed << " not acknowledged); c = " << c << " in ["
                         << c_acked << ", " << c_attempted << "], m = " << m << " in [" << m_acked << ", "
                         << m_attempted << "]");
    CHECK(c >= c_acked);
    CHECK(c <= c_attempted);
    CHECK(m >= m_acked);
    CHECK(m <= m_attempted);
    std::set<std::string> members;
    if (!finals[2].empty()) {
      auto v = crdt::decode(finals[2]);
      REQUIRE(v);
      auto* s = v->get_if<crdt::or_set>();
      REQUIRE(s);
      for (auto& e : s->elements()) members.insert(e);
    }
    size_t must = 0, gone = 0;
    for (const auto& r : records_) {
      for (const auto& e : r.added_acked)
        if (!r.removed_attempted.count(e)) {
          ++must;
          CHECK_MESSAGE(members.count(e), "acknowledged add of " << e << " lost");
        }
      for (const auto& e : r.removed_acked) {
        ++gone;
        CHECK_MESSAGE(!members.count(e), "acknowledged remove of " << e << " undone");
      }
    }
    MESSAGE("set: " << members.size() << " members; " << must << " acknowledged adds kept, " << gone
                    << " acknowledged removes");
    CHECK(c_acked > 0);
    CHECK(must > 0);
  }

 private:
  void run(size_t i) {
    std::mt19937_64 rng(seed_ + 1000 + i);
    record& rec = records_[i];
    std::optional<client::connection> conn;
    std::vector<std::string> removable;  // acknowledged adds not yet removed
    uint64_t next = 0;
    for (int iter = 0; iter < 100000 && !stop_; ++iter) {
      if (!conn || !conn->is_open()) {
        conn.reset();
        if (!c_.nodes[i]->running()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          continue;
        }
        auto c = c_.nodes[i]->connect(300);
        if (!c) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          continue;
        }
        conn = std::move(*c);
      }
      client::request req;
      client::update u;
      int kind = static_cast<int>(rng() % 10);
      enum { c_incr, m_incr, s_add, s_rem } what;
      if (kind < 6) {  // an increment: of c (local) or of m (majority)
        what = kind < 4 ? c_incr : m_incr;
        u.key = what == c_incr ? c_key_ : m_key_;
        u.op = client::op_kind::counter_add;
        u.type = crdt::type_tag::pn_counter;
        u.amount = 1;
        if (what == m_incr) {
          req.level = client::consistency::majority;
          req.timeout_ms = 400;
        }
      } else if (kind < 9 || removable.empty()) {
        what = s_add;
        u.key = s_key_;
        u.op = client::op_kind::set_add;
        u.type = crdt::type_tag::or_set;
        u.members = {"w" + std::to_string(i) + "-" + std::to_string(next++)};
      } else {
        what = s_rem;
        size_t k = rng() % removable.size();
        std::string e = removable[k];
        removable.erase(removable.begin() + static_cast<long>(k));
        u.key = s_key_;
        u.op = client::op_kind::set_remove;
        u.type = crdt::type_tag::or_set;
        u.members = {e};
        rec.removed_attempted.insert(e);
      }
      auto sent = cut_.at(i);
      if (what == c_incr) ++rec.c_attempted;
      if (what == m_incr) ++rec.m_attempted;
      if (what == m_incr && sent.cut_off) ++rec.minority_majority_attempts;
      req.body = u;
      ++rec.ops;
      auto r = conn->call(req, 3000);
      bool ok = r && r->code == errc::ok;
      if (!r) conn.reset();  // timeouts and lost connections: the outcome is unknown
      if (!ok) {
        ++rec.failed;
        continue;
      }
      switch (what) {
        case c_incr: ++rec.c_acked; break;
        case m_incr: {
          ++rec.m_acked;
          if (sent.cut_off && cut_.same_period(sent))
            rec.minority_majority_acks.push_back("node " + std::to_string(i) +
                                                 " acknowledged a majority write while cut off from a majority");
          break;
        }
        case s_add:
          rec.added_acked.insert(u.members.front());
          removable.push_back(u.members.front());
          break;
        case s_rem: rec.removed_acked.insert(u.members.front()); break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  lab_cluster& c_;
  std::vector<record> records_;
  cut_off_tracker cut_;
  uint64_t seed_;
  std::string c_key_, m_key_, s_key_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

}  // namespace rumor::test
