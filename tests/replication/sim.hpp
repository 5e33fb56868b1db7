#pragma once
// A deterministic simulation of N replicas over a simulated network, driven by one seeded RNG:
// message loss, duplication, reordering (random latency), partitions, crashes (uncommitted
// batches are lost), restarts from the store, late joins and wiped nodes. Every message is
// encoded and decoded with the wire codec on its way, and its bytes are counted.
//
// Used by the simulation tests (test_simulation.cpp), the seed-range runner (sim_main.cpp) and
// the figures program (replication_figures.cpp).

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "crdt/codec.hpp"
#include "persistence/memory_store.hpp"
#include "replication/replica.hpp"
#include "replication/set_records.hpp"
#include "replication/stored_value.hpp"
#include "replication/value_layout.hpp"
#include "replication/wire_codec.hpp"

namespace rumor::sim {

using namespace rumor::replication;

struct sim_config {
  size_t nodes = 5;
  double loss = 0.0;       // probability a message is dropped
  double duplicate = 0.0;  // probability a message is delivered twice
  uint64_t min_latency_ms = 1;
  uint64_t max_latency_ms = 10;
  uint64_t tick_ms = 10;          // each node ticks this often
  uint64_t commit_delay_ms = 0;   // batches wait this long for their commit (0: at once)
  // After each input a node pushes what it applied (replica::push_now), as the node runtime
  // does once per burst; false: only at its ticks.
  bool eager_push = true;
  // true: the messages that arrive at a node in the same millisecond are one burst of its
  // inputs, pushed on once after the last of them (as the node runtime drains its mailbox once
  // per burst, actors/replica_actor.cpp schedule_drain); false: a push after each message.
  bool mailbox_bursts = false;
  // The replica defaults, except log retention: off, so that a node declared dead has its log
  // truncated and comes back through repair, as the repair tests and figures expect (the
  // schedules turn retention on in some runs, workload.hpp).
  replica_config replica = [] {
    replica_config c;
    c.log_retain_deltas = 0;
    return c;
  }();

  // `n` nodes that notice a node down or up within a few hundred simulated milliseconds (probe
  // every 200 ms, 100 ms timeout): what focused repair tests and figures use.
  static sim_config quick_probes(size_t n) {
    sim_config c;
    c.nodes = n;
    c.replica.membership.probe_interval_ms = 200;
    c.replica.membership.probe_timeout_ms = 100;
    return c;
  }
};

class simulation {
 public:
  using reply_fn = std::function<void(const reply&)>;

  struct node {
    std::unique_ptr<persistence::memory_store> store;
    std::unique_ptr<replica> rep;
    std::string address;
    bool up = false;
    struct waiting_batch {
      pending_batch batch;
      uint64_t commit_at;
    };
    std::deque<waiting_batch> uncommitted;
    std::map<uint64_t, reply_fn> callbacks;
    uint64_t bytes_sent = 0;
    uint64_t messages_sent = 0;
  };

  simulation(uint64_t seed, sim_config cfg) : rng_(seed), cfg_(std::move(cfg)) {
    for (size_t i = 0; i < cfg_.nodes; ++i) add_node_slot();
  }

  // Starts nodes [0, n): node 0 founds the cluster, the others join through it.
  void start_all() {
    for (size_t i = 0; i < nodes_.size(); ++i) boot(i, i == 0 ? std::vector<std::string>{} : seeds());
  }

  // Adds and starts a node that joins through node 0 (and any other live node).
  size_t add_node() {
    size_t i = add_node_slot();
    boot(i, seeds());
    return i;
  }

  // Process crash: the replica and its uncommitted batches vanish; the store keeps its commits.
  void crash(size_t i) {
    node& n = nodes_[i];
    n.rep.reset();
    n.uncommitted.clear();
    n.callbacks.clear();
    n.store->crash();
    n.up = false;
  }

  void restart(size_t i) { boot(i, seeds(i)); }

  // Disk wiped: a new, empty store (new node id) at the same address.
  void wipe(size_t i) {
    crash(i);
    nodes_[i].store = make_store();
    boot(i, seeds(i));
  }

