// Codec: version and type checks, and garbage / truncated / mutated input never crashes.
#include <doctest/doctest.h>

#include <random>

#include "crdt/codec.hpp"
#include "seed.hpp"

using namespace rumor;
using namespace rumor::crdt;

namespace {

// A value of every type with some content.
std::vector<value> samples() {
  std::vector<value> out;
  g_counter g;
  (void)g.increment(1, 5);
  out.emplace_back(g);
  pn_counter p;
  (void)p.add(2, -7);
  out.emplace_back(p);
  lww_register l;
  l.assign(3, hlc_timestamp::make(99, 1), std::string("bin\0ary", 7));
  out.emplace_back(l);
  mv_register m;
  m.assign(4, "x");
  out.emplace_back(m);
  or_set s;
  s.add(5, "a");
  s.add(6, "b");
  s.remove("a");
  out.emplace_back(s);
  or_map mp;
  (void)mp.update<or_map>("inner", [](or_map& i) {
    return i.update<pn_counter>("c", [](pn_counter& c) { return c.increment(7, 3); });
  });
  out.emplace_back(mp);
  ew_flag f;
  f.enable(8);
  out.emplace_back(f);
  return out;
}

}  // namespace

TEST_CASE("codec: every type round-trips with its tag — binary data survives") {
  for (const value& v : samples()) {
    auto back = decode(encode(v));
    REQUIRE(back.has_value());
    CHECK(back->type() == v.type());
    CHECK(*back == v);
  }
  auto l = decode(encode(samples()[2]));
  CHECK(l->get_if<lww_register>()->read() == std::string("bin\0ary", 7));
}

TEST_CASE("codec: empty, misaligned and truncated input are decode errors") {
  CHECK(decode("").err().code == errc::decode_error);
  auto bytes = encode(samples()[4]);
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto r = decode(std::string_view(bytes).substr(0, n));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.err().code == errc::decode_error);
  }
  CHECK(decode_context("1234567").err().code == errc::decode_error);
}

TEST_CASE("codec: an unknown format version is refused with unsupported_version") {
  auto bytes = encode(samples()[0]);
  // Root struct data section starts after the 8-byte segment table and the 8-byte root pointer;
  // formatVersion is its first 16 bits.
  bytes[16] = 0x07;
  bytes[17] = 0x00;
  auto r = decode(bytes);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.err().code == errc::unsupported_version);
  CHECK(r.err().message.find("version 7") != std::string::npos);
}

TEST_CASE("codec: a type tag that does not match the store is refused") {
  auto bytes = encode(samples()[0]);
  bytes[18] = static_cast<char>(static_cast<uint8_t>(type_tag::or_set));  // `type` follows formatVersion
  auto r = decode(bytes);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.err().code == errc::decode_error);
}

TEST_CASE("codec: random bytes and random mutations of valid encodings never crash") {
  uint64_t seed = test::seed_for("codec garbage");
  INFO("RUMOR_SEED=" << seed);
  std::mt19937_64 rng(seed);
  auto good = samples();
  int decoded_ok = 0;
  for (int i = 0; i < 20'000; ++i) {
    std::string bytes;
    if (i % 2 == 0) {
      bytes.resize(8 * (rng() % 40));
      for (auto& b : bytes) b = static_cast<char>(rng());
    } else {
      bytes = encode(good[rng() % good.size()]);
      for (int k = 0, flips = 1 + static_cast<int>(rng() % 4); k < flips; ++k)
        bytes[rng() % bytes.size()] ^= static_cast<char>(1 + rng() % 255);
    }
    auto r = decode(bytes);
    if (r.has_value()) {
      ++decoded_ok;
      // Anything accepted is a valid value: it re-encodes and decodes to itself.
      auto again = decode(encode(*r));
      REQUIRE(again.has_value());
      CHECK(*again == *r);
    } else {
      CHECK((r.err().code == errc::decode_error || r.err().code == errc::unsupported_version));
    }
    (void)decode_context(bytes);
  }
  MESSAGE("mutated encodings still valid: " << decoded_ok << " of 20000");
}

TEST_CASE("codec: a store dot outside the context is refused (invariant check)") {
  // Build an or_set whose store holds a dot its context lacks, by joining stores by hand.
  dot_map<std::string, dot_set> store;
  store.set("x", dot_set{{dot{1, 1}}});
  or_set bogus{store, dot_context{}};
  auto r = decode(encode(value{bogus}));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.err().message.find("outside its context") != std::string::npos);
}
