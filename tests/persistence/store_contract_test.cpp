// The store contract, checked the same way against lmdb_store and memory_store.

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "persistence/lmdb_store.hpp"
#include "persistence/memory_store.hpp"
#include "test_util.hpp"

using namespace rumor;
using namespace rumor::persistence;

namespace {

using kv = std::vector<std::pair<std::string, std::string>>;

kv scan(const store& s, const key_range& r, std::size_t limit = SIZE_MAX) {
  kv out;
  status st = s.scan_values(r, [&](std::string_view k, std::string_view v) {
    out.emplace_back(std::string{k}, std::string{v});
    return out.size() < limit;
  });
  REQUIRE(st.has_value());
  return out;
}

std::vector<std::pair<uint64_t, std::string>> deltas(const store& s, uint64_t origin,
                                                     uint64_t from = 0) {
  std::vector<std::pair<uint64_t, std::string>> out;
  REQUIRE(s.scan_deltas(origin, from, [&](uint64_t seq, std::string_view d) {
             out.emplace_back(seq, std::string{d});
             return true;
           }).has_value());
  return out;
}

std::optional<std::string> get(const store& s, std::string_view key) {
  auto r = s.get_value(key);
  REQUIRE(r.has_value());
  return *r;
}

void check_contract(store& s) {
  SUBCASE("put, get, overwrite, erase") {
    CHECK(get(s, "a") == std::nullopt);
    write_batch b;
    b.put_value("a", "1");
    b.put_value("b", std::string("bin\0\xff", 5));
    b.put_value("a", "2");  // later op in the same batch wins
    REQUIRE(s.commit(b).has_value());
    CHECK(get(s, "a") == "2");
    CHECK(get(s, "b") == std::string("bin\0\xff", 5));
    write_batch e;
    e.erase_value("a");
    e.erase_value("never-existed");
    REQUIRE(s.commit(e).has_value());
    CHECK(get(s, "a") == std::nullopt);
    CHECK(get(s, "b").has_value());
    auto st = s.stats();
    REQUIRE(st.has_value());
    CHECK(st->values == 1);
  }
  SUBCASE("get_values answers each key as get_value does, in order") {
    write_batch b;
    b.put_value("a", "1");
    b.put_value("b", "2");
    REQUIRE(s.commit(b).has_value());
    write_batch c;
    c.erase_value("b");
    c.put_value("c", "3");
    REQUIRE(s.commit(c).has_value());
    const std::vector<std::string> keys{"c", "b", "a", "d", "", "a"};
    auto got = s.get_values(keys);
    REQUIRE(got.size() == keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
      auto one = s.get_value(keys[i]);
      REQUIRE(got[i].has_value() == one.has_value());
      if (one) CHECK(*got[i] == *one);
      else CHECK(got[i].err().code == one.err().code);
    }
    CHECK(*got[0] == std::optional<std::string>{"3"});
    CHECK(*got[1] == std::nullopt);
    CHECK(*got[2] == std::optional<std::string>{"1"});
    CHECK(*got[3] == std::nullopt);
    CHECK(got[4].err().code == errc::invalid_argument);
  }
  SUBCASE("group commit applies batches in order") {
    write_batch group[3];
    group[0].put_value("x", "first");
    group[1].put_value("x", "second");
    group[1].put_value("y", "y");
    group[2].erase_value("y");
    REQUIRE(s.commit(group).has_value());
    CHECK(get(s, "x") == "second");
    CHECK(get(s, "y") == std::nullopt);
    CHECK(s.commit(std::span<const write_batch>{}).has_value());  // empty group: no-op
  }
  SUBCASE("an invalid operation rejects the whole group") {
    write_batch group[2];
    group[0].put_value("p", "1");
    group[0].append_delta(1, 1, "d");
    group[0].put_meta("m", "x");
    group[1].put_value("", "empty key");
    status st = s.commit(group);
    REQUIRE_FALSE(st.has_value());
    CHECK(st.err().code == errc::invalid_argument);
    CHECK(get(s, "p") == std::nullopt);
    CHECK(deltas(s, 1).empty());
    CHECK(*s.get_meta("m") == std::nullopt);
  }
  SUBCASE("key bounds on reads") {
    auto e = s.get_value("");
    REQUIRE_FALSE(e.has_value());
    CHECK(e.err().code == errc::invalid_argument);
    auto l = s.get_value(std::string(max_key_bytes + 1, 'x'));
    REQUIRE_FALSE(l.has_value());
    CHECK(l.err().code == errc::too_large);
    write_batch b;
    b.put_value(std::string(max_key_bytes, 'x'), "longest key");
    REQUIRE(s.commit(b).has_value());
    CHECK(get(s, std::string(max_key_bytes, 'x')) == "longest key");
  }
  SUBCASE("range and prefix scans") {
    write_batch b;
    for (const char* k : {"a", "ab/1", "ab/2", "ab/3", "ac", "b", "b\xff", "c"}) b.put_value(k, k);
    REQUIRE(s.commit(b).has_value());
    CHECK(scan(s, key_range::all()).size() == 8);
    CHECK(scan(s, key_range::with_prefix("ab/")) ==
          kv{{"ab/1", "ab/1"}, {"ab/2", "ab/2"}, {"ab/3", "ab/3"}});
    CHECK(scan(s, key_range::with_prefix("b")) == kv{{"b", "b"}, {"b\xff", "b\xff"}});
    CHECK(scan(s, key_range::between("ab/2", "b")) ==
          kv{{"ab/2", "ab/2"}, {"ab/3", "ab/3"}, {"ac", "ac"}});
    CHECK(scan(s, key_range::with_prefix("zz")).empty());
    // Chunked iteration: resume after the last key seen.
    std::vector<std::string> seen;
    std::string from;
    for (;;) {
      auto chunk = scan(s, key_range::starting_at(from), 3);
      if (chunk.empty()) break;
      for (auto& [k, v] : chunk) seen.push_back(k);
      from = chunk.back().first + std::string(1, '\0');
    }
    CHECK(seen == std::vector<std::string>{"a", "ab/1", "ab/2", "ab/3", "ac", "b", "b\xff", "c"});
    // Early stop.
    CHECK(scan(s, key_range::all(), 2).size() == 2);
    // An over-long lower bound is accepted and positions correctly.
    CHECK(scan(s, key_range::starting_at(std::string(600, 'b'))) ==
          kv{{"b\xff", "b\xff"}, {"c", "c"}});
  }
  SUBCASE("delta log: append, scan per origin, truncate") {
    write_batch b;
    for (uint64_t seq = 1; seq <= 5; ++seq) {
      b.append_delta(1, seq, "o1-" + std::to_string(seq));
      b.append_delta(2, seq, "o2-" + std::to_string(seq));
    }
    b.append_delta(UINT64_MAX, UINT64_MAX, "max");
    b.append_delta(0, 0, "zero");
    REQUIRE(s.commit(b).has_value());
    auto d1 = deltas(s, 1);
    REQUIRE(d1.size() == 5);
    CHECK(d1.front() == std::pair<uint64_t, std::string>{1, "o1-1"});
    CHECK(deltas(s, 2, 4).size() == 2);
    CHECK(deltas(s, UINT64_MAX).size() == 1);
    CHECK(deltas(s, 0).size() == 1);
    CHECK(deltas(s, 3).empty());
    write_batch t;
    t.truncate_deltas(1, 3);
    t.truncate_deltas(2, 0);  // nothing at or below 0 for origin 2
    REQUIRE(s.commit(t).has_value());
    auto after = deltas(s, 1);
    REQUIRE(after.size() == 2);
    CHECK(after[0].first == 4);
    CHECK(deltas(s, 2).size() == 5);
    CHECK(deltas(s, 0).size() == 1);
    write_batch t2;
    t2.truncate_deltas(UINT64_MAX, UINT64_MAX);
    REQUIRE(s.commit(t2).has_value());
    CHECK(deltas(s, UINT64_MAX).empty());
    auto st = s.stats();
    REQUIRE(st.has_value());
    CHECK(st->deltas == 2 + 5 + 1);
  }
  SUBCASE("meta records; reserved names refused") {
    write_batch b;
    b.put_meta("version_vector", "vv");
    b.put_meta("member/1", "alive");
    b.put_meta("member/2", "suspect");
    REQUIRE(s.commit(b).has_value());
    CHECK(*s.get_meta("version_vector") == std::optional<std::string>{"vv"});
    std::vector<std::string> names;
    REQUIRE(s.scan_meta(key_range::all(), [&](std::string_view n, std::string_view) {
               names.emplace_back(n);
               return true;
             }).has_value());
    CHECK(names == std::vector<std::string>{"member/1", "member/2", "version_vector"});
    auto st = s.stats();
    REQUIRE(st.has_value());
    CHECK(st->meta_records == 3);
    write_batch e;
    e.erase_meta("member/1");
    REQUIRE(s.commit(e).has_value());
    CHECK(*s.get_meta("member/1") == std::nullopt);
    auto r = s.get_meta("node_id");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.err().code == errc::invalid_argument);
    write_batch bad;
    bad.put_meta("format_version", "2");
    REQUIRE_FALSE(s.commit(bad).has_value());
  }
  CHECK(s.node_id() != 0);
  CHECK(s.quarantined().empty());
  CHECK(s.sync().has_value());
}

}  // namespace

TEST_CASE("store contract: lmdb_store") {
  test::temp_dir dir;
  auto s = lmdb_store::open(test::small_options(dir.sub("db")));
  REQUIRE_MESSAGE(s.has_value(), s.err().describe());
  check_contract(**s);
}

TEST_CASE("store contract: lmdb_store relaxed") {
  test::temp_dir dir;
  auto s = lmdb_store::open(test::small_options(dir.sub("db"), durability::relaxed));
  REQUIRE(s.has_value());
  check_contract(**s);
}

TEST_CASE("store contract: memory_store") {
  memory_store s;
  check_contract(s);
}
