// Client codec: round trip of every message kind (randomized), enum and union validation,
// truncated / garbage / mutated frames never crash and give errors.
#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "client/client_codec.hpp"
#include "replication/wire_codec.hpp"
#include "seed.hpp"

using namespace rumor;
using namespace rumor::client;

namespace {

// Random instances of every client message type.
class generator {
 public:
  explicit generator(uint64_t seed) : rng_(seed) {}

  uint64_t u64() { return rng_(); }
  uint64_t below(uint64_t n) { return rng_() % n; }
  bool coin() { return rng_() & 1; }
  void set_large(size_t n) { large_ = n; }

  uint64_t number() {
    switch (below(6)) {
      case 0: return 0;
      case 1: return UINT64_MAX;
      case 2: return below(1000);
      default: return u64();
    }
  }

  // Bytes of any value (NUL included); a few long ones so frames get several segments.
  std::string bytes(size_t max_len = 30) {
    size_t len = below(40) == 0 ? below(large_ + 1) : below(max_len + 1);
    std::string s(len, '\0');
    for (auto& c : s) c = static_cast<char>(u64());
    return s;
  }

  template <class F>
  auto list(size_t max_n, F&& f) {
    std::vector<decltype(f())> out(below(max_n + 1));
    for (auto& x : out) x = f();
    return out;
  }

  crdt::type_tag type() { return static_cast<crdt::type_tag>(1 + below(7)); }

  update any_update() {
    update u;
    u.key = bytes();
    u.path = list(3, [&] { return bytes(); });
    u.op = static_cast<op_kind>(below(7));
    u.type = type();
    u.amount = static_cast<int64_t>(number());
    u.value = bytes();
    u.members = list(4, [&] { return bytes(); });
    u.flag = coin();
    if (coin()) u.context = bytes();  // sometimes present and empty
    u.conditional = coin();
    u.return_value = coin();
    return u;
  }
  get any_get() {
    get g{bytes()};
    if (coin()) {
      g.path = list(3, [&] { return bytes(); });
      g.view = static_cast<view_kind>(below(4));
      g.member = bytes();
      if (coin()) g.after = bytes();  // sometimes present and empty
      g.limit = static_cast<uint32_t>(number());
    }
    return g;
  }

  request any_request() {
    request r;
    r.id = number();
    r.level = static_cast<consistency>(below(3));
    r.timeout_ms = static_cast<uint32_t>(number());
    switch (below(9)) {
      case 0: r.body = any_update(); break;
      case 1: r.body = any_get(); break;
      case 2: r.body = keys{bytes(), static_cast<uint32_t>(number())}; break;
      case 3: r.body = watch{bytes(), coin(), coin()}; break;
      case 4: r.body = unwatch{number()}; break;
      case 5: r.body = members{}; break;
      case 6: {
        cas c{bytes(), std::nullopt, std::nullopt};
        if (coin()) c.expected = bytes();  // sometimes present and empty
        if (coin()) c.value = bytes();
        r.body = c;
        break;
      }
      case 7: r.body = lget{bytes()}; break;
      default: r.body = client::status{}; break;
    }
    return r;
  }

  response any_response() {
    response r;
    r.id = number();
    r.code = static_cast<errc>(below(16));
    r.message = bytes();
    r.values = list(3, [&] { return key_value{bytes(), bytes(), bytes()}; });
    r.key_list = list(4, [&] { return key_type{bytes(), type()}; });
    r.member_list = list(3, [&] {
      return member_info{number(), bytes(), static_cast<uint8_t>(below(4)), number()};
    });
    if (coin()) {
      node_status s;
      s.node = number();
      s.address = bytes();
      s.cluster = bytes();
      s.readiness = bytes();
      s.keys = number();
      s.delta_log = number();
      s.local_updates = number();
      s.remote_applied = number();
      s.peers = list(3, [&] { return peer_lag{number(), number(), number()}; });
      s.tombstones = number();
      s.tombstones_collected = number();
      s.cas_voters = static_cast<uint32_t>(number());
      s.write_behind_bytes = number();
      s.log_backlog = number();
      s.checkpoint = number();
      s.last_materialize_ms = number();
      s.write_behind_error = bytes();
      r.node = s;
    }
    if (coin()) {
      collection_view c;
      if (coin()) c.type = type();
      c.size = number();
      c.contains = coin();
      c.members = list(4, [&] { return bytes(); });
      c.fields = list(3, [&] { return key_value{bytes(), bytes(), bytes()}; });
      c.more = coin();
      r.collection = c;
    }
    if (coin()) r.outcome = update_outcome{number(), number()};
    return r;
  }

