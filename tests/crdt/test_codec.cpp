// Codec: the packed form and the old unpacked form, version and type checks, determinism, and
// garbage / truncated / mutated / expanding input never crashes.
#include <doctest/doctest.h>

#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <capnp/serialize.h>
#include <kj/io.h>

#include <cstring>
#include <random>

#include "base/varint.hpp"
#include "crdt/codec.hpp"
#include "crdt/crdt.capnp.h"
#include "legacy_codec.hpp"
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

// The two forms of a message built here: packed (marker + writePackedMessage), unpacked.
std::string packed_of(capnp::MessageBuilder& mb) {
  kj::VectorOutputStream out;
  capnp::writePackedMessage(out, mb);
  auto a = out.getArray();
  return std::string(1, static_cast<char>(codec_packed_marker)) + std::string(reinterpret_cast<const char*>(a.begin()), a.size());
}

std::string unpacked_of(capnp::MessageBuilder& mb) {
  auto flat = capnp::messageToFlatArray(mb);
  auto b = flat.asBytes();
  return std::string(reinterpret_cast<const char*>(b.begin()), b.size());
}

// A copy of the message in `packed` (this build's encoding) for editing.
void load(capnp::MallocMessageBuilder& mb, std::string_view packed) {
  std::string flat = test::unpacked_form(packed);
  std::vector<capnp::word> words(flat.size() / sizeof(capnp::word));
  std::memcpy(words.data(), flat.data(), flat.size());
  capnp::FlatArrayMessageReader reader({words.data(), words.size()});
  mb.setRoot(reader.getRoot<schema::Value>());
}

std::string le32(uint32_t v) {
  std::string s;
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return s;
}

}  // namespace

static bool has_compact(const value& v) {
  return v.type() == type_tag::g_counter || v.type() == type_tag::pn_counter || v.type() == type_tag::lww_register ||
         v.type() == type_tag::mv_register;
}

TEST_CASE("codec: every type round-trips with its tag (compact counters and registers, packed others) — binary data survives") {
  for (const value& v : samples()) {
    std::string bytes = encode(v);
    CHECK(static_cast<uint8_t>(bytes[0]) == (has_compact(v) ? 0x40 : codec_packed_marker));
    CHECK(static_cast<uint8_t>(bytes[0]) == current_form_marker(v.type()));
    // The packed form of every type (counters too: what protocol version 2 wrote) decodes.
    auto packed = decode(encode_packed(v));
    REQUIRE(packed.has_value());
    CHECK(*packed == v);
    auto back = decode(bytes);
    REQUIRE(back.has_value());
    CHECK(back->type() == v.type());
    CHECK(*back == v);
    // Smaller than the unpacked form of the same message.
    CHECK(bytes.size() < test::unpacked_form(bytes).size());
  }
  auto l = decode(encode(samples()[2]));
  CHECK(l->get_if<lww_register>()->read() == std::string("bin\0ary", 7));
  for (const value& v : samples()) {
    auto c = decode_context(encode_context(v.context()));
    REQUIRE(c.has_value());
    CHECK(*c == v.context());
  }
}

TEST_CASE("codec: the old unpacked form of every type and of contexts still decodes") {
  for (const value& v : samples()) {
    std::string old = test::unpacked_form(encode(v));
    CHECK(static_cast<uint8_t>(old[0]) == 0);  // one segment: (segment count - 1) = 0
    auto back = decode(old);
    REQUIRE(back.has_value());
    CHECK(*back == v);
    CHECK(encode(*back) == encode(v));  // re-encoding gives the packed form
    auto c = decode_context(test::unpacked_form(encode_context(v.context())));
    REQUIRE(c.has_value());
    CHECK(*c == v.context());
  }
  // A message built here from the schema, written as older builds wrote it.
  capnp::MallocMessageBuilder mb;
  auto root = mb.initRoot<schema::Value>();
  root.setFormatVersion(1);
  root.setType(schema::TypeTag::PN_COUNTER);
  auto compact = root.initContext().initCompact(1);
  compact[0].setNode(0x8f3a5c7e9b1d2f46);
  compact[0].setCounter(3);
  root.getContext().initCloud(0);
  auto e = root.initStore().initPnCounter(1);
  e[0].initDot().setNode(0x8f3a5c7e9b1d2f46);
  e[0].getDot().setCounter(3);
  e[0].setP(10);
  e[0].setN(4);
  auto v = decode(unpacked_of(mb));
  REQUIRE(v.has_value());
  REQUIRE(v->get_if<pn_counter>() != nullptr);
  CHECK(v->get_if<pn_counter>()->value() == 6);
  CHECK(*decode(packed_of(mb)) == *v);
  // A multi-segment unpacked message (older builds wrote one for values beyond 1024 words).
  capnp::MallocMessageBuilder small(16, capnp::AllocationStrategy::FIXED_SIZE);
  small.setRoot(mb.getRoot<schema::Value>().asReader());
  REQUIRE(small.getSegmentsForOutput().size() > 1);
  REQUIRE(decode(unpacked_of(small)).has_value());
  CHECK(*decode(unpacked_of(small)) == *v);
  REQUIRE(decode(packed_of(small)).has_value());
  CHECK(*decode(packed_of(small)) == *v);
}

