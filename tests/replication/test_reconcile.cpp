// Reconciliation building blocks: iblt (decode round trips, success rates, never a wrong answer,
// from_cells validation) and bucket_digests (incremental = recomputed, order independence, IBLT of
// two stores finds exactly the differing buckets).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "replication/bucket_digests.hpp"
#include "replication/iblt.hpp"
#include "seed.hpp"

using namespace rumor;
using namespace rumor::replication;

namespace {

using pair_list = std::vector<std::pair<uint32_t, uint64_t>>;

struct trial_outcome {
  bool decoded = false;
  bool correct = false;  // meaningful only when decoded
};

// Two sets sharing `shared` random pairs plus a random symmetric difference of `d` pairs (about
// half of them as same-id/different-digest couples, like a bucket whose digest differs on both
// sides). Builds both tables with `cells` cells, ships A's through from_cells, subtracts B's and
// decodes.
trial_outcome round_trip(size_t d, size_t shared, size_t cells, std::mt19937_64& rng) {
  iblt a(cells);
  for (size_t i = 0; i < shared; ++i) a.insert(static_cast<uint32_t>(rng()), rng());
  iblt b = a;
  pair_list here, there;
  std::bernoulli_distribution coin(0.5);
  for (size_t left = d; left > 0;) {
    const auto id = static_cast<uint32_t>(rng());
    if (left >= 2 && coin(rng)) {
      here.emplace_back(id, rng());
      there.emplace_back(id, rng());
      left -= 2;
    } else {
      (coin(rng) ? here : there).emplace_back(id, rng());
      left -= 1;
    }
  }
  for (auto [id, dg] : here) a.insert(id, dg);
  for (auto [id, dg] : there) b.insert(id, dg);

  auto received = iblt::from_cells(a.cells());
  REQUIRE(received);
  received->subtract(b);
  auto diff = received->decode();
  trial_outcome out;
  if (!diff) return out;
  out.decoded = true;
  std::sort(here.begin(), here.end());
  std::sort(there.begin(), there.end());
  out.correct = diff->only_here == here && diff->only_there == there;
  return out;
}

struct rate {
  size_t trials = 0, decoded = 0, wrong = 0;
  double success() const { return trials ? double(decoded - wrong) / double(trials) : 0.0; }
};

rate measure(size_t d, size_t cells, size_t trials, std::mt19937_64& rng) {
  rate r;
  std::uniform_int_distribution<size_t> small_shared(0, 1000);
  for (size_t t = 0; t < trials; ++t) {
    // Shared pairs cancel exactly; every 25th trial uses 10^5 of them to show it.
    const size_t shared = t % 25 == 0 ? 100000 : small_shared(rng);
    auto o = round_trip(d, shared, cells, rng);
    ++r.trials;
    if (o.decoded) {
      ++r.decoded;
      if (!o.correct) ++r.wrong;
    }
  }
  return r;
}

std::string random_value(std::mt19937_64& rng) {
  std::string v(1 + rng() % 24, '\0');
  for (char& c : v) c = static_cast<char>(rng());
  return v;
}

// A toy store: storage key -> encoded value.
using store = std::map<std::string, std::string>;

bucket_digests recompute(const store& s, unsigned bits, std::mt19937_64& rng) {
  std::vector<std::pair<std::string, std::string>> entries(s.begin(), s.end());
  std::shuffle(entries.begin(), entries.end(), rng);
  bucket_digests out(bits);
  for (auto& [k, v] : entries) out.apply(k, std::nullopt, bucket_digests::value_hash(v));
  return out;
}

// Applies put (value) or delete (nullopt) to both the store and its digests.
void write(store& s, bucket_digests& dg, const std::string& key, std::optional<std::string> value) {
  std::optional<uint64_t> old_hash, new_hash;
  if (auto it = s.find(key); it != s.end()) old_hash = bucket_digests::value_hash(it->second);
  if (value) {
    new_hash = bucket_digests::value_hash(*value);
    s[key] = *value;
  } else {
    s.erase(key);
  }
  dg.apply(key, old_hash, new_hash);
}

}  // namespace

