// The presence filter (persistence/presence_filter.hpp): reads of value keys the B-trees do not
// hold skip them, and no read of a key they hold ever answers "absent" — before the filter is
// built, after it is built at open (over several scan transactions), and for keys materialized,
// erased and put again after it was built.

#include "persistence/presence_filter.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <random>
#include <thread>

#include "persistence/lmdb_store.hpp"
#include "test_util.hpp"

using namespace rumor;
using namespace rumor::persistence;

namespace {

// A value key as the replica writes them: 3 bytes of hash, then the rest.
std::string key_of(uint64_t h, uint64_t n) {
  std::string k;
  k.push_back(static_cast<char>(h >> 16));
  k.push_back(static_cast<char>(h >> 8));
  k.push_back(static_cast<char>(h));
  k += "key-" + std::to_string(n);
  return k;
}

std::unique_ptr<lmdb_store> open_ok(const options& o) {
  auto s = lmdb_store::open(o);
  REQUIRE_MESSAGE(s.has_value(), s.err().describe());
  return std::move(*s);
}

// Bounded: the filter of a few hundred thousand keys is built in well under a second.
void wait_built(const lmdb_store& s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!s.presence_filter_built() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  REQUIRE(s.presence_filter_built());
}

void check_reads(const lmdb_store& s, const std::map<std::string, std::string>& model, std::mt19937_64& rng) {
  std::vector<std::string> asked;
  for (const auto& [k, v] : model) {
    auto got = s.get_value(k);
    REQUIRE(got.has_value());
    REQUIRE_MESSAGE(got->has_value(), "a stored key read as absent");
    CHECK(**got == v);
    if (rng() % 8 == 0) asked.push_back(k);
  }
  for (int i = 0; i < 2000; ++i) {
    std::string k = key_of(rng() & 0xffffff, 1'000'000 + rng() % 1'000'000);
    if (model.count(k)) continue;
    auto got = s.get_value(k);
    REQUIRE(got.has_value());
    CHECK_FALSE(got->has_value());
    asked.push_back(k);
  }
  auto many = s.get_values(asked);
  REQUIRE(many.size() == asked.size());
  for (std::size_t i = 0; i < asked.size(); ++i) {
    REQUIRE(many[i].has_value());
    auto it = model.find(asked[i]);
    CHECK(many[i]->has_value() == (it != model.end()));
    if (it != model.end() && many[i]->has_value()) CHECK(**many[i] == it->second);
  }
  auto st = s.stats();
  REQUIRE(st.has_value());
  CHECK(st->values == static_cast<int64_t>(model.size()));
}

}  // namespace

TEST_CASE("presence filter: answers absent only for a prefix never added, and only once built") {
  presence_filter f;
  const std::string a = key_of(0x123456, 1), b = key_of(0x123456, 2), c = key_of(0x123457, 1);
  CHECK(f.may_hold(a));  // not built: every key may be held
  CHECK_FALSE(f.built());
  f.add(a);
  f.mark_built();
  CHECK(f.built());
  CHECK(f.may_hold(a));
  CHECK(f.may_hold(b));  // the same 3-byte prefix: a false "maybe", never a false "absent"
  CHECK_FALSE(f.may_hold(c));
  CHECK_FALSE(f.may_hold(""));
  CHECK_FALSE(f.may_hold("x"));
  f.add("x");  // a key shorter than the prefix is zero-padded
  CHECK(f.may_hold("x"));
  CHECK(f.may_hold(std::string("x\0\0", 3)));
  CHECK_FALSE(f.may_hold("y"));
}

TEST_CASE("presence filter: reads answer from the model before and after the filter is built, across reopens and later puts and erasures") {
  const uint64_t seed = test::test_seed("presence filter reads");
  INFO("RUMOR_SEED=" << seed);
  std::mt19937_64 rng(seed);
  test::temp_dir tmp;
  options o = test::small_options(tmp.path() + "/db");
  o.write_behind_bytes = 64 << 20;  // one big commit
  o.materialize_bytes = 16 << 20;
  std::map<std::string, std::string> model;
  {
    auto s = open_ok(o);
    // More keys than one scan transaction holds (64Ki), spread over the prefixes.
    write_batch b;
    for (uint64_t n = 0; n < 70'000; ++n) {
      std::string k = key_of(rng() & 0xffffff, n), v = "v" + std::to_string(n);
      b.put_value(k, v);
      model[k] = v;
    }
    REQUIRE(s->commit(b).has_value());
    REQUIRE(s->flush().has_value());  // into the B-trees
  }
  auto s = open_ok(o);
  check_reads(*s, model, rng);  // built or not yet: the same answers
  wait_built(*s);
  check_reads(*s, model, rng);
  for (int round = 0; round < 6; ++round) {
    CAPTURE(round);
    write_batch b;
    std::vector<std::string> keys;
    for (const auto& [k, v] : model) keys.push_back(k);
    for (int i = 0; i < 500; ++i) {
      const std::string& k = keys[rng() % keys.size()];
      if (model.count(k)) {
        b.erase_value(k);
        model.erase(k);
      }
    }
    for (int i = 0; i < 2000; ++i) {
      std::string k = key_of(rng() & 0xffffff, 100'000 + round * 10'000 + i), v = "w" + std::to_string(i);
      b.put_value(k, v);
      model[k] = v;
    }
    // Some of the erased keys come back.
    for (int i = 0; i < 100; ++i) {
      const std::string& k = keys[rng() % keys.size()];
      b.put_value(k, "again");
      model[k] = "again";
    }
    REQUIRE(s->commit(b).has_value());
    check_reads(*s, model, rng);  // from the layers
    REQUIRE(s->flush().has_value());
    check_reads(*s, model, rng);  // from the B-trees, through the filter
    if (round % 2 == 1) {
      s.reset();
      s = open_ok(o);
      wait_built(*s);
      check_reads(*s, model, rng);
    }
  }
}
