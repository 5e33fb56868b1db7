// value_layout: value keys and bucket ranges, and the upgrade of a layout-1 store (values under
// bare storage keys plus a b/ bucket index) — batch by batch, resumable after a failed batch,
// ending in exactly the store a current replica writes.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>

#include "persistence/faulty_store.hpp"
#include "persistence/memory_store.hpp"
#include "persistence/write_batch.hpp"
#include "replication/bucket_digests.hpp"
#include "replication/replica.hpp"
#include "replication/storage_key.hpp"
#include "replication/value_layout.hpp"
#include "seed.hpp"

using namespace rumor;
using namespace rumor::replication;

namespace {

using record_map = std::map<std::string, std::string>;

// Every record of one table of `s`: scan is &store::scan_values or &store::scan_meta.
using scan_fn = status (persistence::store::*)(const persistence::key_range&, const persistence::record_visitor&) const;
record_map records(const persistence::store& s, scan_fn scan) {
  record_map out;
  (void)(s.*scan)(persistence::key_range::all(), [&](std::string_view k, std::string_view v) {
    out.emplace(k, v);
    return true;
  });
  return out;
}
record_map values_of(const persistence::store& s) { return records(s, &persistence::store::scan_values); }
record_map meta_of(const persistence::store& s) { return records(s, &persistence::store::scan_meta); }

std::string be32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>((v >> (8 * (3 - i))) & 0xff);
  return s;
}

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// A current replica over `store` that has written `n` keys: counters, sets (some emptied: held
// as tombstones), registers.
void write_keys(persistence::store& store, int n) {
  replica rep(store, "127.0.0.1:1", replica_config{}, 7);
  REQUIRE(rep.load(1).has_value());
  rep.start({}, 1);
  uint64_t req = 1;
  auto drain = [&] {
    for (int guard = 0; guard < 100; ++guard) {
      auto r = rep.take_ready();
      if (r.empty()) break;
      for (auto& b : r.batches) {
        REQUIRE(store.commit({&b.batch, 1}).has_value());
        rep.committed(b.id);
      }
      for (auto& rp : r.replies) REQUIRE(rp.result.has_value());
    }
  };
  drain();
  for (int i = 0; i < n; ++i) {
    std::string key = "k" + std::to_string(i);
    switch (i % 3) {
      case 0:
        rep.update(req++, key, crdt::type_tag::pn_counter, [i](crdt::value& v, node_id self, crdt::hlc_timestamp) -> result<crdt::value> {
          auto d = v.get_if<crdt::pn_counter>()->add(self, i);
          if (!d) return d.err();
          return crdt::value{*d};
        }, consistency::local, 1000, 2);
        break;
      case 1:
        rep.update(req++, key, crdt::type_tag::or_set, [i](crdt::value& v, node_id self, crdt::hlc_timestamp) -> result<crdt::value> {
          auto& s = *v.get_if<crdt::or_set>();
          auto d = s.add(self, "m");
          if (i % 2) d.join(s.remove("m"));  // emptied: a tombstone (t/ marker) remains
          return crdt::value{d};
        }, consistency::local, 1000, 2);
        break;
      default:
        rep.update(req++, key, crdt::type_tag::lww_register, [i](crdt::value& v, node_id self, crdt::hlc_timestamp now) -> result<crdt::value> {
          return crdt::value{v.get_if<crdt::lww_register>()->assign(self, now, "v" + std::to_string(i))};
        }, consistency::local, 1000, 2);
    }
    if (i % 500 == 499) drain();
  }
  drain();
}

// The layout-1 form of a layout-2 store: the same meta records (without r/layout; bucket digests
// of other buckets), every value under its bare storage key, and the bucket index an older build
// kept beside it.
void write_layout_1(const persistence::store& from, persistence::store& to) {
  persistence::write_batch b;
  for (auto& [name, bytes] : meta_of(from)) {
    if (name == "r/layout") continue;
    if (name.starts_with("d/")) {
      // Layout 1 bucketed keys by another hash: its digests are not layout 2's.
      std::string other = name;
      other.back() = static_cast<char>(other.back() ^ 1);
      b.put_meta(other, le64(0x1234));
      continue;
    }
    b.put_meta(name, bytes);
  }
  for (auto& [vkey, record] : values_of(from)) {
    std::string skey(storage_key_of(vkey));
    b.put_value(skey, record);
    b.put_meta("b/" + be32(bucket_digests::bucket_of(skey, 16)) + skey, le64(bucket_digests::value_hash(record)));
  }
  REQUIRE(to.commit({&b, 1}).has_value());
}

}  // namespace

TEST_CASE("value layout: a value key is a 3-byte hash prefix and the storage key, and a bucket is one range of them") {
  for (unsigned bits : {0u, 1u, 8u, 16u, 20u, 24u}) {
    for (int i = 0; i < 2000; ++i) {
      std::string skey = storage_key("key-" + std::to_string(i), crdt::type_tag::or_set);
      std::string vk = value_key(skey);
      CHECK(vk.size() == skey.size() + value_key_prefix_bytes);
      CHECK(storage_key_of(vk) == skey);
      uint32_t b = bucket_digests::bucket_of(skey, bits);
      CHECK(bucket_range(b, bits).contains(vk));
      if (b > 0) CHECK_FALSE(bucket_range(b - 1, bits).contains(vk));
      if (bits > 0 && b + 1 < (1u << bits)) CHECK_FALSE(bucket_range(b + 1, bits).contains(vk));
    }
  }
  CHECK(storage_key_of("abc").empty());
  // Every type of one user key shares the prefix (its records are adjacent), with its own key hash.
  for (int i = 0; i < 100; ++i) {
    std::string user = "user-" + std::to_string(i);
    std::string first = value_key(storage_key(user, crdt::type_tag::g_counter));
    std::set<uint64_t> hashes;
    for (uint8_t t = crdt::first_type_tag; t <= crdt::last_type_tag; ++t) {
      std::string skey = storage_key(user, static_cast<crdt::type_tag>(t));
      CHECK(value_key(skey).substr(0, value_key_prefix_bytes) == first.substr(0, value_key_prefix_bytes));
      hashes.insert(bucket_digests::key_hash(skey));
    }
    CHECK(hashes.size() == crdt::last_type_tag - crdt::first_type_tag + 1u);
  }
}

