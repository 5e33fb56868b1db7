// Rendering of real CRDT values as text and JSON; JSON string escaping; context text round trip;
// host:port parsing.
#include <doctest/doctest.h>

#include <cctype>
#include <string>

#include "client/host_port.hpp"
#include "client/render.hpp"
#include "crdt/codec.hpp"

using namespace rumor;
using namespace rumor::client;
using namespace rumor::crdt;

TEST_CASE("render: counters") {
  g_counter g;
  REQUIRE(g.increment(1, 40));
  REQUIRE(g.increment(2, 2));
  CHECK(render_json(g) == "42");
  CHECK(render_text(g) == "42");
  pn_counter p;
  REQUIRE(p.add(1, 5));
  REQUIRE(p.add(2, -12));
  CHECK(render_json(p) == "-7");
  CHECK(render_text(p) == "-7");
  CHECK(render_json(value{}) == "0");
}

TEST_CASE("render: lww register") {
  lww_register r;
  CHECK(render_json(r) == "null");
  CHECK(render_text(r) == "(unset)");
  r.assign(1, hlc_timestamp::make(100, 0), "hello \"world\"");
  CHECK(render_json(r) == "\"hello \\\"world\\\"\"");
  CHECK(render_text(r) == "hello \"world\"");
  r.assign(1, hlc_timestamp::make(101, 0), std::string("a\0b\n\x1b", 5));
  CHECK(render_json(r) == "\"a\\u0000b\\n\\u001b\"");
  CHECK(render_text(r) == "a\\x00b\\n\\x1b");
}

TEST_CASE("render: mv register with siblings and its context") {
  mv_register a, b;
  a.assign(1, "x");
  b.assign(2, "y");
  a.join(b);
  REQUIRE(a.siblings().size() == 2);
  std::string ctx = context_to_string(a.read_context());
  CHECK(render_json(a) == "{\"siblings\":[\"x\",\"y\"],\"context\":\"" + ctx + "\"}");
  CHECK(render_text(a) == "\"x\" | \"y\"  [context " + ctx + "]");

  // The context text parses back to the same context, and a write with it supersedes both.
  auto parsed = parse_context(ctx);
  REQUIRE(parsed);
  CHECK(*parsed == a.read_context());
  a.assign(1, "z", *parsed);
  CHECK(a.siblings() == std::vector<std::string>{"z"});

  mv_register empty;
  CHECK(render_text(empty).starts_with("(unset)  [context "));
  CHECK(render_json(empty).starts_with("{\"siblings\":[],\"context\":\""));
}

TEST_CASE("render: or_set is sorted — ew_flag") {
  or_set s;
  s.add(1, "pear");
  s.add(2, "apple");
  s.add(1, "fig");
  s.add(1, "gone");
  s.remove("gone");
  CHECK(render_json(s) == "[\"apple\",\"fig\",\"pear\"]");
  CHECK(render_text(s) == "{\"apple\", \"fig\", \"pear\"}");
  CHECK(render_json(or_set{}) == "[]");

  ew_flag f;
  CHECK(render_json(f) == "false");
  f.enable(3);
  CHECK(render_json(f) == "true");
  CHECK(render_text(f) == "true");
  f.disable();
  CHECK(render_text(f) == "false");
}

TEST_CASE("render: or_map, nested, with colliding field names") {
  or_map m;
  REQUIRE(m.update<pn_counter>("visits", [](pn_counter& c) { return c.add(1, 3); }));
  REQUIRE(m.update<or_set>("tags", [](or_set& s) { return s.add(1, "b"); }));
  REQUIRE(m.update<or_set>("tags", [](or_set& s) { return s.add(1, "a"); }));
  REQUIRE(m.update<ew_flag>("tags", [](ew_flag& f) { return f.enable(1); }));
  REQUIRE(m.update<or_map>("inner", [](or_map& n) {
    return n.update<lww_register>("name", [](lww_register& r) { return r.assign(1, hlc_timestamp::make(5, 0), "bob"); });
  }));
  // Fields are in (name, type) order; "tags" has two types.
  CHECK(render_json(m) ==
        "{\"inner\":{\"name\":\"bob\"},\"tags:or_set\":[\"a\",\"b\"],\"tags:ew_flag\":true,\"visits\":3}");
  CHECK(render_text(m) == "{inner: {name: bob}, tags:or_set: {\"a\", \"b\"}, tags:ew_flag: true, visits: 3}");
  m.remove("tags");
  CHECK(render_json(m) == "{\"inner\":{\"name\":\"bob\"},\"visits\":3}");
  CHECK(render_json(or_map{}) == "{}");
}

TEST_CASE("render: from codec bytes") {
  or_set s;
  s.add(1, "k");
  auto j = render_json_from_bytes(encode(s));
  REQUIRE(j);
  CHECK(*j == "[\"k\"]");
  auto t = render_text_from_bytes(encode(value{s}));
  REQUIRE(t);
  CHECK(*t == "{\"k\"}");
  auto bad = render_json_from_bytes("not a value");
  REQUIRE(!bad);
  CHECK(bad.err().code == errc::decode_error);
  CHECK(!render_text_from_bytes(""));
}

