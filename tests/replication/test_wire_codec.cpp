// Wire codec: round trip of every message kind, structural validation, truncated / garbage /
// mutated frames never crash, segment-table bounds, and the stream frame_reader.
#include <doctest/doctest.h>

#include <capnp/serialize-packed.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "replication/wire_codec.hpp"
#include "seed.hpp"

using namespace rumor;
using namespace rumor::replication;

namespace {

constexpr size_t kinds = std::variant_size_v<message>;

// Random instances of every message type.
class generator {
 public:
  explicit generator(uint64_t seed) : rng_(seed) {}

  uint64_t u64() { return rng_(); }
  uint64_t below(uint64_t n) { return rng_() % n; }
  bool coin() { return rng_() & 1; }

  // Mostly small numbers, sometimes the edges, sometimes anything.
  uint64_t number() {
    switch (below(6)) {
      case 0: return 0;
      case 1: return UINT64_MAX;
      case 2: return below(1000);
      default: return u64();
    }
  }
  uint64_t positive() {
    uint64_t n = number();
    return n == 0 ? 1 : n;
  }
  node_id node() { return coin() ? 1 + below(50) : positive(); }

  // Bytes of any value (NUL included); a few long ones so frames get several segments.
  std::string bytes(size_t max_len = 40) {
    size_t len = below(40) == 0 ? below(large_ + 1) : below(max_len + 1);
    std::string s(len, '\0');
    for (auto& c : s) c = static_cast<char>(u64());
    return s;
  }
  std::string nonempty_bytes() {
    std::string s = bytes();
    return s.empty() ? std::string("c") : s;
  }

  template <class F>
  auto list(size_t max_n, F&& f) {
    std::vector<decltype(f())> out(below(max_n + 1));
    for (auto& x : out) x = f();
    return out;
  }

  member_update member() {
    return member_update{node(), bytes(), number(), static_cast<member_status>(below(4))};
  }
  std::vector<member_update> members() { return list(8, [&] { return member(); }); }

  version_vector vv() {
    version_vector v;
    for (size_t n = below(10); n > 0; --n) v.set(node(), positive());
    return v;
  }

  delta_entry delta() {
    return delta_entry{node(), positive(),
                       delta_record{bytes(), static_cast<crdt::type_tag>(1 + below(7)), number(), bytes(200), vv()}};
  }
  std::vector<delta_entry> deltas() { return list(8, [&] { return delta(); }); }

  // Strictly ascending bucket ids (the codec refuses others).
  std::vector<uint32_t> ascending_buckets() {
    std::vector<uint32_t> out;
    uint32_t next = static_cast<uint32_t>(below(100));
    for (size_t n = below(6); n > 0; --n) {
      out.push_back(next);
      next += 1 + static_cast<uint32_t>(below(1000));
    }
    return out;
  }

  std::vector<key_state> states() { return list(8, [&] { return key_state{bytes(), bytes(200)}; }); }

