#pragma once
// A deterministic simulation of the CAS lane (replication/cas.hpp) on N nodes over a simulated
// network, driven by one seeded RNG: message loss, duplication, reordering (random latency, also
// of messages sent by a node that has since crashed), partitions, and crash-restart of nodes
// (commits are delayed; uncommitted batches are lost, committed ones survive in the memory_store).
//
// run_cas_schedule(seed) runs one seeded schedule: concurrent clients do cas-increment loops
// (read v; cas(v, v + 1)) on counter keys and random reads / writes / deletes / cas on a mixed
// key, while faults come and go; then everything heals, every client finishes, and a final read
// of each key is made. Checks: every key's history (invoke / complete events; a timeout or a
// crash of the client's node = outcome unknown) is linearizable (linearizability.hpp), and each
// counter's final value lies in [successful increments, successful + unknown increments].
//
// Used by test_cas.cpp and the seed-range runner cas_sim_main.cpp.

#include <algorithm>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "linearizability.hpp"
#include "persistence/memory_store.hpp"
#include "replication/cas.hpp"

namespace rumor::cas_sim {

using namespace rumor::replication;

struct sim_config {
  size_t nodes = 3;
  double loss = 0.0;
  double duplicate = 0.0;
  uint64_t min_latency_ms = 1;
  uint64_t max_latency_ms = 10;
  uint64_t tick_ms = 5;
  uint64_t max_commit_delay_ms = 3;  // each batch commits 0..this ms after it was produced
  cas_config cas;                    // voters: filled in with every node
  // 0: every node knows every voter's id from its boot. Otherwise each boot starts with each other
  // voter's id unknown (a placeholder that never answers, as the node runtime has for a voter
  // address no member advertised yet) with probability 1/2, and learns the real ids (set_voters)
  // at a random moment within this many ms. Drawn from resolve_seed, so that schedules without
  // it are unchanged.
  uint64_t resolve_within_ms = 0;
  uint64_t resolve_seed = 0;
};

class simulation {
 public:
  using reply_fn = std::function<void(const cas_reply&)>;

  struct node {
    std::unique_ptr<persistence::memory_store> store;
    std::unique_ptr<cas_node> cas;
    bool up = false;
    struct waiting {
      cas_batch batch;
      uint64_t commit_at;
    };
    std::deque<waiting> uncommitted;
    std::map<uint64_t, reply_fn> callbacks;
  };

  simulation(uint64_t seed, sim_config cfg) : rng_(seed), cfg_(std::move(cfg)), resolve_rng_(cfg_.resolve_seed) {
    for (size_t i = 0; i < cfg_.nodes; ++i) {
      persistence::memory_store::config c;
      c.node_id = (rng_() | 1) ^ (i << 1);
      node n;
      n.store = std::make_unique<persistence::memory_store>(c);
      ids_.push_back(n.store->node_id());
      nodes_.push_back(std::move(n));
    }
    cfg_.cas.voters = ids_;
    for (size_t i = 0; i < nodes_.size(); ++i) boot(i);
  }

  // Process crash: the node's memory and uncommitted batches vanish; its clients' operations end
  // with outcome unknown. The store keeps every commit.
  void crash(size_t i) {
    node& n = nodes_[i];
    if (!n.up) return;
    n.cas.reset();
    n.uncommitted.clear();
    n.store->crash();
    n.up = false;
    auto callbacks = std::move(n.callbacks);
    n.callbacks.clear();
    for (auto& [req, fn] : callbacks)
      fn(cas_reply{req, error{errc::timeout, "node crashed"}, std::nullopt});
  }

  void restart(size_t i) {
    if (!nodes_[i].up) boot(i);
  }

  // Messages between different groups are dropped until heal(). Nodes not listed form one group.
  void partition(const std::vector<std::set<size_t>>& groups) {
    group_.assign(nodes_.size(), groups.size());
    for (size_t g = 0; g < groups.size(); ++g)
      for (size_t i : groups[g]) group_[i] = g;
  }
  void heal() { group_.clear(); }

