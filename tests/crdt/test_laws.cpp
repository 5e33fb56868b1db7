// The shared CRDT property suite (riak_dt style), instantiated for every type:
//   join commutative / associative / idempotent; delta soundness; convergence under random
//   delivery order with duplicates and state transfers, checked against the sequential model
//   where one exists; encode/decode round trip.
// Seeded: RUMOR_SEED=<n> reproduces a run; the seed is printed.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include "crdt/codec.hpp"
#include "crdt/utf8.hpp"
#include "crdt/value.hpp"
#include "seed.hpp"

using namespace rumor;
using namespace rumor::crdt;

namespace {

using rng_t = std::mt19937_64;

uint64_t pick(rng_t& rng, uint64_t n) { return rng() % n; }

// One mutation as the model sees it.
struct op {
  int id = 0;
  std::string kind;        // "add", "remove", "clear", "inc", "write", ...
  std::string arg;         // element / value
  int64_t amount = 0;      // counter change
  dot new_dot;             // the dot the mutation created (if any)
  hlc_timestamp ts;        // lww writes
  std::set<int> observed;  // ids of ops delivered to the replica before this op
};

std::string elem(rng_t& rng) { return std::string(1, static_cast<char>('a' + pick(rng, 5))); }

template <class T>
dot created_dot(const T& delta) {
  dot d;
  delta.store().for_each_dot([&](const dot& x) { d = std::max(d, x); });
  return d;
}

template <class T>
struct traits;

template <>
struct traits<g_counter> {
  static g_counter mutate(g_counter& x, node_id self, rng_t& rng, op& o, hlc_timestamp) {
    o.kind = "inc";
    o.amount = static_cast<int64_t>(pick(rng, 10));
    return *x.increment(self, static_cast<uint64_t>(o.amount));
  }
  static void check_model(const g_counter& s, const std::vector<op>& ops) {
    uint64_t sum = 0;
    for (const op& o : ops) sum += static_cast<uint64_t>(o.amount);
    CHECK(s.value() == sum);
  }
};

template <>
struct traits<pn_counter> {
  static pn_counter mutate(pn_counter& x, node_id self, rng_t& rng, op& o, hlc_timestamp) {
    o.kind = "add";
    o.amount = static_cast<int64_t>(pick(rng, 21)) - 10;
    return *x.add(self, o.amount);
  }
  static void check_model(const pn_counter& s, const std::vector<op>& ops) {
    int64_t sum = 0;
    for (const op& o : ops) sum += o.amount;
    CHECK(s.value() == sum);
  }
};

// Writes that no other write observed; the survivors of a causal register.
std::vector<const op*> unobserved_writes(const std::vector<op>& ops) {
  std::set<int> seen;
  for (const op& o : ops) seen.insert(o.observed.begin(), o.observed.end());
  std::vector<const op*> out;
  for (const op& o : ops)
    if (!seen.count(o.id)) out.push_back(&o);
  return out;
}

template <>
struct traits<lww_register> {
  static lww_register mutate(lww_register& x, node_id self, rng_t& rng, op& o, hlc_timestamp ts) {
    o.kind = "write";
    o.arg = "v" + std::to_string(pick(rng, 1000));
    o.ts = ts;
    return x.assign(self, ts, o.arg);
  }
  static void check_model(const lww_register& s, const std::vector<op>& ops) {
    auto live = unobserved_writes(ops);
    if (live.empty()) {
      CHECK_FALSE(s.read().has_value());
      return;
    }
    auto best = *std::max_element(live.begin(), live.end(), [](const op* a, const op* b) {
      return std::tie(a->ts, a->new_dot.node, a->new_dot.counter) < std::tie(b->ts, b->new_dot.node, b->new_dot.counter);
    });
    CHECK(s.read() == best->arg);
  }
};

template <>
struct traits<mv_register> {
  static mv_register mutate(mv_register& x, node_id self, rng_t& rng, op& o, hlc_timestamp) {
    o.kind = "write";
    o.arg = "v" + std::to_string(pick(rng, 1000));
    if (pick(rng, 2)) return x.assign(self, o.arg, x.read_context());
    return x.assign(self, o.arg);
  }
  static void check_model(const mv_register& s, const std::vector<op>& ops) {
    auto live = unobserved_writes(ops);
    std::sort(live.begin(), live.end(), [](const op* a, const op* b) { return a->new_dot < b->new_dot; });
    std::vector<std::string> expected;
    for (const op* o : live) expected.push_back(o->arg);
    CHECK(s.siblings() == expected);
  }
};

// Happened-before: the transitive closure of "observed" (delivery need not be causal, so a
// replica may have seen an op without the ops that op had seen).
std::vector<std::set<int>> causal_past(const std::vector<op>& ops) {
  std::vector<std::set<int>> past(ops.size());
  for (const op& o : ops) {  // ops are in id order and only observe earlier ids
    for (int x : o.observed) {
      past[o.id].insert(x);
      past[o.id].insert(past[x].begin(), past[x].end());
    }
  }
  return past;
}

// Add-wins: e is present iff some add(e) happened before no remove(e) / clear.
std::set<std::string> add_wins_model(const std::vector<op>& ops) {
  auto past = causal_past(ops);
  std::set<std::string> present;
  for (const op& a : ops) {
    if (a.kind != "add") continue;
    bool removed = false;
    for (const op& r : ops)
      if ((r.kind == "clear" || (r.kind == "remove" && r.arg == a.arg)) && past[r.id].count(a.id)) removed = true;
    if (!removed) present.insert(a.arg);
  }
  return present;
}

template <>
struct traits<or_set> {
  static or_set mutate(or_set& x, node_id self, rng_t& rng, op& o, hlc_timestamp) {
    o.arg = elem(rng);
    auto r = pick(rng, 10);
    if (r < 6) {
      o.kind = "add";
      return x.add(self, o.arg);
    }
    if (r < 9) {
      o.kind = "remove";
      return x.remove(o.arg);
    }
    o.kind = "clear";
    return x.clear();
  }
  static void check_model(const or_set& s, const std::vector<op>& ops) {
    auto expected = add_wins_model(ops);
    CHECK(s.elements() == std::vector<std::string>(expected.begin(), expected.end()));
  }
};

template <>
struct traits<ew_flag> {
  static ew_flag mutate(ew_flag& x, node_id self, rng_t& rng, op& o, hlc_timestamp) {
    o.arg = "flag";
    if (pick(rng, 3) < 2) {
      o.kind = "add";
      return x.enable(self);
    }
    o.kind = "remove";
    return x.disable();
  }
  static void check_model(const ew_flag& s, const std::vector<op>& ops) {
    CHECK(s.value() == (add_wins_model(ops).count("flag") > 0));
  }
};

// A splice at a random position; every inserted codepoint is unique (U+4E00 + 4 × op id + k), so
// the model can tell them apart. o.arg = inserted + '\x01' + the codepoints it deleted.
template <>
struct traits<text> {
  static text mutate(text& x, node_id self, rng_t& rng, op& o, hlc_timestamp) {
    o.kind = "splice";
    uint64_t pos = pick(rng, x.size() + 1);
    uint64_t del = pick(rng, 3) == 0 ? pick(rng, x.size() - pos + 1) : 0;
    std::string ins;
    for (uint64_t k = 0, n = pick(rng, 4); k < n; ++k) utf8_append(ins, static_cast<char32_t>(0x4E00 + 4 * o.id + k));
    if (ins.empty() && del == 0) utf8_append(ins, static_cast<char32_t>(0x4E00 + 4 * o.id));
    o.arg = ins + '\x01' + x.substr(pos, del);
    return *x.splice(self, pos, del, ins);
  }
  static void check_model(const text& s, const std::vector<op>& ops) {
    // Live = every inserted codepoint no splice deleted; each splice's run keeps its order.
    std::set<char32_t> live, gone;
    for (const op& o : ops) {
      auto cut = o.arg.find('\x01');
      std::u32string ins = *utf8_decode(o.arg.substr(0, cut)), del = *utf8_decode(o.arg.substr(cut + 1));
      live.insert(ins.begin(), ins.end());
      gone.insert(del.begin(), del.end());
    }
    for (char32_t c : gone) live.erase(c);
    auto content = *utf8_decode(s.str());
    CHECK(std::set<char32_t>(content.begin(), content.end()) == live);
    CHECK(content.size() == live.size());
    for (size_t i = 1; i < content.size(); ++i) {
      // Two codepoints of one splice: the earlier inserted stays first.
      if ((content[i] - 0x4E00) / 4 == (content[i - 1] - 0x4E00) / 4) CHECK(content[i - 1] < content[i]);
    }
  }
};

template <>
struct traits<or_map> {
  static or_map mutate(or_map& x, node_id self, rng_t& rng, op& o, hlc_timestamp ts) {
    std::string field = "f" + std::to_string(pick(rng, 3));
    o.kind = "map";
    switch (pick(rng, 8)) {
      case 0: return *x.update<pn_counter>(field, [&](pn_counter& c) { return c.add(self, static_cast<int64_t>(pick(rng, 9)) - 4); });
      case 1: return *x.update<or_set>(field, [&](or_set& s) { return s.add(self, elem(rng)); });
      case 2: return *x.update<or_set>(field, [&](or_set& s) { return s.remove(elem(rng)); });
      case 3: return *x.update<lww_register>(field, [&](lww_register& r) { return r.assign(self, ts, elem(rng)); });
      case 4: return *x.update<ew_flag>(field, [&](ew_flag& f) { return pick(rng, 2) ? f.enable(self) : f.disable(); });
      case 5:
        return *x.update<or_map>("nested", [&](or_map& m) {
          return m.update<or_set>(field, [&](or_set& s) { return s.add(self, elem(rng)); });
        });
      case 6: return x.remove(field);
      default: {
        dot_context half = dot_context::of(std::vector<dot>{created_dot(x)});
        return x.remove(field, half);
      }
    }
  }
  static void check_model(const or_map&, const std::vector<op>&) {}  // equality only
};

// A small cluster of replicas of T exchanging deltas and states.
template <class T>
struct world {
  struct message {
    size_t to;
    T delta;
    std::set<int> ops;
  };