  message make(size_t kind) {
    switch (kind) {
      case 0: {
        hello h{nonempty_bytes(), node(), static_cast<uint32_t>(positive()) | 1, bytes(), coin(), {}, errc::ok, {}};
        if (coin()) {  // a refusal (wire.capnp, "handshake")
          h.refusal = nonempty_bytes();
          h.refusal_code = static_cast<errc>(1 + number() % static_cast<uint64_t>(errc::unauthenticated));
        }
        if (h.client && coin()) h.token = nonempty_bytes();  // a client's bearer token
        return h;
      }
      case 1: return ping{number(), members()};
      case 2: return ack{number(), number(), members()};
      case 3: return ping_req{number(), node(), bytes(), members()};
      case 4: return join_request{member()};
      case 5: return join_response{members()};
      case 6: return push{deltas(), coin()};
      case 7: return push_ack{vv()};
      case 8: return sync_request{vv(), number() % 2 == 1};
      case 9: return sync_response{vv(), deltas(), coin(), list(5, [&] { return node(); })};
      case 10: return read_request{number(), bytes(), below(2) == 1};
      case 11: {
        // A vector-only answer carries a key vector and no values; the other, values only.
        if (below(2)) return read_response{number(), {}, true, vv()};
        return read_response{number(), states(), false, {}};
      }
      case 12:
        return state_push{number(), states(), list(6, [&] { return bytes(); }), list(6, [&] { return number(); })};
      case 13:
        return recon_request{number(), list(20, [&] {
                               return iblt_cell{static_cast<int64_t>(number()), number(), number(), number()};
                             })};
      case 14:
        return recon_buckets{number(), coin(),
                             list(5, [&] {
                               return bucket_keys{static_cast<uint32_t>(number()),
                                                  list(5, [&] { return key_hash{bytes(), number()}; })};
                             }),
                             ascending_buckets(), list(8, [&] { return hashed_key{number(), number()}; })};
      case 15: return full_sync_request{number(), bytes()};
      case 16: return full_sync_chunk{number(), states(), coin()};
      case 17:
        return set_recon_request{number(), bytes(), list(20, [&] {
                                   return iblt_cell{static_cast<int64_t>(number()), number(), number(), number()};
                                 }),
                                 bytes()};
      case 18:
        return set_recon_answer{number(), bytes(), static_cast<set_recon_status>(below(4)), ascending_buckets(),
                                bytes(), static_cast<uint32_t>(number()), coin(), coin(), bytes(), bytes(), number()};
      default: return ihave{vv()};
    }
  }
  message any() { return make(below(kinds)); }

  // Limits long strings (0 = only short ones, for tests that are quadratic in frame size).
  void set_large(size_t n) { large_ = n; }

 private:
  std::mt19937_64 rng_;
  size_t large_ = 40'000;
};

uint32_t le32(const std::string& s, size_t at) {
  uint32_t v;
  std::memcpy(&v, s.data() + at, 4);
  return v;  // the test hosts are little-endian, like the wire
}

std::string le32_bytes(uint32_t v) {
  std::string s(4, '\0');
  std::memcpy(s.data(), &v, 4);
  return s;
}

std::string le64_bytes(uint64_t v) {
  std::string s(8, '\0');
  std::memcpy(s.data(), &v, 8);
  return s;
}

// Replaces the 8 bytes that follow the first occurrence of `marker` in `frame`.
std::string patch_after(std::string frame, uint64_t marker, uint64_t replacement) {
  auto at = frame.find(le64_bytes(marker));
  REQUIRE(at != std::string::npos);
  frame.replace(at + 8, 8, le64_bytes(replacement));
  return frame;
}

// A one-segment frame whose root is a bare Message struct (1 data word, 1 pointer) with the given
// union discriminant and a null pointer.
std::string bare_envelope(uint16_t discriminant) {
  std::string f = le32_bytes(0) + le32_bytes(3);
  f += le64_bytes(uint64_t{1} << 32 | uint64_t{1} << 48);  // struct pointer: offset 0, 1 data word, 1 ptr
  f += le64_bytes(discriminant);
  f += le64_bytes(0);
  return f;
}

bool is(const result<message>& r, errc code) { return !r && r.err().code == code; }

}  // namespace