TEST_CASE("value layout: a new store is marked layout 2 at once, and the replica refuses a layout-1 store") {
  persistence::memory_store fresh;
  CHECK_FALSE(*has_value_layout_2(fresh));
  REQUIRE(upgrade_value_layout(fresh, 16).has_value());
  CHECK(*has_value_layout_2(fresh));
  CHECK(values_of(fresh).empty());

  persistence::memory_store now, old;
  write_keys(now, 30);
  write_layout_1(now, old);
  replica rep(old, "127.0.0.1:1", replica_config{}, 7);
  auto loaded = rep.load(1);
  REQUIRE_FALSE(loaded.has_value());
  CHECK(loaded.err().code == errc::unsupported_version);
  CHECK(loaded.err().message.find("layout 1") != std::string::npos);
}

TEST_CASE("value layout: upgrading a layout-1 store moves every value in batches and resumes after a failed batch") {
  const int keys = static_cast<int>(2 * upgrade_batch_keys + 123);  // three batches
  persistence::memory_store now;
  write_keys(now, keys);
  persistence::memory_store old_inner;
  write_layout_1(now, old_inner);
  persistence::faulty_store old(old_inner);

  // The second batch fails: the first stays moved, the rest is still indexed, and reads of the
  // half-moved store by a replica are refused rather than wrong.
  int batches = 0;
  auto first = upgrade_value_layout(old, 16, [&](uint64_t moved, uint64_t total) {
    ++batches;
    CHECK(total == static_cast<uint64_t>(keys));
    CHECK(moved == upgrade_batch_keys);
    old.fail_next_commits(1);
  });
  REQUIRE_FALSE(first.has_value());
  CHECK(batches == 1);
  CHECK_FALSE(*has_value_layout_2(old));
  replica half(old, "127.0.0.1:1", replica_config{}, 7);
  CHECK(half.load(1).err().code == errc::unsupported_version);

  // Resumed: it ends where a current replica's store is — the same values under the same keys,
  // the same meta (digests recomputed: what the replica kept incrementally) and no index.
  std::vector<std::pair<uint64_t, uint64_t>> seen;
  REQUIRE(upgrade_value_layout(old, 16, [&](uint64_t m, uint64_t t) { seen.emplace_back(m, t); }).has_value());
  CHECK(seen.size() == 2);
  CHECK(seen.back().first == seen.back().second);
  CHECK(*has_value_layout_2(old));
  REQUIRE(upgrade_value_layout(now, 16).has_value());  // r/layout on both sides
  CHECK(values_of(old) == values_of(now));
  CHECK(meta_of(old) == meta_of(now));
  CHECK(meta_of(old).count("r/layout") == 1);

  // A replica loads it and reads every key; a second upgrade changes nothing.
  replica rep(old, "127.0.0.1:1", replica_config{}, 7);
  REQUIRE(rep.load(1).has_value());
  for (int i = 0; i < keys; i += 97) {
    auto v = rep.get("k" + std::to_string(i));
    REQUIRE(v.has_value());
    if (!(i % 3 == 1 && i % 2)) CHECK(v->size() == 1);  // (an emptied set may read as nothing)
  }
  auto before = values_of(old);
  REQUIRE(upgrade_value_layout(old, 16).has_value());
  CHECK(values_of(old) == before);
}

TEST_CASE("value layout: keys() lists the smallest keys with a prefix in order from hash-ordered values, with uncommitted writes") {
  persistence::memory_store store;
  const int n = 3000;
  write_keys(store, n);
  // Expected: every written key but the emptied sets (i % 3 == 1 and i odd), in byte order.
  std::vector<std::string> live;
  for (int i = 0; i < n; ++i)
    if (!(i % 3 == 1 && i % 2)) live.push_back("k" + std::to_string(i));
  std::sort(live.begin(), live.end());
  replica rep(store, "127.0.0.1:1", replica_config{}, 7);
  REQUIRE(rep.load(1).has_value());
  auto names = [](const auto& found) {
    std::vector<std::string> out;
    for (auto& [k, t] : found) out.push_back(k);
    return out;
  };
  for (std::string prefix : {"", "k1", "k29", "k2999", "x"}) {
    std::vector<std::string> want;
    for (auto& k : live)
      if (k.starts_with(prefix) && want.size() < 40) want.push_back(k);
    auto got = rep.keys(prefix, 40);
    REQUIRE(got.has_value());
    CHECK(names(*got) == want);
  }
  // An update not yet committed is listed (read your writes), from a copy taken for another thread.
  rep.update(1, "k0000", crdt::type_tag::pn_counter, [](crdt::value& v, node_id self, crdt::hlc_timestamp) -> result<crdt::value> {
    auto d = v.get_if<crdt::pn_counter>()->add(self, 1);
    if (!d) return d.err();
    return crdt::value{*d};
  }, consistency::local, 1000, 3);
  auto mine = rep.uncommitted_under("k0");
  CHECK(mine.written.size() == 1);
  auto got = replica::list_keys(store, "k0", 2, mine);
  REQUIRE(got.has_value());
  CHECK(names(*got) == std::vector<std::string>{"k0", "k0000"});
}