TEST_CASE("codec: equal values have equal bytes, whatever the order of the joins that made them") {
  pn_counter a, b;
  auto da = a.increment(1, 5);
  auto db = b.add(2, -3);
  pn_counter ab = a, ba = b;
  ab.join(*db);
  ba.join(*da);
  REQUIRE(value{ab} == value{ba});
  CHECK(encode(value{ab}) == encode(value{ba}));
  for (const value& v : samples()) CHECK(encode(*decode(encode(v))) == encode(v));
}

TEST_CASE("codec: a counter delta or state is under 32 bytes, a 16-byte register write under 48 (compact)") {
  const node_id origin = 0x8f3a5c7e9b1d2f46;  // node ids are random: 8 non-zero bytes
  pn_counter c;
  for (int i = 0; i < 41; ++i) (void)c.increment(origin, 1);
  auto d = c.increment(origin, 1);
  std::string delta = encode(value{*d});
  std::string state = encode(value{c});
  lww_register l;
  value set_v{l.assign(origin, hlc_timestamp::make(1'700'000'000'000, 0), "value-0000000001")};
  std::string set = encode(set_v);
  MESSAGE("compact: counter delta " << delta.size() << " B, counter state " << state.size() << " B; packed: counter delta "
                                    << encode_packed(value{*d}).size() << " B, counter state " << encode_packed(value{c}).size()
                                    << " B; 16-byte lww set " << set.size() << " B compact, " << encode_packed(set_v).size()
                                    << " B packed");
  // The node id is written once; the rest is varints.
  CHECK(delta.size() <= 32);
  CHECK(state.size() <= 32);
  CHECK(2 * delta.size() < encode_packed(value{*d}).size());
  CHECK(set.size() <= 48);
}

namespace {

// Hand-built compact bytes (codec_compact.hpp), for inputs encode never writes.
std::string u64le(uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return s;
}
std::string compact(uint8_t tag, std::string body) { return std::string{'\x40', static_cast<char>(tag)} + body; }

}  // namespace

TEST_CASE("codec: compact counters and registers — several origins, cloud dots and store dots off the version vector round-trip") {
  pn_counter a, b, c;
  (void)a.add(11, 5);
  (void)b.add(22, -3);
  (void)c.add(33, 9);
  auto da = a.add(11, 2);  // a delta: its context holds the dot it replaces and its own
  pn_counter mixed = b;
  mixed.join(c);
  // Node 44's live dot is only in the cloud (dots 5 and 7 seen, 1..4 and 6 not).
  mixed.join(pn_counter{dot_fun<pn_entry>{{{dot{44, 7}, pn_entry{4, 1}}}}, dot_context::of(std::vector<dot>{{44, 5}, {44, 7}})});
  REQUIRE_FALSE(mixed.context().cloud().empty());
  g_counter g;
  for (node_id n : {7u, 3u, 9u}) (void)g.increment(n, n);
  // Registers: concurrent writes of two nodes (two siblings), binary values, an empty value.
  mv_register m1, m2;
  m1.assign(5, std::string("a\0b", 3));
  m2.assign(6, "");
  m1.join(m2);
  REQUIRE(m1.store().size() == 2);
  lww_register l1, l2;
  l1.assign(5, hlc_timestamp::make(100, 1), "first");
  l2.assign(6, hlc_timestamp::make(100, 2), std::string(300, 'x'));  // a length over one varint byte
  l1.join(l2);
  for (const value& v : {value{mixed}, value{*da}, value{g}, value{pn_counter{}}, value{g_counter{}}, value{m1}, value{l1},
                         value{mv_register{}}, value{lww_register{}}}) {
    std::string bytes = encode(v);
    CHECK(static_cast<uint8_t>(bytes[0]) == 0x40);
    auto back = decode(bytes);
    REQUIRE(back.has_value());
    CHECK(*back == v);
    CHECK(encode(*back) == bytes);
    CHECK(bytes.size() < encode_packed(v).size());
  }
}