TEST_CASE("wire: every message kind round-trips") {
  uint64_t seed = test::seed_for("wire round trip");
  INFO("RUMOR_SEED=" << seed);
  generator g(seed);
  size_t multi_segment = 0;
  for (int round = 0; round < 200; ++round) {
    for (size_t kind = 0; kind < kinds; ++kind) {
      message m = g.make(kind);
      REQUIRE(m.index() == kind);
      INFO("kind " << kind << " round " << round);
      std::string flat = encode_message_flat(m);
      REQUIRE(flat.size() % 8 == 0);
      if (le32(flat, 0) > 0) ++multi_segment;
      std::string sent = encode_message(m);  // packed, except a hello
      bool is_hello = std::holds_alternative<hello>(m);
      CHECK(((le32(sent, 0) >> 31) == 1) == !is_hello);
      if (!is_hello) {
        // capnp's own reading of the packed bytes unpacks to exactly the flat frame's size
        auto packed = sent.substr(4);
        CHECK(capnp::computeUnpackedSizeInWords(kj::arrayPtr(reinterpret_cast<const kj::byte*>(packed.data()), packed.size())) * 8 ==
              flat.size());
        CHECK(le32(sent, 0) == (uint32_t{1} << 31 | static_cast<uint32_t>(packed.size())));
      }
      for (const std::string& frame : {flat, sent}) {
        auto fs = frame_size_from_prefix(frame);
        REQUIRE(fs);
        REQUIRE(*fs == frame.size());
        auto back = decode_message(frame);
        REQUIRE(back);
        CHECK(back.value() == m);
      }
    }
  }
  MESSAGE("multi-segment frames: " << multi_segment);
  CHECK(multi_segment > 0);
}

TEST_CASE("wire: default-valued and edge messages round-trip") {
  std::vector<message> ms = {
      hello{"c", 1, 1, ""},
      hello{std::string("a\0b", 3), UINT64_MAX, UINT32_MAX, std::string("\0", 1)},
      ping{}, ack{}, ping_req{0, 1, "", {}}, join_request{member_update{1, "", 0, member_status::left}},
      join_response{}, push{}, push_ack{}, sync_request{}, sync_response{}, read_request{}, read_response{},
      state_push{}, recon_request{}, recon_buckets{}, full_sync_request{}, full_sync_chunk{},
      set_recon_request{}, set_recon_answer{}, ihave{},
  };
  for (const auto& m : ms) {
    auto back = decode_message(encode_message(m));
    INFO("kind " << m.index());
    REQUIRE(back);
    CHECK(back.value() == m);
  }
}

TEST_CASE("wire: structural validation") {
  auto dec = [](const message& m) { return decode_message(encode_message(m)); };

  CHECK(is(dec(hello{"", 1, 1, "h:1"}), errc::decode_error));
  CHECK(is(dec(hello{"c", 0, 1, "h:1"}), errc::decode_error));
  CHECK(is(dec(hello{"c", 1, 0, "h:1"}), errc::decode_error));
  CHECK(dec(hello{"c", 1, 99, "h:1"}));  // other versions are the handshake's call
  // A client may leave cluster and node empty; a peer may not.
  CHECK(dec(hello{"", 0, 1, "", true}));
  CHECK(is(dec(hello{"", 0, 1, "", false}), errc::decode_error));

  CHECK(is(dec(join_request{member_update{0, "a", 1, member_status::alive}}), errc::decode_error));
  CHECK(is(dec(join_request{member_update{1, "a", 1, static_cast<member_status>(4)}}), errc::decode_error));
  CHECK(is(dec(ping{1, {member_update{1, "a", 1, static_cast<member_status>(200)}}}), errc::decode_error));
  CHECK(is(dec(ping_req{1, 0, "a", {}}), errc::decode_error));

  auto delta_with = [](node_id origin, uint64_t seq, crdt::type_tag t) {
    return push{{delta_entry{origin, seq, delta_record{"k", t, 5, "d", {}}}}, false};
  };
  CHECK(dec(delta_with(1, 1, crdt::type_tag::ew_flag)));
  CHECK(is(dec(delta_with(0, 1, crdt::type_tag::g_counter)), errc::decode_error));
  CHECK(is(dec(delta_with(1, 0, crdt::type_tag::g_counter)), errc::decode_error));
  CHECK(is(dec(delta_with(1, 1, static_cast<crdt::type_tag>(0))), errc::decode_error));
  CHECK(dec(delta_with(1, 1, crdt::type_tag::text)));
  CHECK(is(dec(delta_with(1, 1, static_cast<crdt::type_tag>(9))), errc::decode_error));

  sync_response sr;
  sr.truncated = {3, 0};
  CHECK(is(dec(sr), errc::decode_error));

  // Version vectors: counter 0, node 0, unsorted / duplicate nodes (patched into valid frames;
  // version_vector itself cannot hold them).
  constexpr uint64_t a = 0x1111222233334444, b = 0x5555666677778888;
  version_vector vv;
  vv.set(a, 0xABCDEF);
  vv.set(b, 7);
  std::string frame = encode_message_flat(sync_request{vv});
  REQUIRE(decode_message(frame));
  CHECK(is(decode_message(patch_after(frame, a, 0)), errc::decode_error));             // counter 0
  CHECK(is(decode_message(patch_after(frame, 0xABCDEF, a)), errc::decode_error));      // duplicate node
  CHECK(is(decode_message(patch_after(frame, 0xABCDEF, a - 1)), errc::decode_error));  // decreasing
  CHECK(is(decode_message(patch_after(frame, 0xABCDEF, 0)), errc::decode_error));      // node 0
  auto raised = decode_message(patch_after(frame, 0xABCDEF, b + 1));                    // still increasing
  REQUIRE(raised);
  CHECK(std::get<sync_request>(raised.value()).vv.get(b + 1) == 7);

  // Hand-made envelopes: an unknown union member is refused; a known one with a null body
  // reads as its defaults.
  CHECK(is(decode_message(bare_envelope(17)), errc::decode_error));
  CHECK(is(decode_message(bare_envelope(0xFFFF)), errc::decode_error));
  CHECK(is(decode_message(bare_envelope(0)), errc::decode_error));  // hello without cluster
  auto p = decode_message(bare_envelope(1));
  REQUIRE(p);
  CHECK(p.value() == message{ping{}});
}