  // Client requests to node i; `done` runs when it answers (or crashes). False if i is down.
  bool cas(size_t i, const std::string& key, cas_value expected, cas_value desired, reply_fn done) {
    return request(i, std::move(done), [&](cas_node& c, uint64_t req) {
      c.cas(req, key, std::move(expected), std::move(desired), now_);
    });
  }
  bool write(size_t i, const std::string& key, cas_value desired, reply_fn done) {
    return request(i, std::move(done), [&](cas_node& c, uint64_t req) { c.write(req, key, std::move(desired), now_); });
  }
  bool read(size_t i, const std::string& key, reply_fn done) {
    return request(i, std::move(done), [&](cas_node& c, uint64_t req) { c.read(req, key, now_); });
  }

  // Runs `fn` at virtual time now + delay_ms.
  void after(uint64_t delay_ms, std::function<void()> fn) {
    timers_.push(timer{now_ + delay_ms, order_++, std::move(fn)});
  }

  // Advances virtual time by `ms`: delivers messages, commits batches, fires timers, ticks nodes.
  void run_for(uint64_t ms) {
    uint64_t end = now_ + ms;
    while (now_ < end) {
      now_ += 1;
      while (!wire_.empty() && wire_.top().at <= now_) {
        flight f = wire_.top();
        wire_.pop();
        deliver(f);
      }
      for (size_t i = 0; i < nodes_.size(); ++i) {
        if (!nodes_[i].up) continue;
        commit_due(i);
        if (nodes_[i].up && now_ % cfg_.tick_ms == i % cfg_.tick_ms) {
          nodes_[i].cas->tick(now_);
          drain(i);
        }
      }
      while (!timers_.empty() && timers_.top().at <= now_) {
        auto fn = timers_.top().fn;
        timers_.pop();
        fn();
      }
    }
  }

  // A strictly increasing event counter (the history's clock).
  uint64_t event() { return ++events_; }
  uint64_t now() const { return now_; }
  size_t size() const { return nodes_.size(); }
  bool up(size_t i) const { return nodes_[i].up; }
  bool has_uncommitted(size_t i) const { return nodes_[i].up && !nodes_[i].uncommitted.empty(); }
  node& at(size_t i) { return nodes_[i]; }
  std::mt19937_64& rng() { return rng_; }
  size_t pending_messages() const { return wire_.size(); }
  cas_stats total_stats() const {
    cas_stats t;
    for (const auto& n : nodes_) {
      if (!n.up) continue;
      const cas_stats& s = n.cas->stats();
      t.attempts += s.attempts;
      t.retries += s.retries;
      t.retransmits += s.retransmits;
      t.ok += s.ok;
      t.conflicts += s.conflicts;
      t.unavailable += s.unavailable;
      t.timeouts += s.timeouts;
      t.promises += s.promises;
      t.accepts += s.accepts;
      t.nacks += s.nacks;
    }
    return t;
  }

 private:
  struct flight {
    uint64_t at;
    uint64_t order;
    size_t from;
    size_t to;
    cas_message msg;
  };
  struct flight_later {
    bool operator()(const flight& a, const flight& b) const {
      return std::tie(a.at, a.order) > std::tie(b.at, b.order);
    }
  };
  struct timer {
    uint64_t at;
    uint64_t order;
    std::function<void()> fn;
  };
  struct timer_later {
    bool operator()(const timer& a, const timer& b) const { return std::tie(a.at, a.order) > std::tie(b.at, b.order); }
  };

  void boot(size_t i) {
    node& n = nodes_[i];
    cas_config c = cfg_.cas;
    bool unresolved = false;
    if (cfg_.resolve_within_ms > 0) {
      for (size_t j = 0; j < c.voters.size(); ++j) {
        if (j == i || resolve_rng_() % 2 == 0) continue;
        c.voters[j] = (uint64_t{0xCA5} << 52) | j;  // never a node's id (ids are odd)
        unresolved = true;
      }
    }
    n.cas = std::make_unique<cas_node>(*n.store, c, rng_());
    auto st = n.cas->load();
    if (!st) throw std::runtime_error("cas load failed: " + st.err().describe());
    n.up = true;
    if (unresolved) {
      const cas_node* booted = n.cas.get();
      after(1 + resolve_rng_() % cfg_.resolve_within_ms, [this, i, booted] {
        node& m = nodes_[i];
        if (!m.up || m.cas.get() != booted) return;
        m.cas->set_voters(ids_);
        drain(i);
      });
    }
  }