  rng_t rng;
  std::vector<node_id> ids;
  std::vector<T> replicas;
  std::vector<std::set<int>> delivered;
  std::vector<hlc_clock> clocks;
  std::vector<op> ops;
  std::vector<message> in_flight;
  uint64_t now_ms = 1'000'000;
  bool causal = false;  // deliver deltas only in causal order (random among the ready ones)
  std::vector<T> deltas;  // every delta made, for the "join of all deltas" check

  world(uint64_t seed, size_t n, bool causal_delivery = false)
      : rng(seed), replicas(n), delivered(n), clocks(n), causal(causal_delivery) {
    for (size_t i = 0; i < n; ++i) ids.push_back(pick(rng, 2) ? i + 1 : rng() | 1);  // small and 64-bit ids
  }

  // One mutation at a random replica; returns (before, delta, replica index).
  std::tuple<T, T, size_t> mutate() {
    size_t r = pick(rng, replicas.size());
    T before = replicas[r];
    op o;
    o.id = static_cast<int>(ops.size());
    o.observed = delivered[r];
    now_ms += pick(rng, 3);
    auto ts = clocks[r].now(now_ms + pick(rng, 50));
    T delta = traits<T>::mutate(replicas[r], ids[r], rng, o, ts);
    o.new_dot = created_dot(delta);
    delivered[r].insert(o.id);
    ops.push_back(o);
    deltas.push_back(delta);
    for (size_t to = 0; to < replicas.size(); ++to) {
      if (to == r) continue;
      int copies = 1 + static_cast<int>(pick(rng, 3) == 0);  // duplicates
      for (int c = 0; c < copies; ++c) in_flight.push_back({to, delta, {o.id}});
    }
    return {std::move(before), std::move(delta), r};
  }