TEST_CASE("codec: hostile compact counters are decode errors, never crashes or huge allocations") {
  using namespace std::string_literals;
  auto refused = [](const std::string& bytes, std::string_view why) {
    auto r = decode(bytes);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.err().code == errc::decode_error);
    INFO(r.err().message);
    CHECK(r.err().message.find(why) != std::string::npos);
  };
  // g_counter, vv {5: 10}, no cloud, store {(5, 10): 3} — valid, as a baseline.
  std::string vv = std::string{'\x01'} + u64le(5) + '\x0a';
  CHECK(decode(compact(1, vv + '\x00' + "\x01\x00\x00\x03"s)).has_value());
  refused(compact(5, vv + '\x00' + '\x00'), "has no compact form");
  refused(compact(1, std::string{'\x7f'} + u64le(5)), "exceeds the input");              // 127 vv entries in 9 bytes
  refused(compact(1, vv + "\xff\xff\xff\xff\x0f"s + '\x00'), "exceeds the input");     // 2^32 cloud groups
  refused(compact(1, vv + '\x00' + "\xff\xff\xff\xff\x0f"s), "exceeds the input");     // 2^32 store entries
  refused(compact(1, std::string{'\x01'} + u64le(5) + '\x00' + '\x00' + '\x00'), "counter 0");
  refused(compact(1, std::string{'\x02'} + u64le(5) + '\x01' + u64le(4) + '\x01' + '\x00' + '\x00'), "out of order");
  refused(compact(1, vv + '\x00' + "\x01\x00\x0a\x03"s), "beyond its version vector entry");  // counter 10 − 10 = 0
  refused(compact(1, vv + '\x00' + "\x01\x02\x00\x03"s), "refers to version vector entry 2");
  refused(compact(1, vv + '\x00' + "\x01\x01"s + u64le(6) + "\x01\x03"s), "outside its context");
  refused(compact(1, vv + '\x00' + "\x02\x00\x00\x03\x00\x00\x04"s), "out of order");      // the same dot twice
  refused(compact(1, vv + '\x00' + "\x01\x00\x00\x03"s + '\x00'), "1 bytes after the value");
  refused(compact(1, vv + '\x01' + u64le(5) + "\x02\x0c\x00"s + '\x00'), "cloud gap");
  // Memory is bounded like the packed form's: at most codec_max_unpacked_bytes / 16 dots and
  // entries, however dense the input (here 4 MiB of one-byte cloud gaps).
  {
    const uint64_t k = codec_max_unpacked_bytes / 16 + 1;
    std::string body = "\x00\x01"s + u64le(9);
    put_varint(body, k);
    body += '\x01';
    body.append(k - 1, '\x01');
    body += '\x00';
    refused(compact(1, body), "more than");
  }
  // A cloud dot next to the version vector is accepted and made canonical (it joins the vector).
  auto canon = decode(compact(1, vv + '\x01' + u64le(5) + "\x01\x0b"s + '\x00'));
  REQUIRE(canon.has_value());
  CHECK(canon->context().compact_part().get(5) == 11);
  CHECK(canon->context().cloud().empty());
}

TEST_CASE("codec: empty, misaligned and truncated input are decode errors (both forms)") {
  CHECK(decode("").err().code == errc::decode_error);
  CHECK(decode(std::string(1, static_cast<char>(codec_packed_marker))).err().code == errc::decode_error);
  for (const value& v : samples()) {
    std::string packed = encode(v);
    std::string old = test::unpacked_form(packed);
    for (const std::string* bytes : {&packed, &old}) {
      for (size_t n = 0; n < bytes->size(); ++n) {
        auto r = decode(std::string_view(*bytes).substr(0, n));
        REQUIRE_FALSE(r.has_value());
        CHECK(r.err().code == errc::decode_error);
      }
    }
    // A packed message followed by anything is not a message either.
    CHECK(decode(packed + std::string(1, '\0')).err().code == errc::decode_error);
    CHECK(decode(packed + std::string(2, '\0')).err().code == errc::decode_error);
  }
  CHECK(decode_context("1234567").err().code == errc::decode_error);
}