TEST_CASE("iblt: round trips decode exactly — success rates per difference size") {
  const uint64_t seed = test::seed_for("iblt round trips");
  INFO("RUMOR_SEED=" << seed);
  std::mt19937_64 rng(seed);

  struct row {
    size_t d, trials;
    double min_rate;
  };
  // Bounds are below the measured rates (k = 4, 1.5·d + 32 cells; 2000-5000 trials each):
  // d = 0..2: 100%; d = 5..100: 99.7-99.9%; d ≥ 1000: 100%.
  const std::vector<row> rows = {{0, 500, 1.0},    {1, 2000, 1.0},   {2, 2000, 0.98},
                                 {5, 2000, 0.98},  {10, 2000, 0.99}, {100, 2000, 0.99},
                                 {1000, 300, 0.99}, {10000, 40, 0.99}};
  std::string figures = "iblt figures (k = 4, cells = iblt_cells_for(d), 32 B per cell):\n";
  for (const row& r : rows) {
    const size_t cells = iblt_cells_for(r.d);
    const rate m = measure(r.d, cells, r.trials, rng);
    INFO("d = " << r.d << ", cells = " << cells << ", decoded " << m.decoded << "/" << m.trials);
    CHECK(m.wrong == 0);  // a decoded difference is always exactly right
    CHECK(m.success() >= r.min_rate);
    char line[160];
    std::snprintf(line, sizeof line, "  d = %5zu: %6zu cells = %8zu B, decoded %zu/%zu = %.2f%%\n", r.d,
                  cells, cells * sizeof(iblt_cell), m.decoded, m.trials, 100.0 * m.success());
    figures += line;
  }
  MESSAGE(figures);
}

TEST_CASE("iblt: an over-full table returns nullopt, never a wrong answer") {
  const uint64_t seed = test::seed_for("iblt over-full");
  INFO("RUMOR_SEED=" << seed);
  std::mt19937_64 rng(seed);
  const size_t cells = iblt_cells_for(10);  // 48 cells
  size_t decoded_total = 0;
  for (size_t d : {30, 40, 60, 100, 1000}) {
    rate m = measure(d, cells, 400, rng);
    INFO("d = " << d << " in " << cells << " cells: decoded " << m.decoded);
    CHECK(m.wrong == 0);
    if (d > cells) CHECK(m.decoded == 0);  // cannot peel more pairs than cells
    decoded_total += m.decoded;
  }
  MESSAGE("over-full (48 cells): " << decoded_total << " of 2000 decodes succeeded (all exact), the "
                                   "rest returned nullopt");
}

TEST_CASE("iblt: garbage cells never decode to something") {
  const uint64_t seed = test::seed_for("iblt garbage");
  INFO("RUMOR_SEED=" << seed);
  std::mt19937_64 rng(seed);
  for (int t = 0; t < 2000; ++t) {
    std::vector<iblt_cell> cs(iblt_cells_for(rng() % 50));
    for (auto& c : cs) {
      c.count = static_cast<int64_t>(rng() % 5) - 2;
      c.id_sum = rng() % 2 ? rng() & 0xffffffffu : rng();
      c.digest_sum = rng();
      c.hash_sum = rng();
    }
    auto t_or = iblt::from_cells(std::move(cs));
    REQUIRE(t_or);
    CHECK_FALSE(t_or->decode());
  }
}

TEST_CASE("iblt: multisets, erase, empty table") {
  iblt t(64);
  CHECK(t.decode() == iblt::difference{});
  t.insert(7, 70);
  t.insert(7, 70);
  CHECK_FALSE(t.decode());  // a pair twice is not a set
  t.erase(7, 70);
  auto one = t.decode();
  REQUIRE(one);
  CHECK(one->only_here == pair_list{{7, 70}});
  CHECK(one->only_there.empty());
  t.erase(7, 70);
  t.erase(8, 80);
  auto neg = t.decode();
  REQUIRE(neg);
  CHECK(neg->only_here.empty());
  CHECK(neg->only_there == pair_list{{8, 80}});
}

TEST_CASE("iblt: subtract is directional") {
  iblt a(40), b(40);
  a.insert(1, 10);
  a.insert(2, 20);
  b.insert(2, 20);
  b.insert(3, 30);
  iblt ab = a, ba = b;
  ab.subtract(b);
  ba.subtract(a);
  auto x = ab.decode(), y = ba.decode();
  REQUIRE(x);
  REQUIRE(y);
  CHECK(x->only_here == pair_list{{1, 10}});
  CHECK(x->only_there == pair_list{{3, 30}});
  CHECK(y->only_here == x->only_there);
  CHECK(y->only_there == x->only_here);
}