  template <class F>
  bool request(size_t i, reply_fn done, F&& call) {
    node& n = nodes_[i];
    if (!n.up) return false;
    uint64_t req = ++request_;
    n.callbacks[req] = std::move(done);
    call(*n.cas, req);
    drain(i);
    return true;
  }

  // Commits the batches that are due, in order, reporting each.
  void commit_due(size_t i) {
    node& n = nodes_[i];
    while (n.up && !n.uncommitted.empty() && n.uncommitted.front().commit_at <= now_) {
      auto w = std::move(n.uncommitted.front());
      n.uncommitted.pop_front();
      auto st = n.store->commit(w.batch.batch);
      if (!st) throw std::runtime_error("memory_store commit failed: " + st.err().describe());
      n.cas->committed(w.batch.id);
      drain(i);
    }
  }

  // Moves node i's ready output into the world.
  void drain(size_t i) {
    node& n = nodes_[i];
    while (n.up) {
      cas_ready r = n.cas->take_ready();
      if (r.empty()) return;
      for (auto& b : r.batches) {
        uint64_t at = now_ + (cfg_.max_commit_delay_ms ? rng_() % (cfg_.max_commit_delay_ms + 1) : 0);
        if (!n.uncommitted.empty()) at = std::max(at, n.uncommitted.back().commit_at);
        n.uncommitted.push_back({std::move(b), at});
      }
      for (auto& m : r.messages) send(i, std::move(m));
      for (auto& rep : r.replies) {
        auto it = n.callbacks.find(rep.request);
        if (it == n.callbacks.end()) continue;
        auto fn = std::move(it->second);
        n.callbacks.erase(it);
        fn(rep);
      }
      if (n.up && !n.uncommitted.empty() && n.uncommitted.front().commit_at <= now_) commit_due(i);
    }
  }

  void send(size_t from, cas_outgoing o) {
    if (std::find(ids_.begin(), ids_.end(), o.to) == ids_.end()) return;  // a placeholder: nobody
    size_t to = index_of(o.to);
    if (!group_.empty() && group_[from] != group_[to]) return;
    std::uniform_real_distribution<double> u(0, 1);
    if (u(rng_) < cfg_.loss) return;
    int copies = u(rng_) < cfg_.duplicate ? 2 : 1;
    for (int c = 0; c < copies; ++c) {
      uint64_t lat = cfg_.min_latency_ms + rng_() % (cfg_.max_latency_ms - cfg_.min_latency_ms + 1);
      wire_.push(flight{now_ + lat, order_++, from, to, o.msg});
    }
  }

  void deliver(const flight& f) {
    node& n = nodes_[f.to];
    if (!n.up) return;
    if (!group_.empty() && group_[f.from] != group_[f.to]) return;
    n.cas->receive(ids_[f.from], f.msg, now_);
    drain(f.to);
  }

  size_t index_of(node_id id) const {
    for (size_t i = 0; i < ids_.size(); ++i)
      if (ids_[i] == id) return i;
    throw std::runtime_error("message to an unknown node");
  }