TEST_CASE("render: JSON string escaping") {
  CHECK(json_quote("") == "\"\"");
  CHECK(json_quote("plain text") == "\"plain text\"");
  CHECK(json_quote("q\"b\\s/") == "\"q\\\"b\\\\s/\"");
  CHECK(json_quote("\b\f\n\r\t") == "\"\\b\\f\\n\\r\\t\"");
  CHECK(json_quote(std::string("\x00\x01\x1f\x7f", 4)) == "\"\\u0000\\u0001\\u001f\\u007f\"");
  // valid UTF-8 passes through: 2, 3 and 4 byte sequences
  CHECK(json_quote("\xc3\xa9") == "\"\xc3\xa9\"");
  CHECK(json_quote("\xe2\x82\xac") == "\"\xe2\x82\xac\"");
  CHECK(json_quote("\xf0\x9f\x98\x80") == "\"\xf0\x9f\x98\x80\"");
  // invalid bytes become \u00XX each
  CHECK(json_quote("\xff") == "\"\\u00ff\"");
  CHECK(json_quote("\x80z") == "\"\\u0080z\"");
  CHECK(json_quote("\xc3") == "\"\\u00c3\"");                              // truncated
  CHECK(json_quote("\xc0\xaf") == "\"\\u00c0\\u00af\"");                   // overlong
  CHECK(json_quote("\xe0\x80\xaf") == "\"\\u00e0\\u0080\\u00af\"");        // overlong (3 bytes)
  CHECK(json_quote("\xed\xa0\x80") == "\"\\u00ed\\u00a0\\u0080\"");        // surrogate
  CHECK(json_quote("\xf4\x90\x80\x80") == "\"\\u00f4\\u0090\\u0080\\u0080\"");  // > U+10FFFF
  CHECK(json_quote("\xe2\x82") == "\"\\u00e2\\u0082\"");

  // Every byte string gives ASCII-safe JSON: no raw control bytes, balanced quotes.
  for (int c = 0; c < 256; ++c) {
    std::string q = json_quote(std::string(1, static_cast<char>(c)));
    for (char ch : q) CHECK(static_cast<unsigned char>(ch) >= 0x20);
    CHECK(q.front() == '"');
    CHECK(q.back() == '"');
  }
}

TEST_CASE("render: text escaping") {
  CHECK(text_escape("a\\b") == "a\\\\b");
  CHECK(text_escape("say \"hi\"") == "say \"hi\"");
  CHECK(text_escape("say \"hi\"", true) == "\"say \\\"hi\\\"\"");
  CHECK(text_escape(std::string("\x00\x1b[31m", 6)) == "\\x00\\x1b[31m");
  CHECK(text_escape("caf\xc3\xa9 \xff") == "caf\xc3\xa9 \\xff");
}

TEST_CASE("render: context text round trip and errors") {
  dot_context empty;
  std::string e = context_to_string(empty);
  CHECK(!e.empty());
  auto back = parse_context(e);
  REQUIRE(back);
  CHECK(*back == empty);

  mv_register a, b;
  a.assign(7, "x");
  b.assign(9, "y");
  b.assign(9, "y2");
  a.join(b);
  std::string t = context_to_string(a.read_context());
  for (char c : t) CHECK(((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')));
  std::string upper = t;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(parse_context(upper).value() == a.read_context());
  CHECK(parse_context("  " + t + "\n").value() == a.read_context());

  auto odd = parse_context("abc");
  REQUIRE(!odd);
  CHECK(odd.err().code == errc::invalid_argument);
  auto nonhex = parse_context("zz");
  REQUIRE(!nonhex);
  CHECK(nonhex.err().code == errc::invalid_argument);
  auto garbage = parse_context("00112233");
  REQUIRE(!garbage);
  CHECK(garbage.err().code == errc::decode_error);
  // Empty bytes are the empty context ("saw nothing"; docs/protocol.md, section 7).
  CHECK(parse_context("").value() == crdt::dot_context{});
}

TEST_CASE("host_port parsing") {
  CHECK(parse_host_port("127.0.0.1:7000").value() == host_port{"127.0.0.1", 7000});
  CHECK(parse_host_port("node-1.example:1").value() == host_port{"node-1.example", 1});
  CHECK(parse_host_port("[::1]:65535").value() == host_port{"::1", 65535});
  for (const char* bad : {"", "host", "host:", ":7000", "host:0", "host:65536", "host:7x", "::1:7000",
                          "[::1]", "[::1]7000", "[::1", "host:123456", "host:-1"}) {
    INFO(bad);
    auto r = parse_host_port(bad);
    REQUIRE(!r);
    CHECK(r.err().code == errc::invalid_argument);
  }
}

TEST_CASE("render: what a watch event says of a set's members and of a map's fields") {
  set_changes s{1001, {"a"}, {"b"}, true};
  CHECK(render_text(s) == "+\"a\" -\"b\" (1001 members)");
  CHECK(render_json(s) == R"({"size":1001,"added":["a"],"removed":["b"],"complete":true})");
  set_changes m{1, {"x y"}, {}, false, {"c", "d"}, type_tag::or_map};
  CHECK(render_text(m) == "+\"x y\" ~\"c\" ~\"d\" (1 field; more changed)");
  CHECK(render_json(m) == R"({"size":1,"added":["x y"],"removed":[],"changed":["c","d"],"complete":false})");
  // A big map's value left out: the event names its type.
  CHECK(render_event_json("doc", nullptr, "1f", &m, true) ==
        R"({"key":"doc","type":"or_map","value":null,"origin":"1f","value_omitted":true,"set":)" + render_json(m) + "}");
  CHECK(render_event_json("s", nullptr, "1f", &s, true).find(R"("type":"or_set")") != std::string::npos);
}