  // Messages between different groups are dropped until heal(). Nodes not listed form one group.
  void partition(const std::vector<std::set<size_t>>& groups) {
    group_.assign(nodes_.size(), groups.size());
    for (size_t g = 0; g < groups.size(); ++g)
      for (size_t i : groups[g]) group_[i] = g;
  }
  void heal() {
    group_.clear();
    blocked_.clear();
  }
  // Messages from `from` to `to` (one way) are dropped until heal() or unblock().
  void block(size_t from, size_t to) { blocked_.insert({from, to}); }
  // Every message of kind `kind` (replication::kind_name) sent to node `to` is lost from now on,
  // until keep_kind(to, kind).
  void drop_kind(size_t to, std::string kind) { dropped_kinds_.insert({to, std::move(kind)}); }
  void keep_kind(size_t to, const std::string& kind) { dropped_kinds_.erase({to, kind}); }
  void unblock(size_t from, size_t to) { blocked_.erase({from, to}); }
  // True iff node i holds a batch not yet committed.
  bool has_uncommitted(size_t i) const { return !nodes_[i].uncommitted.empty(); }

  uint64_t next_request() { return ++request_; }

  // `touches`: replica::update's (the members an or_set update reads or changes; null: whole set).
  // `reply_value`: replica::update's (false: the reply's value may be left out).
  void update(size_t i, const std::string& key, crdt::type_tag type, const mutator& fn, consistency c,
              uint64_t timeout_ms, reply_fn done, const std::vector<std::string>* touches = nullptr,
              bool reply_value = true) {
    node& n = nodes_[i];
    if (!n.up) return;
    uint64_t req = next_request();
    n.callbacks[req] = std::move(done);
    n.rep->update(req, key, type, fn, c, timeout_ms, now_, touches, reply_value);
    process(i);
  }

  // Updates between begin_burst() and end_burst() arrive as one burst of a node's inputs (a
  // client pipelining them): each node pushes what they produced once, at end_burst(), as the
  // node runtime pushes once per burst of its mailbox.
  void begin_burst() { in_burst_ = true; }
  void end_burst() {
    in_burst_ = false;
    for (size_t i = 0; i < nodes_.size(); ++i) process(i);
  }

  void read(size_t i, const std::string& key, consistency c, uint64_t timeout_ms, reply_fn done,
            const set_view_request* view = nullptr) {
    node& n = nodes_[i];
    if (!n.up) return;
    uint64_t req = next_request();
    n.callbacks[req] = std::move(done);
    n.rep->read(req, key, c, timeout_ms, now_, view);
    process(i);
  }

  // Advances virtual time by `ms`, delivering messages, committing batches and ticking nodes.
  void run_for(uint64_t ms) {
    uint64_t end = now_ + ms;
    while (now_ < end) {
      now_ += 1;
      std::vector<size_t> received;  // mailbox_bursts: the nodes that got messages this millisecond
      while (!wire_.empty() && wire_.top().at <= now_) {
        flight f = wire_.top();
        wire_.pop();
        if (deliver(f) && cfg_.mailbox_bursts) received.push_back(f.to);
      }
      std::sort(received.begin(), received.end());
      received.erase(std::unique(received.begin(), received.end()), received.end());
      for (size_t i : received) process(i);
      for (size_t i = 0; i < nodes_.size(); ++i) {
        node& n = nodes_[i];
        if (!n.up) continue;
        commit_due(i);
        if (now_ % cfg_.tick_ms == i % cfg_.tick_ms) {
          n.rep->tick(now_);
          process(i);
        }
      }
    }
  }

  // Runs until `pred` holds (checked every tick) or `max_ms` passes; returns the time it took.
  std::optional<uint64_t> run_until(const std::function<bool()>& pred, uint64_t max_ms) {
    uint64_t start = now_;
    while (now_ - start < max_ms) {
      if (pred()) return now_ - start;
      run_for(cfg_.tick_ms);
    }
    if (pred()) return now_ - start;
    return std::nullopt;
  }