  std::mt19937_64 rng_;
  sim_config cfg_;
  std::mt19937_64 resolve_rng_;
  std::vector<node> nodes_;
  std::vector<node_id> ids_;
  std::vector<size_t> group_;
  std::priority_queue<flight, std::vector<flight>, flight_later> wire_;
  std::priority_queue<timer, std::vector<timer>, timer_later> timers_;
  uint64_t now_ = 0;
  uint64_t order_ = 0;
  uint64_t request_ = 0;
  uint64_t events_ = 0;
};

// ---- the workload ----

struct schedule_options {
  uint64_t duration_ms = 1'500;  // clients issue operations this long (virtual time)
  bool faults = true;
  size_t nodes = 0;              // 0: 3 or 5, from the seed
  uint64_t checker_budget = 2'000'000;
};

struct schedule_result {
  std::string failure;  // empty iff every check passed
  size_t nodes = 0;
  uint64_t ops = 0, ok = 0, conflicts = 0, unknown = 0, unavailable = 0;
  uint64_t increments = 0;          // successful cas increments, all counter keys
  uint64_t unknown_increments = 0;
  uint64_t explored = 0;            // checker states
  uint64_t virtual_ms = 0;
};

inline std::string counter_text(uint64_t n) { return std::to_string(n); }

class schedule {
 public:
  schedule(uint64_t seed, const schedule_options& opt) : opt_(opt), rng_(seed) {
    sim_config cfg;
    cfg.nodes = opt.nodes ? opt.nodes : (rng_() % 2 ? 5 : 3);
    if (opt.faults) {
      cfg.loss = (rng_() % 4) * 0.05;
      cfg.duplicate = (rng_() % 3) * 0.05;
      cfg.max_latency_ms = 2 + rng_() % 20;
      cfg.max_commit_delay_ms = rng_() % 9;
    }
    cfg.cas.timeout_ms = 300 + rng_() % 300;
    cfg.cas.retransmit_ms = 20 + rng_() % 30;
    cfg.cas.backoff_min_ms = 2;
    cfg.cas.backoff_max_ms = 40;
    cfg.cas.max_attempts = 6 + static_cast<uint32_t>(rng_() % 10);
    cfg.cas.ballot_block = 1 + rng_() % 8;  // small: restarts must skip used counters
    // A third of the schedules start (and restart) nodes with voter ids still unresolved; drawn
    // from the seed apart from rng_, so that the other schedules stay as they were.
    uint64_t mix = (seed + 1) * 0x9E3779B97F4A7C15ull;
    if ((mix >> 58) % 3 == 0) {
      cfg.resolve_within_ms = 20 + (mix >> 20) % 400;
      cfg.resolve_seed = mix;
    }
    sim_ = std::make_unique<simulation>(rng_(), cfg);
    result_.nodes = cfg.nodes;
    clients_ = 2 + rng_() % 8;
  }

  schedule_result run() {
    simulation& s = *sim_;
    for (size_t c = 0; c < clients_; ++c) {
      client_home_.push_back(c % s.size());
      busy_.push_back(false);
      s.after(rng_() % 10, [this, c] { next_op(c); });
    }
    if (opt_.faults) schedule_faults();
    s.run_for(opt_.duration_ms);
    stopped_ = true;
    // Heal: everything up and connected; let every client's last operation end.
    s.heal();
    for (size_t i = 0; i < s.size(); ++i) s.restart(i);
    for (int guard = 0; guard < 100 && any_busy(); ++guard) s.run_for(100);
    if (any_busy()) return fail("clients still waiting 10 s after healing");
    s.run_for(50);
    final_reads();
    result_.virtual_ms = s.now();
    if (!result_.failure.empty()) return result_;
    check();
    return result_;
  }

 private:
  using reg_value = test::reg_value;
  struct key_history {
    std::vector<test::lin_op> ops;
    uint64_t increments = 0;
    uint64_t unknown_increments = 0;
  };

  schedule_result fail(std::string why) {
    if (result_.failure.empty()) result_.failure = std::move(why);
    return result_;
  }

  bool any_busy() const {
    for (bool b : busy_)
      if (b) return true;
    return false;
  }

  static const std::vector<std::string>& counter_keys() {
    static const std::vector<std::string> k{"ctr/a", "ctr/b"};
    return k;
  }
  static constexpr const char* mixed_key = "mix";

  // Picks the node a client talks to: its home node if up, else any up node.
  std::optional<size_t> pick_node(size_t c) {
    simulation& s = *sim_;
    if (s.up(client_home_[c]) && rng_() % 10) return client_home_[c];
    std::vector<size_t> up;
    for (size_t i = 0; i < s.size(); ++i)
      if (s.up(i)) up.push_back(i);
    if (up.empty()) return std::nullopt;
    client_home_[c] = up[rng_() % up.size()];
    return client_home_[c];
  }

  void next_op(size_t c) {
    if (stopped_) return;
    auto n = pick_node(c);
    if (!n) return sim_->after(20, [this, c] { next_op(c); });
    unsigned dice = static_cast<unsigned>(rng_() % 10);
    if (dice < 6) {
      const auto& key = counter_keys()[rng_() % counter_keys().size()];
      increment(c, *n, key);
    } else {
      mixed_op(c, *n);
    }
  }