TEST_CASE("codec: an unknown format version is refused with unsupported_version (both forms)") {
  capnp::MallocMessageBuilder mb;
  load(mb, encode(samples()[0]));
  mb.getRoot<schema::Value>().setFormatVersion(7);
  for (const std::string& bytes : {packed_of(mb), unpacked_of(mb)}) {
    auto r = decode(bytes);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.err().code == errc::unsupported_version);
    CHECK(r.err().message.find("version 7") != std::string::npos);
  }
}

TEST_CASE("codec: first bytes 0x41 to 0xfe are refused, and the unpacked form has at most 64 segments") {
  // 0x41..0xfe: no form (free for later forms).
  std::string bytes = encode(samples()[1]);
  for (int first : {0x41, 0x80, 0xfe}) {
    bytes[0] = static_cast<char>(first);
    auto r = decode(bytes);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.err().code == errc::decode_error);
    CHECK(r.err().message.find("first byte 0x") != std::string::npos);
  }
  // 65 segments: the first byte is 0x40, so not the unpacked form (and not a compact value).
  std::string many = le32(64);
  for (int i = 0; i < 65; ++i) many += le32(0);
  while (many.size() % 8 != 0) many.push_back('\0');
  CHECK(decode(many).err().code == errc::decode_error);
  // 320 segments with a first byte of 0x3f: the unpacked form, refused by the segment bound.
  many.replace(0, 4, le32(0x13f));
  auto r = decode(many);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.err().code == errc::decode_error);
  CHECK(r.err().message.find("320 segments") != std::string::npos);
  // (segment count - 1) = 0xffffffff would wrap to 0 inside capnp: its first byte is the marker,
  // so it is read as (invalid) packed input.
  CHECK(decode(le32(0xffffffff) + le32(0)).err().code == errc::decode_error);
}

TEST_CASE("codec: a type tag that does not match the store is refused") {
  capnp::MallocMessageBuilder mb;
  load(mb, encode(samples()[0]));
  mb.getRoot<schema::Value>().setType(schema::TypeTag::OR_SET);
  for (const std::string& bytes : {packed_of(mb), unpacked_of(mb)}) {
    auto r = decode(bytes);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.err().code == errc::decode_error);
  }
}

TEST_CASE("codec: a zero-run expansion bomb is refused before it is unpacked") {
  // Packed: the segment table word (one segment of `words` words), then zero words, 256 per two
  // input bytes (tag 0x00, run 255).
  auto bomb = [](uint32_t words, size_t pairs) {
    std::string b(1, static_cast<char>(codec_packed_marker));
    b += '\xf0';  // tag: bytes 4..7 of the word present
    b += le32(words);
    for (size_t i = 0; i < pairs; ++i) b += std::string("\x00\xff", 2);
    return b;
  };
  size_t limit_words = codec_max_unpacked_bytes / 8;
  size_t pairs = limit_words / 256 + 1;  // just beyond the limit: 64 KiB of input
  auto r = decode(bomb(static_cast<uint32_t>(pairs * 256), pairs));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.err().code == errc::decode_error);
  CHECK(r.err().message.find("unpacks to more than") != std::string::npos);
  CHECK(decode_context(bomb(static_cast<uint32_t>(pairs * 256), pairs)).err().code == errc::decode_error);
  // Far beyond it (4 MiB of input standing for 4 GiB): refused as quickly.
  auto big = decode(bomb(0xffffffffu, size_t{2} << 20));
  REQUIRE_FALSE(big.has_value());
  CHECK(big.err().message.find("unpacks to more than") != std::string::npos);
  // Within the limit a zero run is fine: it is a message of zeros (a null root: version 0).
  auto small = decode(bomb(256 * 4, 4));
  REQUIRE_FALSE(small.has_value());
  CHECK(small.err().code == errc::unsupported_version);
}