TEST_CASE("wire: truncated, padded and empty frames are refused") {
  uint64_t seed = test::seed_for("wire truncation");
  INFO("RUMOR_SEED=" << seed);
  generator g(seed);
  g.set_large(0);
  CHECK(is(decode_message(""), errc::decode_error));
  for (int round = 0; round < 3; ++round) {
    for (size_t kind = 0; kind < kinds; ++kind) {
      std::string frame = encode_message(g.make(kind));
      INFO("kind " << kind << " size " << frame.size());
      size_t accepted = 0;
      for (size_t n = 0; n < frame.size(); ++n) accepted += static_cast<bool>(decode_message(frame.substr(0, n)));
      CHECK(accepted == 0);
      CHECK(is(decode_message(frame + std::string(8, '\0')), errc::decode_error));
      CHECK(is(decode_message(frame + "x"), errc::decode_error));
      CHECK(is(decode_message(frame + frame), errc::decode_error));
    }
  }
}

TEST_CASE("wire: random bytes and mutated frames never crash — accepted frames re-encode equal") {
  uint64_t seed = test::seed_for("wire fuzz");
  INFO("RUMOR_SEED=" << seed);
  generator g(seed);
  g.set_large(2'000);
  std::mt19937_64 rng(seed ^ 0x5eed);
  auto below = [&](uint64_t n) { return rng() % n; };

  std::vector<std::string> valid;  // both forms: packed (what nodes send) and flat
  for (int i = 0; i < 200; ++i) {
    message m = g.any();
    valid.push_back(i % 2 ? encode_message(m) : encode_message_flat(m));
  }

  size_t cases = 0, accepted = 0, unstable = 0;
  auto check = [&](const std::string& bytes) {
    ++cases;
    auto r = decode_message(bytes);
    if (!r) return;
    ++accepted;
    auto again = decode_message(encode_message(r.value()));
    if (!again || !(again.value() == r.value())) ++unstable;
  };

  // Pure garbage; half of it behind a plausible one-segment table so capnp parses the body.
  for (int i = 0; i < 5'000; ++i) {
    size_t words = below(40);
    std::string s(words * 8 + (below(4) == 0 ? below(8) : 0), '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    if (s.size() >= 8 && i % 4 == 1) s.replace(0, 8, le32_bytes(0) + le32_bytes(static_cast<uint32_t>(s.size() / 8 - 1)));
    // A quarter behind a packed header of the right length whose first word unpacks to that
    // table, so the unpacked bytes reach capnp's parser.
    if (s.size() >= 12 && i % 4 == 3) {
      s[4] = static_cast<char>(0x10);               // tag: only byte 4 of the word is present
      s[5] = static_cast<char>(1 + below(6));       // one segment of that many words
      s.replace(0, 4, le32_bytes(uint32_t{1} << 31 | static_cast<uint32_t>(s.size() - 4)));
    }
    check(s);
  }
  // Mutations of valid frames: bit flips, byte overwrites, word overwrites with small numbers.
  for (int i = 0; i < 25'000; ++i) {
    std::string s = valid[below(valid.size())];
    for (size_t n = 1 + below(3); n > 0; --n) {
      size_t at = below(s.size());
      switch (below(3)) {
        case 0: s[at] = static_cast<char>(s[at] ^ (1 << below(8))); break;
        case 1: s[at] = static_cast<char>(rng()); break;
        default: {
          size_t w = at & ~size_t{7};
          s.replace(w, 8, le64_bytes(below(3) == 0 ? rng() : below(1 << 20)));
        }
      }
    }
    check(s);
  }
  MESSAGE(cases << " cases, " << accepted << " accepted");
  CHECK(cases >= 20'000);
  CHECK(unstable == 0);
}

TEST_CASE("wire: packed frames — header, malformed packing and the unpacked bound") {
  auto packed_frame = [](const std::string& body) {
    return le32_bytes(uint32_t{1} << 31 | static_cast<uint32_t>(body.size())) + body;
  };
  // The header alone gives the length; the limit applies to it.
  CHECK(*frame_size_from_prefix(le32_bytes(uint32_t{1} << 31 | 20)) == 24);
  auto r = frame_size_from_prefix(le32_bytes(uint32_t{1} << 31 | 200), 100);
  CHECK((!r && r.err().code == errc::too_large));
  r = frame_size_from_prefix(le32_bytes(0xFFFFFFFF));
  CHECK((!r && r.err().code == errc::too_large));

  std::string ok = encode_message(ping{9, {}});
  REQUIRE((le32(ok, 0) >> 31) == 1);
  REQUIRE(decode_message(ok));
  CHECK(is(decode_message(packed_frame("")), errc::decode_error));  // nothing to unpack
  // Malformed packing: a tag whose present bytes are cut off; a zero tag or 0xff tag without its
  // count; a 0xff run whose words are cut off.
  CHECK(is(decode_message(packed_frame(std::string("\x03\x01", 2))), errc::decode_error));
  CHECK(is(decode_message(packed_frame(std::string("\x00", 1))), errc::decode_error));
  CHECK(is(decode_message(packed_frame(std::string("\xff") + "12345678")), errc::decode_error));
  CHECK(is(decode_message(packed_frame(std::string("\xff") + "12345678" + std::string("\x02", 1) + "abcdefgh")), errc::decode_error));
  // Well-formed packing that does not unpack to exactly one flat frame: a lone zero word (a
  // table announcing an empty segment); a table claiming more words than follow; a trailing word.
  CHECK(is(decode_message(packed_frame(std::string("\x00\x00", 2))), errc::decode_error));
  CHECK(is(decode_message(packed_frame(std::string("\x10\x05\x00\x00", 4))), errc::decode_error));
  std::string body = ok.substr(4);
  CHECK(is(decode_message(packed_frame(body + std::string("\x00\x00", 2))), errc::decode_error));
  // Packed inside packed is not a frame.
  CHECK(is(decode_message(packed_frame(std::string("\x08\x80", 2))), errc::decode_error));
  // Zero runs that unpack beyond max_frame_bytes are refused before anything is allocated:
  // each "\x00\xff" is 256 zero words (2 KiB).
  std::string bomb;
  for (size_t unpacked = 0; unpacked <= max_frame_bytes; unpacked += 2048) bomb += std::string("\x00\xff", 2);
  CHECK(bomb.size() < size_t{80} << 10);
  auto refused = decode_message(packed_frame(bomb));
  REQUIRE(!refused);
  CHECK(refused.err().code == errc::decode_error);
  CHECK(refused.err().message.find("unpacks to more than") != std::string::npos);
  // Within the bound, the same zeros are a table for one empty segment plus junk: refused.
  CHECK(is(decode_message(packed_frame(std::string("\x00\xff", 2))), errc::decode_error));
}

TEST_CASE("wire: absurd segment tables are refused") {
  // segment count field 0xFFFFFFFF = 2^32 segments
  auto r = frame_size_from_prefix(le32_bytes(0xFFFFFFFF));
  CHECK((!r && r.err().code == errc::too_large));
  // 513 segments: refused from the first 4 bytes; 512 is allowed (needs the whole table).
  r = frame_size_from_prefix(le32_bytes(512));
  CHECK((!r && r.err().code == errc::too_large));
  r = frame_size_from_prefix(le32_bytes(511));
  REQUIRE(r);
  CHECK(*r == 0);
  std::string table512 = le32_bytes(511);
  for (int i = 0; i < 512; ++i) table512 += le32_bytes(1);
  table512 += le32_bytes(0);  // padding
  r = frame_size_from_prefix(table512);
  REQUIRE(r);
  CHECK(*r == table512.size() + 512 * 8);
  CHECK(*frame_size_from_prefix(table512.substr(0, table512.size() - 1)) == 0);

  // huge first segment
  r = frame_size_from_prefix(le32_bytes(0) + le32_bytes(0xFFFFFFFF));
  CHECK((!r && r.err().code == errc::too_large));
  // many 8 MiB segments: refused once the sum passes the bound, before the table is complete
  std::string many = le32_bytes(99);
  for (int i = 0; i < 9; ++i) many += le32_bytes(1 << 20);
  r = frame_size_from_prefix(many);
  CHECK((!r && r.err().code == errc::too_large));
  // exactly at the bound is fine; one word more is not
  r = frame_size_from_prefix(le32_bytes(0) + le32_bytes(static_cast<uint32_t>((max_frame_bytes - 8) / 8)));
  REQUIRE(r);
  CHECK(*r == max_frame_bytes);
  r = frame_size_from_prefix(le32_bytes(0) + le32_bytes(static_cast<uint32_t>((max_frame_bytes - 8) / 8 + 1)));
  CHECK((!r && r.err().code == errc::too_large));
  // a caller-chosen smaller bound
  r = frame_size_from_prefix(le32_bytes(0) + le32_bytes(16), 128);
  CHECK((!r && r.err().code == errc::too_large));
  // short prefixes: more bytes needed
  CHECK(*frame_size_from_prefix("") == 0);
  CHECK(*frame_size_from_prefix(std::string(3, '\0')) == 0);
  CHECK(*frame_size_from_prefix(le32_bytes(0)) == 0);
  CHECK(*frame_size_from_prefix(le32_bytes(1) + le32_bytes(1) + le32_bytes(1)) == 0);  // padding missing
  CHECK(*frame_size_from_prefix(le32_bytes(1) + le32_bytes(1) + le32_bytes(2) + le32_bytes(0)) == 16 + 24);

  // decode_message and frame_reader refuse them too
  CHECK(is(decode_message(le32_bytes(0xFFFFFFFF) + le32_bytes(1)), errc::too_large));
  CHECK(is(decode_message(le32_bytes(0) + le32_bytes(0xFFFFFFFF)), errc::too_large));
  for (const std::string& bad : {le32_bytes(0xFFFFFFFF), le32_bytes(0) + le32_bytes(0xFFFFFFFF), many}) {
    frame_reader reader;
    reader.feed(encode_message(ping{7, {}}));
    reader.feed(bad);
    auto first = reader.next();
    REQUIRE(first);
    REQUIRE(first.value());
    CHECK(decode_message(**first).value() == message{ping{7, {}}});
    auto second = reader.next();
    REQUIRE(!second);
    CHECK(second.err().code == errc::too_large);
    reader.feed(encode_message(ping{8, {}}));  // dropped: the stream is lost
    auto third = reader.next();
    REQUIRE(!third);
    CHECK(third.err() == second.err());
  }
}

TEST_CASE("wire: oversized frames are refused") {
  message big = push{{delta_entry{1, 1, delta_record{"k", crdt::type_tag::or_set, 0, std::string(5000, 'x'), {}}}}, true};
  std::string frame = encode_message(big);
  {
    frame_reader reader(frame.size() - 8);
    reader.feed(frame.substr(0, 8));  // the table alone is enough to refuse it
    auto r = reader.next();
    REQUIRE(!r);
    CHECK(r.err().code == errc::too_large);
  }
  {
    frame_reader reader(frame.size());  // exactly at the bound
    reader.feed(frame);
    auto r = reader.next();
    REQUIRE(r);
    REQUIRE(r.value());
    CHECK(decode_message(**r).value() == big);
  }
  std::string huge(max_frame_bytes + 8, '\0');
  CHECK(is(decode_message(huge), errc::too_large));
}

TEST_CASE("wire: frame_reader cuts a stream into frames at any chunking") {
  uint64_t seed = test::seed_for("wire frame_reader");
  INFO("RUMOR_SEED=" << seed);
  generator g(seed);
  std::vector<message> msgs;
  std::vector<std::string> frames;
  std::string stream;
  for (int i = 0; i < 400; ++i) {
    msgs.push_back(g.any());
    frames.push_back(encode_message(msgs.back()));
    stream += frames.back();
  }
  for (size_t chunk : {size_t{1}, size_t{3}, size_t{4096}, stream.size()}) {
    INFO("chunk " << chunk);
    frame_reader reader;
    std::vector<std::string> got;
    bool failed = false;
    for (size_t at = 0; at < stream.size() && !failed; at += chunk) {
      reader.feed(std::string_view(stream).substr(at, chunk));
      while (true) {
        auto f = reader.next();
        if (!f) {
          failed = true;
          break;
        }
        if (!f.value()) break;
        got.push_back(std::move(**f));
      }
    }
    REQUIRE(!failed);
    CHECK(reader.buffered() == 0);
    REQUIRE(got.size() == frames.size());
    size_t mismatches = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      auto m = decode_message(got[i]);
      mismatches += got[i] != frames[i] || !m || !(m.value() == msgs[i]);
    }
    CHECK(mismatches == 0);
  }
}

// ---- the compare-and-set lane's messages ----

namespace {

result<cas_message> decode_cas(const std::string& frame) {
  auto f = decode_peer_frame(frame);
  if (!f) return f.err();
  if (!std::holds_alternative<cas_message>(*f)) return error{errc::decode_error, "not a cas message"};
  return std::get<cas_message>(*f);
}

void check_cas_round_trip(const cas_message& m) {
  auto frame = encode_message(m);
  auto back = decode_cas(frame);
  REQUIRE_MESSAGE(back.has_value(), (back ? std::string() : back.err().describe()));
  CHECK(*back == m);
  // A gossip-only decoder refuses it with an error, never a wrong message.
  auto gossip = decode_message(frame);
  REQUIRE(!gossip);
  CHECK(gossip.err().code == errc::decode_error);
  CHECK(gossip.err().message.find("compare-and-set") != std::string::npos);
}

}  // namespace

TEST_CASE("wire: compare-and-set lane messages round-trip (absent vs empty values, full lineage, max value)") {
  ballot b{7, 42}, a{3, 9};
  std::vector<ballot> lineage;
  for (uint64_t i = 0; i < cas_max_lineage; ++i) lineage.push_back(ballot{100 - i, 1 + i});
  check_cas_round_trip(cas_prepare{"k", b});
  check_cas_round_trip(cas_promise{"k", b, ballot{}, std::nullopt, {}});
  check_cas_round_trip(cas_promise{"k", b, a, std::string(), {a}});
  check_cas_round_trip(cas_promise{std::string("k\0ey", 4), b, a, std::string("v\0", 2), lineage});
  check_cas_round_trip(cas_accept{"k", b, std::nullopt, lineage, ballot{}});
  check_cas_round_trip(cas_accept{"k", b, std::string("v"), {b}, ballot{8, 42}});
  check_cas_round_trip(cas_accept{"k", b, std::string(max_cas_value_bytes, 'x'), {b}});
  check_cas_round_trip(cas_accepted{"key", b});
  check_cas_round_trip(cas_nack{"key", b, ballot{UINT64_MAX, UINT64_MAX}});
  // Absent and empty stay distinct.
  auto absent = decode_cas(encode_message(cas_message{cas_accept{"k", b, std::nullopt, {}}}));
  auto empty = decode_cas(encode_message(cas_message{cas_accept{"k", b, std::string(), {}}}));
  REQUIRE(absent);
  REQUIRE(empty);
  CHECK(!std::get<cas_accept>(*absent).value.has_value());
  CHECK(std::get<cas_accept>(*empty).value == std::optional<std::string>(""));
  // Gossip frames come through decode_peer_frame as gossip messages.
  auto g = decode_peer_frame(encode_message(message{ping{5, {}}}));
  REQUIRE(g);
  CHECK(std::holds_alternative<message>(*g));
}

TEST_CASE("wire: compare-and-set lane messages are validated") {
  auto refused = [](const cas_message& m, const char* why) {
    auto r = decode_cas(encode_message(m));
    REQUIRE(!r);
    CHECK(r.err().code == errc::decode_error);
    CHECK_MESSAGE(r.err().message.find(why) != std::string::npos, r.err().message);
  };
  ballot b{1, 2};
  refused(cas_prepare{"", b}, "empty key");
  refused(cas_prepare{std::string(max_cas_key_bytes + 1, 'k'), b}, "key of");
  refused(cas_prepare{"k", ballot{}}, "zero ballot");
  refused(cas_prepare{"k", ballot{0, 5}}, "counter >= 1");
  refused(cas_accepted{"k", ballot{5, 0}}, "node != 0");
  refused(cas_nack{"k", b, ballot{0, 3}}, "counter >= 1");
  refused(cas_accept{"k", b, std::string(max_cas_value_bytes + 1, 'v'), {}}, "value of");
  std::vector<ballot> long_lineage(cas_max_lineage + 1, b);
  refused(cas_accept{"k", b, std::string("v"), long_lineage}, "lineage of");
  refused(cas_accept{"k", b, std::string("v"), {}, ballot{0, 7}}, "counter >= 1");
  refused(cas_promise{"k", b, b, std::nullopt, {ballot{}}}, "zero ballot");
  // Truncated and garbage frames give errors.
  auto frame = encode_message(cas_message{cas_accept{"k", b, std::string(100, 'v'), {b}}});
  for (size_t cut : {size_t{0}, size_t{4}, size_t{8}, frame.size() / 2, frame.size() - 8}) {
    auto r = decode_peer_frame(frame.substr(0, cut));
    CHECK(!r);
  }
  std::mt19937_64 rng(rumor::test::seed_for("wire cas garbage"));
  for (int i = 0; i < 2000; ++i) {
    std::string f = frame;
    for (int j = 0; j < 4; ++j) f[rng() % f.size()] = static_cast<char>(rng());
    auto r = decode_peer_frame(f);  // must not crash; if accepted, it re-encodes to a valid frame
    if (r && std::holds_alternative<cas_message>(*r)) CHECK(decode_cas(encode_message(std::get<cas_message>(*r))));
  }
}