  event any_event() {
    event e{number(), bytes(), bytes(), number()};
    if (coin()) {
      e.set = set_changes{number(), list(3, [&] { return bytes(); }), list(3, [&] { return bytes(); }), coin()};
      if (coin()) {  // a map's: changed fields too
        e.set->type = crdt::type_tag::or_map;
        e.set->changed = list(3, [&] { return bytes(); });
      }
    }
    e.value_omitted = coin();
    return e;
  }

  client_message any() {
    switch (below(3)) {
      case 0: return any_request();
      case 1: return any_response();
      default: return any_event();
    }
  }

 private:
  std::mt19937_64 rng_;
  size_t large_ = 20'000;
};

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

// A one-segment frame whose root is a bare ClientMessage struct (1 data word, 1 pointer) with the
// given union discriminant and a null pointer.
std::string bare_envelope(uint16_t discriminant) {
  std::string f = le32_bytes(0) + le32_bytes(3);
  f += le64_bytes(uint64_t{1} << 32 | uint64_t{1} << 48);  // struct pointer: offset 0, 1 data word, 1 ptr
  f += le64_bytes(discriminant);
  f += le64_bytes(0);
  return f;
}

bool is(const result<client_message>& r, errc code) { return !r && r.err().code == code; }

result<client_message> round_trip(const client_message& m) { return decode_client(encode_client(m)); }

}  // namespace

TEST_CASE("client codec: every message kind round-trips") {
  uint64_t seed = test::seed_for("client codec round trip");
  INFO("RUMOR_SEED=" << seed);
  generator g(seed);
  // Sized by the variants (a fixed 7 overflowed once cas and lget were added; found by UBSan).
  size_t per_kind[std::variant_size_v<client_message>] = {};
  size_t per_body[std::variant_size_v<decltype(request::body)>] = {};
  size_t multi_segment = 0;
  for (int round = 0; round < 3000; ++round) {
    client_message m = g.any();
    std::string frame = encode_client(m);
    CHECK(frame.size() % 8 == 0);
    uint32_t segments;
    std::memcpy(&segments, frame.data(), 4);
    multi_segment += segments > 0;
    auto back = decode_client(frame);
    INFO("kind " << m.index() << " round " << round);
    REQUIRE(back);
    CHECK(back.value() == m);
    ++per_kind[m.index()];
    if (auto* r = std::get_if<request>(&m)) ++per_body[r->body.index()];
  }
  for (size_t n : per_kind) CHECK(n > 0);
  for (size_t n : per_body) CHECK(n > 0);
  CHECK(multi_segment > 0);
}

TEST_CASE("client codec: defaults and edge values round-trip") {
  for (const client_message& m : std::vector<client_message>{
           request{}, response{}, event{}, request{0, consistency::all, 0, client::status{}},
           request{UINT64_MAX, consistency::majority, UINT32_MAX, keys{"", 0}},
           response{1, errc::too_large, std::string("nul\0inside", 10), {}, {}, {}, node_status{}},
           event{UINT64_MAX, std::string(1, '\0'), "", 0}}) {
    auto back = round_trip(m);
    REQUIRE(back);
    CHECK(back.value() == m);
  }
  // An absent context and a present, empty context are different.
  update u;
  u.op = op_kind::mv_put;
  u.type = crdt::type_tag::mv_register;
  auto absent = round_trip(request{1, consistency::local, 10, u});
  REQUIRE(absent);
  CHECK(!std::get<update>(std::get<request>(absent.value()).body).context.has_value());
  u.context = "";
  auto empty = round_trip(request{1, consistency::local, 10, u});
  REQUIRE(empty);
  auto ctx = std::get<update>(std::get<request>(empty.value()).body).context;
  REQUIRE(ctx.has_value());
  CHECK(ctx->empty());
  // A splice (version 5): its position, delete count and text survive, up to the largest.
  update sp;
  sp.key = "doc";
  sp.op = op_kind::splice;
  sp.type = crdt::type_tag::text;
  sp.position = UINT64_MAX;
  sp.delete_count = 3;
  sp.value = "h\xC3\xA9";
  sp.context = "";
  sp.conditional = true;
  auto spliced = round_trip(request{2, consistency::local, 10, sp});
  REQUIRE(spliced);
  CHECK(std::get<update>(std::get<request>(spliced.value()).body) == sp);
  // response.node: absent vs present with defaults.
  auto no_node = round_trip(response{});
  REQUIRE(no_node);
  CHECK(!std::get<response>(no_node.value()).node.has_value());
}

