// overlay (one write-behind layer) against a std::map model: random puts, erases, rewrites of
// growing and shrinking size, delta appends and truncations, interleaved with point lookups,
// ordered range reads (collect, which merges the runs built so far) and full ordered views. The
// seed is printed; RUMOR_SEED=<n> replays a run.

#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "persistence/overlay.hpp"
#include "test_util.hpp"

using namespace rumor;
using namespace rumor::persistence;

namespace {

using record_model = std::map<std::string, std::optional<std::string>>;  // nullopt = erased

std::string random_bytes(std::mt19937_64& rng, std::size_t max) {
  std::string s(rng() % (max + 1), '\0');
  for (auto& c : s) c = static_cast<char>('a' + rng() % 26);
  return s;
}

void check_range(const overlay::keyed& k, const record_model& m, const std::string& from, const std::string& to,
                 std::size_t limit) {
  std::vector<std::pair<std::string, std::optional<std::string>>> got;
  const bool complete = k.collect(from, [&](std::string_view key) { return key >= to; }, limit, got);
  std::vector<std::pair<std::string, std::optional<std::string>>> want;
  for (auto it = m.lower_bound(from); it != m.end() && it->first < to; ++it) want.emplace_back(*it);
  if (want.size() > limit) {
    CHECK_FALSE(complete);
    want.resize(limit);
  } else {
    CHECK(complete);
  }
  CHECK(got == want);
}

// The state below a layer, for overlay::count.
struct below_model {
  std::set<std::string> values, meta;
  std::set<std::pair<uint64_t, uint64_t>> deltas;
  mutable int asked = 0;
  bool visible(overlay::family f, std::string_view key, uint64_t origin, uint64_t seq) const {
    ++asked;
    switch (f) {
      case overlay::family::value:
        return values.count(std::string{key}) > 0;
      case overlay::family::meta:
        return meta.count(std::string{key}) > 0;
      case overlay::family::delta:
        return deltas.count({origin, seq}) > 0;
    }
    return false;
  }
  int64_t deltas_upto(uint64_t origin, uint64_t bound) const {
    return std::distance(deltas.lower_bound({origin, 0}), deltas.upper_bound({origin, bound}));
  }
};

}  // namespace