  // Picks a random in-flight message; with causal delivery only one whose op's causal past the
  // receiver already has (duplicates of delivered ops are always deliverable).
  size_t pick_message(size_t to_try) {
    size_t i = pick(rng, in_flight.size());
    if (!causal) return i;
    for (size_t k = 0; k < to_try; ++k, i = (i + 1) % in_flight.size()) {
      const message& m = in_flight[i];
      int id = *m.ops.begin();
      const auto& have = delivered[m.to];
      if (have.count(id) ||
          std::includes(have.begin(), have.end(), ops[id].observed.begin(), ops[id].observed.end()))
        return i;
    }
    return in_flight.size();
  }

  void deliver_one() {
    if (in_flight.empty()) return;
    size_t i = pick_message(in_flight.size());  // random order
    if (i == in_flight.size()) return;
    message m = std::move(in_flight[i]);
    in_flight[i] = std::move(in_flight.back());
    in_flight.pop_back();
    replicas[m.to].join(m.delta);
    delivered[m.to].insert(m.ops.begin(), m.ops.end());
    observe_clock(m.to, m.delta);
  }

  void state_transfer() {
    size_t from = pick(rng, replicas.size()), to = pick(rng, replicas.size());
    replicas[to].join(replicas[from]);
    delivered[to].insert(delivered[from].begin(), delivered[from].end());
    observe_clock(to, replicas[from]);
  }

  // Receiving an lww write advances the receiver's HLC past it (as the node runtime will).
  void observe_clock(size_t to, const T& v) {
    if constexpr (std::is_same_v<T, lww_register>) {
      for (const auto& [d, e] : v.store().entries()) (void)clocks[to].update(e.timestamp, now_ms + 1000);
    }
  }

  void step() {
    auto r = pick(rng, 10);
    if (r < 4) mutate();
    else if (r < 9) deliver_one();
    else state_transfer();
  }