  void think(size_t c) {
    busy_[c] = false;
    sim_->after(rng_() % 6, [this, c] { next_op(c); });
  }

  // Issues one recorded operation; `then` gets the reply after it is recorded.
  template <class Issue>
  void issue(size_t c, size_t node, const std::string& key, test::lin_op op, Issue&& fn,
             std::function<void(const cas_reply&)> then) {
    busy_[c] = true;
    op.client = c;
    op.invoke = sim_->event();
    auto record = [this, key, op, then = std::move(then)](const cas_reply& r) mutable {
      op.complete = sim_->event();
      ++result_.ops;
      if (r.result) {
        op.out = test::lin_op::outcome::ok;
        if (op.k == test::lin_op::kind::read) op.value = r.value;
        ++result_.ok;
      } else if (r.result.err().code == errc::conflict) {
        op.out = test::lin_op::outcome::conflict;
        op.value = r.value;
        ++result_.conflicts;
      } else if (r.result.err().code == errc::unavailable) {
        ++result_.unavailable;  // certainly not applied: left out of the history
        then(r);
        return;
      } else {
        op.out = test::lin_op::outcome::unknown;
        op.complete = std::numeric_limits<uint64_t>::max();
        ++result_.unknown;
      }
      histories_[key].ops.push_back(op);
      then(r);
    };
    if (!fn(node, std::function<void(const cas_reply&)>(std::move(record)))) {
      busy_[c] = false;
      sim_->after(5, [this, c] { next_op(c); });
    }
  }

  // read v; cas(v, v + 1); a conflict or failure starts over with the next operation.
  void increment(size_t c, size_t node, const std::string& key) {
    test::lin_op rd;
    rd.k = test::lin_op::kind::read;
    issue(
        c, node, key, rd,
        [this, key](size_t n, simulation::reply_fn f) { return sim_->read(n, key, std::move(f)); },
        [this, c, node, key](const cas_reply& r) {
          if (!r.result || stopped_) return think(c);
          uint64_t v = r.value ? std::stoull(*r.value) : 0;
          test::lin_op op;
          op.k = test::lin_op::kind::cas;
          op.expected = r.value;
          op.desired = counter_text(v + 1);
          issue(
              c, node, key, op,
              [this, key, op](size_t n, simulation::reply_fn f) {
                return sim_->cas(n, key, op.expected, op.desired, std::move(f));
              },
              [this, c, key](const cas_reply& r2) {
                if (r2.result) ++histories_[key].increments;
                else if (r2.result.err().code == errc::timeout) ++histories_[key].unknown_increments;
                think(c);
              });
        });
  }

  reg_value random_value() {
    static const char* vals[] = {"x", "y", "z"};
    unsigned i = static_cast<unsigned>(rng_() % 4);
    if (i == 3) return std::nullopt;
    return std::string(vals[i]);
  }

  void mixed_op(size_t c, size_t node) {
    std::string key = mixed_key;
    test::lin_op op;
    unsigned dice = static_cast<unsigned>(rng_() % 3);
    auto done = [this, c](const cas_reply&) { think(c); };
    if (dice == 0) {
      op.k = test::lin_op::kind::read;
      issue(c, node, key, op, [this, key](size_t n, simulation::reply_fn f) { return sim_->read(n, key, std::move(f)); },
            done);
    } else if (dice == 1) {
      op.k = test::lin_op::kind::write;
      op.desired = random_value();
      issue(c, node, key, op,
            [this, key, op](size_t n, simulation::reply_fn f) { return sim_->write(n, key, op.desired, std::move(f)); },
            done);
    } else {
      op.k = test::lin_op::kind::cas;
      op.expected = random_value();
      op.desired = random_value();
      issue(c, node, key, op,
            [this, key, op](size_t n, simulation::reply_fn f) {
              return sim_->cas(n, key, op.expected, op.desired, std::move(f));
            },
            done);
    }
  }