  // True iff every up node holds the same keys with the same values and has applied the same
  // updates (equal version vectors). Values compare by what they hold (their dot stores); a
  // deleted key (holding nothing) counts as absent. Causal contexts are not compared: a node
  // that collected a tombstone lacks the dead dots it covered, which changes no future join.
  bool converged() const {
    const node* first = nullptr;
    std::map<std::string, std::string> ref;
    for (const node& n : nodes_) {
      if (!n.up) continue;
      auto mine = logical(n);
      if (!first) {
        first = &n;
        ref = std::move(mine);
        continue;
      }
      if (mine != ref || n.rep->vv() != first->rep->vv()) return false;
    }
    return true;
  }

  // Every key of node `n` that holds something -> its dot store (canonically encoded).
  std::map<std::string, std::string> logical(const node& n) const {
    std::map<std::string, std::string> out;
    for (auto& [k, record] : dump(n)) {
      auto sv = decode_stored(record);
      if (!sv) {
        out[k] = "undecodable";
        continue;
      }
      auto v = crdt::decode(sv->crdt);
      if (!v) {
        out[k] = "undecodable";
        continue;
      }
      if (v->holds_nothing()) continue;
      std::string store = std::visit(
          [](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            std::vector<crdt::dot> dots;
            x.store().for_each_dot([&](const crdt::dot& d) { dots.push_back(d); });
            return crdt::encode(crdt::value{T{x.store(), crdt::dot_context::of(dots)}});
          },
          v->variant());
      out[k] = std::move(store);
    }
    return out;
  }

  // Every stored (storage key -> stored record) of node `n` (the store holds them under value
  // keys: value_layout.hpp).
  std::map<std::string, std::string> dump(const node& n) const {
    std::map<std::string, std::string> out;
    (void)n.store->scan_values(persistence::key_range::all(), [&](std::string_view k, std::string_view v) {
      out.emplace(std::string(storage_key_of(k)), std::string(v));
      return true;
    });
    // A set or map is stored as a header and element or field records (set_records.hpp,
    // map_records.hpp): its whole record.
    for (auto& [k, record] : out)
      if (set_records::is_decomposed(record) && n.rep)
        if (auto whole = n.rep->whole_record(k, record, true)) record = std::move(*whole);
    return out;
  }

  std::vector<crdt::value> values(size_t i, const std::string& key) const {
    auto v = nodes_[i].rep->get(key);
    return v ? *v : std::vector<crdt::value>{};
  }

  bool all_bootstrapped() const {
    return std::all_of(nodes_.begin(), nodes_.end(), [](const node& n) { return !n.up || n.rep->bootstrapped(); });
  }

  bool all_live_members_alive() const {
    for (const node& n : nodes_) {
      if (!n.up) continue;
      size_t live = n.rep->members().live_peers().size();
      if (live + 1 != up_count()) return false;
    }
    return true;
  }

  size_t up_count() const {
    size_t c = 0;
    for (const node& n : nodes_) c += n.up;
    return c;
  }