TEST_CASE("codec: zero-heavy values within the limit round-trip (packing them is legitimate)") {
  lww_register l;
  std::string zeros(4 << 20, '\0');
  value v{l.assign(1, hlc_timestamp::make(5, 0), zeros)};
  std::string bytes = encode_packed(v);
  CHECK(bytes.size() < 64 * 1024);
  auto back = decode(bytes);
  REQUIRE(back.has_value());
  CHECK(*back == v);
  // The compact form (what encode writes for a register) keeps the bytes as they are.
  std::string compact = encode(v);
  CHECK(compact.size() < zeros.size() + 64);
  REQUIRE(decode(compact).has_value());
  CHECK(*decode(compact) == v);
}

TEST_CASE("codec: random bytes and random mutations of valid encodings never crash (both forms)") {
  uint64_t seed = test::seed_for("codec garbage");
  INFO("RUMOR_SEED=" << seed);
  std::mt19937_64 rng(seed);
  auto good = samples();
  std::vector<std::string> packed, old;
  for (const value& v : good) {
    packed.push_back(encode(v));
    old.push_back(test::unpacked_form(packed.back()));
  }
  int decoded_ok = 0;
  for (int i = 0; i < 40'000; ++i) {
    std::string bytes;
    switch (i % 4) {
      case 0:  // random bytes, any length, sometimes behind the packed marker
        bytes.resize(rng() % 320);
        for (auto& b : bytes) b = static_cast<char>(rng());
        if (!bytes.empty() && rng() % 2) bytes[0] = static_cast<char>(codec_packed_marker);
        break;
      case 1:
      case 2: {  // mutated packed / unpacked encodings
        bytes = (i % 4 == 1 ? packed : old)[rng() % good.size()];
        for (int k = 0, flips = 1 + static_cast<int>(rng() % 4); k < flips; ++k)
          bytes[rng() % bytes.size()] ^= static_cast<char>(1 + rng() % 255);
        break;
      }
      default: {  // packed encodings with bytes inserted or removed
        bytes = packed[rng() % good.size()];
        size_t at = 1 + rng() % (bytes.size() - 1);
        if (rng() % 2) bytes.insert(at, 1, static_cast<char>(rng()));
        else bytes.erase(at, 1);
      }
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
    auto c = decode_context(bytes);
    if (!c) CHECK((c.err().code == errc::decode_error || c.err().code == errc::unsupported_version));
  }
  MESSAGE("mutated encodings still valid: " << decoded_ok << " of 40000");
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

TEST_CASE("codec: a dot under two set elements or map fields is refused (fuzz_crdt_value finding)") {
  // Before the check such a set decoded, and removing everything it held left one element (the
  // dot -> element index keeps one element per dot): fuzz/regressions/fuzz_crdt_value/
  // or-set-dot-under-two-elements is the input libFuzzer found.
  dot_context ctx = dot_context::of(std::vector<dot>{{1, 1}, {1, 2}});
  auto refused = [](const value& v) {
    auto r = decode(encode(v));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.err().code == errc::decode_error);
    CHECK(r.err().message.find("a dot under two keys") != std::string::npos);
  };

  dot_map<std::string, dot_set> set_store;
  set_store.set("x", dot_set{{dot{1, 1}}});
  set_store.set("y", dot_set{{dot{1, 1}, dot{1, 2}}});
  refused(or_set{set_store, ctx});

  map_store fields;
  fields.set(field_key{"a", type_tag::ew_flag}, nested_store{dot_set{{dot{1, 1}}}});
  fields.set(field_key{"b", type_tag::ew_flag}, nested_store{dot_set{{dot{1, 1}}}});
  refused(or_map{fields, ctx});

  // Two fields of a nested map: the outer map sees one field holding the dot twice.
  map_store outer;
  outer.set(field_key{"m", type_tag::or_map}, nested_store{fields});
  refused(or_map{outer, ctx});

  // The same dots, each under one key, decode.
  dot_map<std::string, dot_set> fine;
  fine.set("x", dot_set{{dot{1, 1}}});
  fine.set("y", dot_set{{dot{1, 2}}});
  auto ok = decode(encode(value{or_set{fine, ctx}}));
  REQUIRE(ok.has_value());
  CHECK(ok->get_if<or_set>()->elements() == std::vector<std::string>{"x", "y"});
}