TEST_CASE("iblt: sizes and from_cells validation") {
  CHECK(iblt(0).cells().size() == 4);
  CHECK(iblt(1).cells().size() == 4);
  CHECK(iblt(5).cells().size() == 8);
  CHECK(iblt(iblt::max_cells).cells().size() == iblt::max_cells);
  CHECK(iblt(iblt::max_cells * 4).cells().size() == iblt::max_cells);
  for (size_t d : {0, 1, 2, 7, 100, 12345, 10000000}) {
    const size_t n = iblt_cells_for(d);
    CHECK(n % iblt::hash_count == 0);
    CHECK(n <= iblt::max_cells);
    if (d < 500000) CHECK(n >= d + d / 2);
    CHECK(iblt(n).cells().size() == n);
  }

  auto empty = iblt::from_cells({});
  REQUIRE_FALSE(empty);
  CHECK(empty.err().code == errc::invalid_argument);
  auto big = iblt::from_cells(std::vector<iblt_cell>(iblt::max_cells + 4));
  REQUIRE_FALSE(big);
  CHECK(big.err().code == errc::too_large);
  auto odd = iblt::from_cells(std::vector<iblt_cell>(6));
  REQUIRE_FALSE(odd);
  CHECK(odd.err().code == errc::invalid_argument);
  CHECK(iblt::from_cells(std::vector<iblt_cell>(4)));
  CHECK(iblt::from_cells(std::vector<iblt_cell>(iblt::max_cells)));

  iblt t(100);
  t.insert(1, 2);
  t.insert(3, 4);
  auto copy = iblt::from_cells(t.cells());
  REQUIRE(copy);
  CHECK(*copy == t);
}

TEST_CASE("bucket_digests: hashes and buckets") {
  CHECK(bucket_digests().bucket_count() == 65536);
  CHECK(bucket_digests(4).bucket_count() == 16);
  CHECK(bucket_digests::bucket_of("anything", 0) == 0);
  for (int i = 0; i < 1000; ++i) {
    const std::string k = "key-" + std::to_string(i);
    CHECK(bucket_digests::bucket_of(k, 10) < 1024u);
    CHECK(bucket_digests::bucket_of(k, 10) == bucket_digests::bucket_of(k, 16) >> 6);  // nested
  }
  const uint64_t v1 = bucket_digests::value_hash("v1"), v2 = bucket_digests::value_hash("v2");
  CHECK(v1 != v2);
  CHECK(bucket_digests::entry_hash("a", v1) != bucket_digests::entry_hash("b", v1));
  CHECK(bucket_digests::entry_hash("a", v1) != bucket_digests::entry_hash("a", v2));
  const std::string long_key(2000, 'x');  // longer than the stack buffer
  CHECK(bucket_digests::entry_hash(long_key, v1) != bucket_digests::entry_hash(long_key + "y", v1));
}

TEST_CASE("bucket_digests: incremental maintenance equals recomputation, in any order") {
  const uint64_t seed = test::seed_for("bucket_digests incremental");
  INFO("RUMOR_SEED=" << seed);
  std::mt19937_64 rng(seed);
  for (unsigned bits : {6u, 16u}) {
    INFO("bucket_bits = " << bits);
    store s;
    bucket_digests dg(bits);
    for (int op = 0; op < 20000; ++op) {
      const std::string key = "k" + std::to_string(rng() % 3000);
      write(s, dg, key, rng() % 4 == 0 ? std::nullopt : std::optional(random_value(rng)));
    }
    CHECK(dg == recompute(s, bits, rng));
    CHECK(recompute(s, bits, rng) == recompute(s, bits, rng));  // insertion order is irrelevant

    // Reloading persisted digests gives the same state.
    bucket_digests loaded(bits);
    for (uint32_t b = 0; b < dg.bucket_count(); ++b) loaded.set_digest(b, dg.digest(b));
    CHECK(loaded == dg);

    // Delete everything: all digests return to 0.
    std::vector<std::string> keys;
    for (auto& [k, v] : s) keys.push_back(k);
    std::shuffle(keys.begin(), keys.end(), rng);
    for (auto& k : keys) write(s, dg, k, std::nullopt);
    CHECK(dg.nonzero_buckets().empty());
  }
}

TEST_CASE("bucket_digests: equal contents, equal digests — one change, one bucket") {
  const uint64_t seed = test::seed_for("bucket_digests equality");
  INFO("RUMOR_SEED=" << seed);
  std::mt19937_64 rng(seed);
  store target;
  for (int i = 0; i < 5000; ++i) target["user/" + std::to_string(i)] = random_value(rng);

  // Two stores reach the same contents by different histories.
  store s1, s2;
  bucket_digests d1, d2;
  std::vector<std::pair<std::string, std::string>> entries(target.begin(), target.end());
  std::shuffle(entries.begin(), entries.end(), rng);
  for (auto& [k, v] : entries) write(s1, d1, k, v);
  std::shuffle(entries.begin(), entries.end(), rng);
  for (auto& [k, v] : entries) {
    write(s2, d2, k, random_value(rng));  // a detour through another value
    write(s2, d2, "tmp/" + k, v);         // and a key that is later deleted
  }
  for (auto& [k, v] : entries) {
    write(s2, d2, k, v);
    write(s2, d2, "tmp/" + k, std::nullopt);
  }
  REQUIRE(s1 == s2);
  CHECK(d1 == d2);

  for (int t = 0; t < 200; ++t) {
    bucket_digests changed = d1;
    store s = s1;
    const auto& key = entries[rng() % entries.size()].first;
    std::string v = random_value(rng);
    if (v == s[key]) v += "!";
    const uint64_t old_hash = bucket_digests::value_hash(s[key]);
    const uint32_t b = changed.apply(key, old_hash, bucket_digests::value_hash(v));
    CHECK(b == bucket_digests::bucket_of(key, 16));
    size_t differing = 0;
    for (uint32_t i = 0; i < changed.bucket_count(); ++i) differing += changed.digest(i) != d1.digest(i);
    CHECK(differing == 1);
    CHECK(changed.digest(b) != d1.digest(b));
  }
}