TEST_CASE("client codec: enums and unions are validated") {
  auto bad = [](const client_message& m) { return is(round_trip(m), errc::decode_error); };
  auto with_update = [](auto mutate) {
    update u;
    u.key = "k";
    mutate(u);
    return client_message{request{1, consistency::local, 100, u}};
  };
  // CRDT type 1..8
  CHECK(round_trip(with_update([](update& u) { u.type = crdt::type_tag::ew_flag; })));
  CHECK(round_trip(with_update([](update& u) { u.type = crdt::type_tag::text; })));
  CHECK(bad(with_update([](update& u) { u.type = static_cast<crdt::type_tag>(0); })));
  CHECK(bad(with_update([](update& u) { u.type = static_cast<crdt::type_tag>(9); })));
  CHECK(bad(with_update([](update& u) { u.type = static_cast<crdt::type_tag>(255); })));
  // op kind 0..7
  CHECK(round_trip(with_update([](update& u) { u.op = op_kind::remove_key; })));
  CHECK(round_trip(with_update([](update& u) { u.op = op_kind::splice; })));
  CHECK(bad(with_update([](update& u) { u.op = static_cast<op_kind>(8); })));
  CHECK(bad(with_update([](update& u) { u.op = static_cast<op_kind>(200); })));
  // consistency 0..2
  CHECK(bad(request{1, static_cast<consistency>(3), 1, get{"k"}}));
  CHECK(bad(request{1, static_cast<consistency>(255), 1, get{"k"}}));
  // error code 0..16
  response r;
  r.code = errc::unauthenticated;
  CHECK(round_trip(r));
  r.code = static_cast<errc>(17);
  CHECK(bad(r));
  r.code = static_cast<errc>(255);
  CHECK(bad(r));
  // key list types
  response k;
  k.key_list = {key_type{"a", crdt::type_tag::or_map}, key_type{"b", static_cast<crdt::type_tag>(0)}};
  CHECK(bad(k));
  k.key_list[1].type = static_cast<crdt::type_tag>(9);
  CHECK(bad(k));
  // get view 0..3; a collection's type: unknown (absent) or 1..8
  get g{"k"};
  g.view = view_kind::page;
  CHECK(round_trip(request{1, consistency::local, 1, g}));
  g.view = static_cast<view_kind>(4);
  CHECK(bad(request{1, consistency::local, 1, g}));
  response cv;
  cv.collection = collection_view{};
  auto absent_type = round_trip(cv);
  REQUIRE(absent_type);
  CHECK(!std::get<response>(absent_type.value()).collection->type.has_value());
  cv.collection->type = static_cast<crdt::type_tag>(9);
  CHECK(bad(cv));
  // member status 0..3
  response m;
  m.member_list = {member_info{1, "h:1", 3, 0}};
  CHECK(round_trip(m));
  m.member_list[0].status = 4;
  CHECK(bad(m));

  // Unknown ClientMessage union members are refused; a known one with a null body reads as its
  // defaults.
  CHECK(is(decode_client(bare_envelope(3)), errc::decode_error));
  CHECK(is(decode_client(bare_envelope(0xFFFF)), errc::decode_error));
  auto e = decode_client(bare_envelope(2));
  REQUIRE(e);
  CHECK(e.value() == client_message{event{}});
  auto q = decode_client(bare_envelope(0));  // a null Request: defaults (body = update, type 0)
  CHECK(is(q, errc::decode_error));          // ... whose CRDT type 0 is refused

  // Unknown Request.body members: members{} and client::status{} frames differ only in the
  // discriminant; patch it beyond the known range.
  std::string fm = encode_client(request{5, consistency::local, 1, members{}});
  std::string fs = encode_client(request{5, consistency::local, 1, client::status{}});
  REQUIRE(fm.size() == fs.size());
  std::vector<size_t> diff;
  for (size_t i = 0; i < fm.size(); ++i)
    if (fm[i] != fs[i]) diff.push_back(i);
  REQUIRE(diff.size() == 1);
  CHECK(static_cast<unsigned char>(fm[diff[0]]) == 5);
  std::string unknown = fm;
  unknown[diff[0]] = 9;  // 7 and 8 are cas and lget
  CHECK(is(decode_client(unknown), errc::decode_error));
  unknown[diff[0]] = static_cast<char>(0xFF);
  unknown[diff[0] + 1] = static_cast<char>(0xFF);
  CHECK(is(decode_client(unknown), errc::decode_error));
  unknown = fm;
  unknown[diff[0]] = 6;
  CHECK(decode_client(unknown).value() == client_message{request{5, consistency::local, 1, client::status{}}});
}