  uint64_t now() const { return now_; }
  sim_config& config() { return cfg_; }  // loss and duplication may change between runs
  node& at(size_t i) { return nodes_[i]; }
  const node& at(size_t i) const { return nodes_[i]; }
  size_t size() const { return nodes_.size(); }
  std::mt19937_64& rng() { return rng_; }
  uint64_t total_bytes() const {
    uint64_t b = 0;
    for (const node& n : nodes_) b += n.bytes_sent;
    return b;
  }
  uint64_t total_messages() const {
    uint64_t m = 0;
    for (const node& n : nodes_) m += n.messages_sent;
    return m;
  }
  const std::map<std::string, uint64_t>& bytes_by_kind() const { return bytes_by_kind_; }
  const std::map<std::string, uint64_t>& messages_by_kind() const { return messages_by_kind_; }
  // Messages and bytes sent of one kind (kind_name), 0 if none.
  uint64_t messages_of(const std::string& kind) const {
    auto it = messages_by_kind_.find(kind);
    return it == messages_by_kind_.end() ? 0 : it->second;
  }
  uint64_t bytes_of(const std::string& kind) const {
    auto it = bytes_by_kind_.find(kind);
    return it == bytes_by_kind_.end() ? 0 : it->second;
  }
  // Bytes of the largest message of `kind` sent since the last reset_counters.
  uint64_t largest_of(const std::string& kind) const {
    auto it = largest_by_kind_.find(kind);
    return it == largest_by_kind_.end() ? 0 : it->second;
  }
  // Bytes of every repair message (reconciliation, full transfer, element repair).
  uint64_t repair_bytes() const {
    uint64_t b = 0;
    for (auto kind : {"recon_request", "recon_buckets", "state_push", "full_sync_request", "full_sync_chunk",
                      "set_recon_request", "set_recon_answer"})
      b += bytes_of(kind);
    return b;
  }
  // Called with each message a node sends (before loss, partitions and blocks apply).
  void observe_sends(std::function<void(size_t from, const message&)> fn) { observer_ = std::move(fn); }
  void reset_counters() {
    for (node& n : nodes_) n.bytes_sent = n.messages_sent = 0;
    bytes_by_kind_.clear();
    messages_by_kind_.clear();
    largest_by_kind_.clear();
  }

 private:
  struct flight {
    uint64_t at;
    uint64_t order;
    size_t from;
    size_t to;
    std::string bytes;
    node_id sender = 0;  // the sender's id when it sent (a wiped node's later id is another node's)
    bool operator>(const flight& o) const { return std::tie(at, order) > std::tie(o.at, o.order); }
  };

  std::unique_ptr<persistence::memory_store> make_store() {
    persistence::memory_store::config c;
    c.node_id = rng_() | 1;
    return std::make_unique<persistence::memory_store>(c);
  }

  size_t add_node_slot() {
    node n;
    n.store = make_store();
    n.address = "n" + std::to_string(nodes_.size());
    nodes_.push_back(std::move(n));
    if (!group_.empty()) group_.push_back(group_.back());
    return nodes_.size() - 1;
  }

  std::vector<std::string> seeds(size_t except = SIZE_MAX) const {
    std::vector<std::string> s;
    for (size_t i = 0; i < nodes_.size() && s.size() < 3; ++i)
      if (i != except) s.push_back(nodes_[i].address);
    return s;
  }

  void boot(size_t i, std::vector<std::string> seed_addrs) {
    node& n = nodes_[i];
    n.rep = std::make_unique<replica>(*n.store, n.address, cfg_.replica, rng_());
    auto st = n.rep->load(now_);
    if (!st) throw std::runtime_error("load failed: " + st.err().describe());
    n.up = true;
    n.rep->start(seed_addrs, now_);
    process(i);
  }

  std::optional<size_t> index_of(node_id id) const {
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (nodes_[i].up && nodes_[i].rep->id() == id) return i;
    return std::nullopt;
  }
  std::optional<size_t> index_of(const std::string& address) const {
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (nodes_[i].address == address) return i;
    return std::nullopt;
  }

  void commit_due(size_t i) {
    node& n = nodes_[i];
    while (n.up && !n.uncommitted.empty() && n.uncommitted.front().commit_at <= now_) {
      auto b = std::move(n.uncommitted.front());
      n.uncommitted.pop_front();
      auto st = n.store->commit(b.batch.batch);
      if (!st) {
        n.rep->commit_failed(b.batch.id, st.err());
      } else {
        n.rep->committed(b.batch.id);
      }
      drain(i);
    }
  }

  // Moves a node's ready output into the world.
  void process(size_t i) {
    if (cfg_.eager_push && nodes_[i].up && !in_burst_) nodes_[i].rep->push_now(now_);
    drain(i);
    commit_due(i);
  }