  void quiesce() {
    while (!in_flight.empty()) deliver_one();  // causal mode: the oldest op is always ready
  }
};

template <class T>
T joined(T a, const T& b) {
  a.join(b);
  return a;
}

constexpr int law_rounds = 300;
constexpr int convergence_rounds = 400;

}  // namespace

#define RUMOR_CRDT_TYPES g_counter, pn_counter, lww_register, mv_register, or_set, or_map, ew_flag, text

TEST_CASE_TEMPLATE("laws: join is commutative, associative and idempotent", T, RUMOR_CRDT_TYPES) {
  uint64_t seed = test::seed_for("join laws");
  INFO("RUMOR_SEED=" << seed);
  rng_t master(seed);
  for (int round = 0; round < law_rounds; ++round) {
    world<T> w(master(), 3);
    for (int i = 0, n = static_cast<int>(pick(w.rng, 40)); i < n; ++i) w.step();
    const T& a = w.replicas[0];
    const T& b = w.replicas[1];
    const T& c = w.replicas[2];
    CHECK(joined(a, b) == joined(b, a));
    CHECK(joined(joined(a, b), c) == joined(a, joined(b, c)));
    CHECK(joined(a, a) == a);
    CHECK(joined(joined(a, b), b) == joined(a, b));
    CHECK(joined(a, T{}) == a);  // bottom is the identity
  }
}

TEST_CASE_TEMPLATE("laws: delta soundness — state ⊔ delta = mutated state, in any replica that has the old state", T, RUMOR_CRDT_TYPES) {
  uint64_t seed = test::seed_for("delta soundness");
  INFO("RUMOR_SEED=" << seed);
  rng_t master(seed);
  for (int round = 0; round < law_rounds; ++round) {
    world<T> w(master(), 3);
    for (int i = 0, n = static_cast<int>(pick(w.rng, 30)); i < n; ++i) w.step();
    auto [before, delta, r] = w.mutate();
    const T& after = w.replicas[r];
    CHECK(joined(before, delta) == after);
    // Any replica that already contains `before`.
    T other = joined(before, w.replicas[(r + 1) % 3]);
    CHECK(joined(other, delta) == joined(other, after));
    // The delta is no bigger than the state it came from.
    CHECK(delta.context().dot_count() <= after.context().dot_count());
  }
}

TEST_CASE_TEMPLATE("laws: convergence under reordering, duplication and state transfer, matching the model", T, RUMOR_CRDT_TYPES) {
  uint64_t seed = test::seed_for("convergence");
  INFO("RUMOR_SEED=" << seed);
  rng_t master(seed);
  for (int round = 0; round < convergence_rounds; ++round) {
    // Even rounds: any delivery order. Odd rounds: causal order (random among ready messages),
    // where the sequential model's happened-before is what every replica saw.
    bool causal = round % 2 == 1;
    size_t n = 2 + pick(master, 4);
    world<T> w(master(), n, causal);
    for (int i = 0, steps = 20 + static_cast<int>(pick(w.rng, 120)); i < steps; ++i) w.step();
    w.quiesce();
    for (size_t i = 1; i < n; ++i) CHECK(w.replicas[i] == w.replicas[0]);
    // The converged state is the join of every delta, in whatever order they travelled.
    T all;
    for (const T& d : w.deltas) all.join(d);
    CHECK(all == w.replicas[0]);
    if (causal) traits<T>::check_model(w.replicas[0], w.ops);
  }
}

TEST_CASE_TEMPLATE("laws: encode/decode round trip of states and deltas", T, RUMOR_CRDT_TYPES) {
  uint64_t seed = test::seed_for("codec round trip");
  INFO("RUMOR_SEED=" << seed);
  rng_t master(seed);
  for (int round = 0; round < law_rounds; ++round) {
    world<T> w(master(), 3);
    for (int i = 0, n = static_cast<int>(pick(w.rng, 40)); i < n; ++i) w.step();
    auto [before, delta, r] = w.mutate();
    for (const T* x : {&w.replicas[0], &w.replicas[1], &w.replicas[2], &delta, &before}) {
      auto bytes = encode(value{*x});
      auto back = decode(bytes);
      INFO((back ? std::string() : back.err().message));
      REQUIRE(back.has_value());
      REQUIRE(back->type() == T::tag);
      CHECK(*back->template get_if<T>() == *x);
      CHECK(encode(*back) == bytes);  // canonical encoding
    }
    auto ctx = decode_context(encode_context(w.replicas[r].context()));
    REQUIRE(ctx.has_value());
    CHECK(*ctx == w.replicas[r].context());
  }
}