  // Crashes, restarts and partitions at random times during the run.
  void schedule_faults() {
    simulation& s = *sim_;
    size_t events = 3 + rng_() % 10;
    for (size_t e = 0; e < events; ++e) {
      uint64_t at = rng_() % opt_.duration_ms;
      uint64_t len = 50 + rng_() % 400;
      unsigned kind = static_cast<unsigned>(rng_() % 4);
      if (kind == 0) {  // crash one node, restart it later
        size_t i = rng_() % s.size();
        s.after(at, [this, i] { sim_->crash(i); });
        s.after(at + len, [this, i] { sim_->restart(i); });
      } else if (kind == 1) {  // partition into two random groups
        std::set<size_t> g;
        for (size_t i = 0; i < s.size(); ++i)
          if (rng_() % 2) g.insert(i);
        s.after(at, [this, g] { sim_->partition({g}); });
        s.after(at + len, [this] { sim_->heal(); });
      } else if (kind == 2) {  // crash a node and restart it at once (loses uncommitted batches)
        size_t i = rng_() % s.size();
        s.after(at, [this, i] {
          sim_->crash(i);
          sim_->restart(i);
        });
      } else {  // the same, at the first moment within 100 ms that the node has uncommitted batches
        size_t i = rng_() % s.size();
        s.after(at, [this, i] { crash_when_dirty(i, 100); });
      }
    }
  }

  void crash_when_dirty(size_t i, int patience_ms) {
    if (sim_->has_uncommitted(i) || patience_ms == 0) {
      sim_->crash(i);
      sim_->restart(i);
      return;
    }
    sim_->after(1, [this, i, patience_ms] { crash_when_dirty(i, patience_ms - 1); });
  }

  // A successful read of every key, through a node chosen at random (retried after failures).
  void final_reads() {
    std::vector<std::string> keys = counter_keys();
    keys.push_back(mixed_key);
    for (const auto& key : keys) {
      bool got = false;
      for (int attempt = 0; attempt < 20 && !got; ++attempt) {
        size_t node = rng_() % sim_->size();
        bool done = false;
        busy_.resize(std::max(busy_.size(), clients_ + attempt + 1));
        test::lin_op op;
        op.k = test::lin_op::kind::read;
        issue(
            clients_ + attempt, node, key, op,
            [this, key](size_t n, simulation::reply_fn f) { return sim_->read(n, key, std::move(f)); },
            [&](const cas_reply& r) {
              done = true;
              if (r.result) {
                got = true;
                final_[key] = r.value;
              }
            });
        for (int guard = 0; guard < 500 && !done; ++guard) sim_->run_for(20);
        if (!done) {
          fail("final read of '" + key + "' never answered");
          return;
        }
        busy_[clients_ + attempt] = false;
      }
      if (!got) {
        fail("final read of '" + key + "' failed 20 times after healing");
        return;
      }
    }
  }

  void check() {
    for (auto& [key, h] : histories_) {
      result_.increments += h.increments;
      result_.unknown_increments += h.unknown_increments;
      auto r = test::check_register(h.ops, std::nullopt, opt_.checker_budget);
      result_.explored += r.explored;
      if (r.gave_up) {
        fail("checker gave up on key '" + key + "' after " + std::to_string(r.explored) + " states");
        return;
      }
      if (!r.linearizable) {
        fail("key '" + key + "' is not linearizable: " + r.explanation);
        return;
      }
      if (key == mixed_key) continue;
      const reg_value& v = final_[key];
      uint64_t n = v ? std::stoull(*v) : 0;
      if (n < h.increments || n > h.increments + h.unknown_increments) {
        fail("counter '" + key + "' ends at " + std::to_string(n) + " after " + std::to_string(h.increments) +
             " acknowledged and " + std::to_string(h.unknown_increments) + " unknown increments");
        return;
      }
    }
  }

  schedule_options opt_;
  std::mt19937_64 rng_;
  std::unique_ptr<simulation> sim_;
  size_t clients_ = 0;
  std::vector<size_t> client_home_;
  std::vector<bool> busy_;
  bool stopped_ = false;
  std::map<std::string, key_history> histories_;
  std::map<std::string, reg_value> final_;
  schedule_result result_;
};

inline schedule_result run_cas_schedule(uint64_t seed, const schedule_options& opt = {}) {
  return schedule(seed, opt).run();
}

}  // namespace rumor::cas_sim