  void drain(size_t i) {
    node& n = nodes_[i];
    if (!n.up) return;
    for (int guard = 0; guard < 1000; ++guard) {
      ready r = n.rep->take_ready();
      if (r.empty()) return;
      for (auto& b : r.batches) n.uncommitted.push_back({std::move(b), now_ + cfg_.commit_delay_ms});
      for (auto& m : r.messages) send(i, std::move(m));
      for (auto& rep : r.replies) {
        auto it = n.callbacks.find(rep.request);
        if (it == n.callbacks.end()) continue;
        auto fn = std::move(it->second);
        n.callbacks.erase(it);
        if (fn) fn(rep);
      }
      if (cfg_.commit_delay_ms == 0) {
        while (!n.uncommitted.empty()) {
          auto b = std::move(n.uncommitted.front());
          n.uncommitted.pop_front();
          auto st = n.store->commit(b.batch.batch);
          if (!st) n.rep->commit_failed(b.batch.id, st.err());
          else n.rep->committed(b.batch.id);
        }
      }
    }
  }

  void send(size_t from, outgoing o) {
    std::optional<size_t> to = o.to ? index_of(o.to) : index_of(o.address);
    std::string bytes = encode_message(o.msg);
    nodes_[from].bytes_sent += bytes.size();
    nodes_[from].messages_sent += 1;
    bytes_by_kind_[replication::kind_name(o.msg)] += bytes.size();
    messages_by_kind_[replication::kind_name(o.msg)] += 1;
    uint64_t& largest = largest_by_kind_[replication::kind_name(o.msg)];
    largest = std::max<uint64_t>(largest, bytes.size());
    if (observer_) observer_(from, o.msg);
    if (!to) return;  // unknown or down: the packet goes nowhere
    if (!group_.empty() && group_[from] != group_[*to]) return;
    if (blocked_.count({from, *to})) return;
    if (!dropped_kinds_.empty() && dropped_kinds_.count({*to, replication::kind_name(o.msg)})) return;
    std::uniform_real_distribution<double> u(0, 1);
    if (u(rng_) < cfg_.loss) return;
    int copies = u(rng_) < cfg_.duplicate ? 2 : 1;
    for (int c = 0; c < copies; ++c) {
      uint64_t lat = cfg_.min_latency_ms + rng_() % (cfg_.max_latency_ms - cfg_.min_latency_ms + 1);
      wire_.push(flight{now_ + lat, order_++, from, *to, bytes, nodes_[from].rep->id()});
    }
  }

  // Hands `f` to its receiver; returns whether it got it. Processes the receiver's output unless
  // mailbox_bursts (then the caller does, once per millisecond).
  bool deliver(const flight& f) {
    node& n = nodes_[f.to];
    if (!n.up || !nodes_[f.from].up) return false;
    if (!group_.empty() && group_[f.from] != group_[f.to]) return false;
    if (blocked_.count({f.from, f.to})) return false;
    auto m = decode_message(f.bytes);
    if (!m) throw std::runtime_error("wire decode failed: " + m.err().describe());
    // From the identity that sent it: a message still in flight when its sender's disk was wiped
    // comes from the old node (as over its old connection), not from the new one at that address.
    n.rep->receive(f.sender, *m, now_);
    if (!cfg_.mailbox_bursts) process(f.to);
    return true;
  }

  std::mt19937_64 rng_;
  sim_config cfg_;
  std::vector<node> nodes_;
  std::vector<size_t> group_;
  std::set<std::pair<size_t, size_t>> blocked_;  // one-way links that drop everything
  std::set<std::pair<size_t, std::string>> dropped_kinds_;  // (to, kind): lost
  std::priority_queue<flight, std::vector<flight>, std::greater<flight>> wire_;
  uint64_t now_ = 1'700'000'000'000;  // virtual wall clock (ms), so HLC physical parts look real
  uint64_t order_ = 0;
  uint64_t request_ = 0;
  std::map<std::string, uint64_t> bytes_by_kind_;
  std::map<std::string, uint64_t> messages_by_kind_;
  std::map<std::string, uint64_t> largest_by_kind_;
  std::function<void(size_t, const message&)> observer_;
  bool in_burst_ = false;
};

}  // namespace rumor::sim