TEST_CASE("bucket_digests: the IBLT of two stores finds exactly the differing buckets") {
  const uint64_t seed = test::seed_for("bucket_digests iblt");
  INFO("RUMOR_SEED=" << seed);
  std::mt19937_64 rng(seed);
  store base;
  for (int i = 0; i < 20000; ++i) base["key/" + std::to_string(i)] = random_value(rng);
  bucket_digests base_dg = recompute(base, 16, rng);

  size_t trials = 0, decoded = 0;
  for (size_t d : {1, 2, 10, 100, 1000}) {
    for (int t = 0; t < 12; ++t) {
      INFO("d = " << d << ", trial " << t);
      // B differs from A in d keys: changed values, deletions and new keys.
      store sa = base, sb = base;
      bucket_digests a = base_dg, b = base_dg;
      std::set<std::string> changed;
      while (changed.size() < d) {
        const uint64_t r = rng();
        std::string key = r % 3 == 2 ? "new/" + std::to_string(rng()) : "key/" + std::to_string(rng() % 20000);
        if (!changed.insert(key).second) continue;
        if (r % 3 == 1 && sb.count(key)) {
          write(sb, b, key, std::nullopt);
        } else {
          std::string v = random_value(rng);
          if (sb.count(key) && sb[key] == v) v += "!";
          write(sb, b, key, v);
        }
      }
      std::set<uint32_t> expected;  // buckets whose digests differ
      for (uint32_t i = 0; i < a.bucket_count(); ++i) {
        if (a.digest(i) != b.digest(i)) expected.insert(i);
      }
      std::set<uint32_t> touched;
      for (auto& k : changed) touched.insert(bucket_digests::bucket_of(k, 16));
      CHECK(expected == touched);  // (a bucket could cancel out only with probability 2^-64)
      CHECK(expected.size() <= d);

      // Requester A sends its IBLT, sized for 2 pairs per differing bucket; responder B peels.
      const size_t cells = iblt_cells_for(2 * d);
      auto received = iblt::from_cells(a.to_iblt(cells).cells());
      REQUIRE(received);
      received->subtract(b.to_iblt(cells));
      auto diff = received->decode();
      ++trials;
      if (!diff) continue;
      ++decoded;
      std::set<uint32_t> found;
      for (auto [id, digest] : diff->only_here) {
        found.insert(id);
        CHECK(digest == a.digest(id));
        CHECK(digest != 0);
      }
      for (auto [id, digest] : diff->only_there) {
        found.insert(id);
        CHECK(digest == b.digest(id));
        CHECK(digest != 0);
      }
      CHECK(found == expected);
    }
  }
  MESSAGE("bucket_digests IBLT: decoded " << decoded << "/" << trials);
  CHECK(decoded >= trials - 2);
}

TEST_CASE("iblt: inconsistent cells (a pair in only some of its cells, or misplaced) do not decode") {
  iblt t(40);
  t.insert(5, 50);
  std::vector<size_t> used;
  for (size_t i = 0; i < t.cells().size(); ++i) {
    if (t.cells()[i] != iblt_cell{}) used.push_back(i);
  }
  REQUIRE(used.size() == iblt::hash_count);
  for (size_t keep = 1; keep < iblt::hash_count; ++keep) {
    std::vector<iblt_cell> cs = t.cells();
    for (size_t j = keep; j < used.size(); ++j) cs[used[j]] = iblt_cell{};
    auto partial = iblt::from_cells(std::move(cs));
    REQUIRE(partial);
    CHECK_FALSE(partial->decode());  // terminates, and refuses
  }
  // The pair's cell content, alone, in another cell of the same sub-table.
  std::vector<iblt_cell> cs(t.cells().size());
  const size_t m = cs.size() / iblt::hash_count;
  const size_t wrong = used[0] / m * m + (used[0] % m + 1) % m;
  cs[wrong] = t.cells()[used[0]];
  auto moved = iblt::from_cells(std::move(cs));
  REQUIRE(moved);
  CHECK_FALSE(moved->decode());
}