TEST_CASE("overlay: lookups, ordered reads and deltas match a std::map model under random operations") {
  const uint64_t seed = test::test_seed("overlay model");
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 20; ++round) {
    overlay o;
    record_model values, meta;
    std::map<std::pair<uint64_t, uint64_t>, std::string> deltas;
    std::map<uint64_t, uint64_t> bounds;
    const int keyspace = 1 + static_cast<int>(rng() % 400);
    const int steps = 50 + static_cast<int>(rng() % 3000);
    below_model below;
    for (int i = 0; i < keyspace; ++i) {
      if (rng() % 2) below.values.insert("k" + std::to_string(i));
      if (rng() % 3 == 0) below.meta.insert("k" + std::to_string(i));
    }
    for (uint64_t origin = 1; origin <= 3; ++origin)
      for (uint64_t seq = 1; seq <= 200; ++seq)
        if (rng() % 2) below.deltas.insert({origin, seq});
    // The layer's effect on the counts, from the models: visible through it minus visible below.
    auto check_count = [&] {
      int64_t want_values = 0, want_meta = 0, want_deltas = 0;
      for (const auto& [k, d] : values) want_values += (d ? 1 : 0) - static_cast<int64_t>(below.values.count(k));
      for (const auto& [k, d] : meta) want_meta += (d ? 1 : 0) - static_cast<int64_t>(below.meta.count(k));
      std::set<std::pair<uint64_t, uint64_t>> through;
      for (const auto& k : below.deltas)
        if (!(bounds.count(k.first) && k.second <= bounds[k.first])) through.insert(k);
      for (const auto& [k, d] : deltas) through.insert(k);
      want_deltas = static_cast<int64_t>(through.size()) - static_cast<int64_t>(below.deltas.size());
      const auto e = o.count(below);
      CHECK(e.values == want_values);
      CHECK(e.meta == want_meta);
      CHECK(e.deltas == want_deltas);
      CHECK(o.unasked() == 0);
    };
    for (int step = 0; step < steps; ++step) {
      const std::string key = "k" + std::to_string(rng() % static_cast<uint64_t>(keyspace));
      if (rng() % 200 == 0) check_count();
      switch (rng() % 10) {
        case 0:
        case 1:
        case 2: {
          const std::string data = random_bytes(rng, rng() % 4 == 0 ? 3000 : 40);
          write_batch b;
          b.put_value(key, data);
          const auto prior = o.apply(b.op(0));
          const auto it = values.find(key);
          CHECK(prior == (it == values.end() ? overlay::state::unknown
                          : it->second       ? overlay::state::present
                                             : overlay::state::absent));
          values[key] = data;
          break;
        }
        case 3: {
          write_batch b;
          b.erase_value(key);
          o.apply(b.op(0));
          values[key] = std::nullopt;
          break;
        }
        case 4: {
          write_batch b;
          if (rng() % 3 == 0) {
            b.erase_meta(key);
            meta[key] = std::nullopt;
          } else {
            const std::string data = random_bytes(rng, 20);
            b.put_meta(key, data);
            meta[key] = data;
          }
          o.apply(b.op(0));
          break;
        }
        case 5: {
          const uint64_t origin = 1 + rng() % 3;
          const uint64_t seq = 1 + rng() % 200;
          const std::string data = random_bytes(rng, 30);
          write_batch b;
          b.append_delta(origin, seq, data);
          o.apply(b.op(0));
          deltas[{origin, seq}] = data;
          break;
        }
        case 6: {
          const uint64_t origin = 1 + rng() % 3;
          const uint64_t bound = rng() % 150;
          write_batch b;
          b.truncate_deltas(origin, bound);
          o.apply(b.op(0));
          deltas.erase(deltas.lower_bound({origin, 0}), deltas.upper_bound({origin, bound}));
          auto [t, fresh] = bounds.try_emplace(origin, bound);
          if (!fresh) t->second = std::max(t->second, bound);
          break;
        }
        case 7: {
          const auto a = o.value(key);
          const auto it = values.find(key);
          if (it == values.end()) {
            CHECK(a.s == overlay::state::unknown);
          } else if (!it->second) {
            CHECK(a.s == overlay::state::absent);
          } else {
            REQUIRE(a.s == overlay::state::present);
            CHECK(a.bytes == *it->second);
          }
          break;
        }
        case 8: {
          std::string from = "k" + std::to_string(rng() % static_cast<uint64_t>(keyspace));
          std::string to = from + random_bytes(rng, 2) + "~";
          if (rng() % 4 == 0) to = "l";  // to the end
          check_range(o.value_records(), values, from, to, 1 + rng() % 300);
          break;
        }
        case 9: {
          const uint64_t origin = 1 + rng() % 3;
          const uint64_t seq = 1 + rng() % 200;
          const auto a = o.delta(origin, seq);
          const auto it = deltas.find({origin, seq});
          if (it != deltas.end()) {
            REQUIRE(a.s == overlay::state::present);
            CHECK(a.bytes == it->second);
          } else if (bounds.count(origin) && seq <= bounds[origin]) {
            CHECK(a.s == overlay::state::absent);
          } else {
            CHECK(a.s == overlay::state::unknown);
          }
          break;
        }
      }
    }
    check_count();
    // Counted once: a second count asks nothing.
    const int asked = below.asked;
    check_count();
    CHECK(below.asked == asked);
    // The full ordered views and the layer written out as a batch.
    auto check_all = [](overlay::keyed::ordered v, const record_model& m) {
      REQUIRE(v.size() == m.size());
      std::size_t i = 0;
      for (const auto& [k, d] : m) {
        CHECK(v[i].key == k);
        CHECK(v[i].present == d.has_value());
        if (d) CHECK(v[i].bytes() == *d);
        ++i;
      }
    };
    check_all(o.values(), values);
    check_all(o.metas(), meta);
    CHECK(o.records() == values.size() + meta.size() + deltas.size());
    write_batch out;
    o.append_to(out);
    std::size_t appended = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
      const write_op op = out.op(i);
      if (op.kind != op_kind::append_delta) continue;
      REQUIRE(deltas.count({op.origin, op.seq}));
      CHECK(deltas[{op.origin, op.seq}] == op.data);
      ++appended;
    }
    CHECK(appended == deltas.size());
  }
}

TEST_CASE("overlay: the group filter never hides a record (keys sharing their first bytes, short keys, growth)") {
  // The index's filter has one bit per group of keys with the same first 3 bytes, rebuilt as the
  // index grows: every record put must still be found, and a key of a group no record belongs to
  // is answered "not mine".
  overlay o;
  std::vector<std::string> keys;
  for (uint32_t g = 0; g < 3000; ++g) {
    std::string prefix{static_cast<char>(g >> 16), static_cast<char>(g >> 8), static_cast<char>(g)};  // binary, like a hash
    for (char t = 1; t <= 3; ++t) keys.push_back(prefix + "user" + std::to_string(g) + '\0' + t);
  }
  keys.push_back("a");
  keys.push_back("ab");
  for (std::size_t i = 0; i < keys.size(); ++i) {
    write_batch b;
    b.put_value(keys[i], "v" + std::to_string(i));
    o.apply(b.op(0));
    if (i % 997 == 0)  // along the way, across rehashes: everything put so far is found
      for (std::size_t j = 0; j <= i; ++j) REQUIRE(o.value(keys[j]).s == overlay::state::present);
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto a = o.value(keys[i]);
    REQUIRE(a.s == overlay::state::present);
    CHECK(a.bytes == "v" + std::to_string(i));
  }
  CHECK(o.value("b").s == overlay::state::unknown);
  CHECK(o.value(std::string("a\0", 2)).s == overlay::state::unknown);
  std::string other{'\xff', '\xff', '\xff'};
  CHECK(o.value(other + "user").s == overlay::state::unknown);
}