TEST_CASE("client codec: truncated, padded and empty frames are refused") {
  uint64_t seed = test::seed_for("client codec truncation");
  INFO("RUMOR_SEED=" << seed);
  generator g(seed);
  g.set_large(0);
  CHECK(is(decode_client(""), errc::decode_error));
  CHECK(is(decode_client(std::string(4, '\0')), errc::decode_error));
  for (int round = 0; round < 50; ++round) {
    std::string frame = encode_client(g.any());
    for (size_t len = 0; len < frame.size(); ++len) {
      auto r = decode_client(std::string_view(frame).substr(0, len));
      CHECK(!r);
    }
    CHECK(is(decode_client(frame + "x"), errc::decode_error));
    CHECK(is(decode_client(frame + frame), errc::decode_error));
  }
  // Absurd segment tables.
  CHECK(is(decode_client(le32_bytes(0xFFFFFFFF) + le32_bytes(1)), errc::too_large));
  CHECK(is(decode_client(le32_bytes(0) + le32_bytes(0xFFFFFFFF)), errc::too_large));
  CHECK(is(decode_client(std::string(replication::max_frame_bytes + 8, '\0')), errc::too_large));
}

TEST_CASE("client codec: list sizes are bounded by the frame size") {
  // A hand-made response whose `values` list claims a million zero-sized elements in a frame of
  // a few words: refused (decode_error), never allocated.
  auto frame_with = [](uint32_t elements) {
    std::string f = le32_bytes(0) + le32_bytes(6);
    f += le64_bytes(uint64_t{1} << 32 | uint64_t{1} << 48);  // root: ClientMessage, 1 data, 1 ptr
    f += le64_bytes(1);                                       // discriminant: response
    f += le64_bytes(uint64_t{2} << 48);                       // Response: 0 data, 2 ptrs
    f += le64_bytes(0);                                       // message: null
    f += le64_bytes(1 | uint64_t{7} << 32);                   // values: inline composite, 0 words
    f += le64_bytes(uint64_t{elements} << 2);                 // tag: `elements` structs of size 0
    return f;
  };
  auto small = decode_client(frame_with(3));
  REQUIRE(small);
  CHECK(std::get<response>(small.value()).values.size() == 3);
  CHECK(is(decode_client(frame_with(1'000'000)), errc::decode_error));
  CHECK(is(decode_client(frame_with((1u << 29) - 1)), errc::decode_error));

  // Honest big lists pass.
  response r;
  r.values.assign(10'000, key_value{});
  auto back = round_trip(r);
  REQUIRE(back);
  CHECK(std::get<response>(back.value()).values.size() == 10'000);
}

TEST_CASE("client codec: random bytes and mutated frames never crash — accepted frames re-encode equal") {
  uint64_t seed = test::seed_for("client codec fuzz");
  INFO("RUMOR_SEED=" << seed);
  generator g(seed);
  g.set_large(2'000);
  std::mt19937_64 rng(seed ^ 0x5eed);
  auto below = [&](uint64_t n) { return rng() % n; };

  std::vector<std::string> valid;
  for (int i = 0; i < 200; ++i) valid.push_back(encode_client(g.any()));

  size_t cases = 0, accepted = 0, unstable = 0;
  auto check = [&](const std::string& bytes) {
    ++cases;
    auto r = decode_client(bytes);
    if (!r) {
      if (r.err().code != errc::decode_error && r.err().code != errc::too_large) ++unstable;
      return;
    }
    ++accepted;
    auto again = decode_client(encode_client(r.value()));
    if (!again || !(again.value() == r.value())) ++unstable;
  };

  for (int i = 0; i < 5'000; ++i) {
    size_t words = below(40);
    std::string s(words * 8 + (below(4) == 0 ? below(8) : 0), '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    if (s.size() >= 8 && (i & 1)) s.replace(0, 8, le32_bytes(0) + le32_bytes(static_cast<uint32_t>(s.size() / 8 - 1)));
    check(s);
  }
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
  CHECK(accepted > 0);
  CHECK(unstable == 0);
}
