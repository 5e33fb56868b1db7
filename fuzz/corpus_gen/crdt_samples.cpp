// crdt_samples: values of every CRDT type and their encodings for the seed corpus (samples.hpp).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fuzz/corpus_gen/samples.hpp"
#include "crdt/codec.hpp"
#include "legacy_codec.hpp"

namespace rumor::fuzz {

using namespace rumor::crdt;

namespace {

std::string binary(size_t n, uint8_t salt) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + salt) & 0xff);
  return s;
}

template <class T>
T unwrap(result<T> r) {
  return r ? std::move(*r) : T{};
}

void counters(std::vector<value>& out) {
  g_counter g;
  out.emplace_back(g);
  out.emplace_back(unwrap(g.increment(1, 5)));  // a delta
  (void)g.increment(2, 1);
  (void)g.increment(UINT64_MAX, UINT64_MAX / 2);
  out.emplace_back(g);
  pn_counter p;
  out.emplace_back(unwrap(p.add(7, -3)));
  (void)p.add(3, 1000);
  (void)p.add(4, -(int64_t{1} << 40));
  for (uint64_t n = 10; n < 40; ++n) (void)p.add(n, static_cast<int64_t>(n) - 20);
  out.emplace_back(p);
}

void registers(std::vector<value>& out) {
  lww_register l;
  out.emplace_back(l);
  out.emplace_back(l.assign(1, hlc_timestamp::make(1000, 0), "hello"));
  l.assign(2, hlc_timestamp::make(1001, 7), std::string("bin\0ary", 7));
  out.emplace_back(l);
  lww_register big;
  big.assign(3, hlc_timestamp::make(5, 1), binary(9'000, 1));  // more than one 8 KiB segment
  out.emplace_back(big);
  mv_register m;
  out.emplace_back(m.assign(4, "x"));
  mv_register other;
  other.assign(5, "y");
  m.join(other);  // two siblings
  out.emplace_back(m);
  m.assign(4, "z", m.read_context());
  out.emplace_back(m);
}

void sets_and_flags(std::vector<value>& out) {
  or_set s;
  out.emplace_back(s);
  out.emplace_back(s.add(5, "a"));
  s.add(6, "b");
  s.add(5, std::string("\0\xff", 2));
  out.emplace_back(s.remove("a"));  // a removal delta: context only
  out.emplace_back(s);
  or_set many;
  for (int i = 0; i < 300; ++i) many.add(1 + i % 3, "member-" + std::to_string(i));
  for (int i = 0; i < 300; i += 7) many.remove("member-" + std::to_string(i));  // context clouds
  out.emplace_back(many);
  ew_flag f;
  out.emplace_back(f);
  out.emplace_back(f.enable(8));
  f.enable(9);
  out.emplace_back(f);
  out.emplace_back(f.disable());
  out.emplace_back(f);
}

void maps(std::vector<value>& out) {
  or_map m;
  out.emplace_back(m);
  out.emplace_back(unwrap(m.update<pn_counter>("c", [](pn_counter& c) { return c.increment(7, 3); })));
  (void)m.update<g_counter>("g", [](g_counter& c) { return c.increment(1, 2); });
  (void)m.update<lww_register>("l", [](lww_register& r) { return r.assign(2, hlc_timestamp::make(9, 0), "v"); });
  (void)m.update<mv_register>("m", [](mv_register& r) { return r.assign(3, "w"); });
  (void)m.update<or_set>("s", [](or_set& s) { return s.add(4, "e"); });
  (void)m.update<ew_flag>("f", [](ew_flag& f) { return f.enable(5); });
  (void)m.update<or_set>("c", [](or_set& s) { return s.add(6, "same name, other type"); });
  out.emplace_back(m);
  out.emplace_back(m.remove("s"));
  out.emplace_back(m);
  // Nested maps, three deep.
  or_map deep;
  (void)deep.update<or_map>("a", [](or_map& a) {
    return a.update<or_map>("b", [](or_map& b) {
      return b.update<or_set>("c", [](or_set& s) { return s.add(1, "leaf"); });
    });
  });
  out.emplace_back(deep);
}

void texts(std::vector<value>& out) {
  text t;
  out.emplace_back(t);
  out.emplace_back(unwrap(t.splice(0x1234567890ABCDEFull, 0, 0, "hello, world")));
  out.emplace_back(unwrap(t.splice(7, 5, 2, "W\xC3\xB6")));  // a delete and a non-ASCII insert
  text other = t;
  (void)other.splice(8, 0, 0, ">");
  (void)t.splice(9, 12, 0, "<");
  out.emplace_back(t);
  text both = t;
  both.join(other);
  out.emplace_back(both);
  text pending;  // a delta whose origins are not in it: its run waits
  pending.join(unwrap(t.splice(9, 3, 0, "...")));
  out.emplace_back(pending);
}

}  // namespace

std::vector<value> sample_values() {
  std::vector<value> out;
  counters(out);
  registers(out);
  sets_and_flags(out);
  maps(out);
  texts(out);
  return out;
}

inputs crdt_value_inputs() {
  inputs out;
  int i = 0;
  for (const value& v : sample_values()) {
    std::string name = std::string(to_string(v.type())) + "-" + std::to_string(i++);
    out.emplace_back(name, encode(v));
    if (v.type() != type_tag::text) {  // a text has its compact form only
      std::string packed = encode_packed(v);
      if (encode(v) != packed) out.emplace_back(name + "-packed", packed);
      out.emplace_back(name + "-unpacked", test::unpacked_form(packed));
    }
    out.emplace_back(name + "-context", encode_context(v.context()));
  }
  out.emplace_back("context-empty", encode_context(dot_context{}));
  std::vector<dot> dots = {{1, 1}, {1, 2}, {1, 5}, {2, 3}, {UINT64_MAX, UINT64_MAX}};
  dot_context c = dot_context::of(dots);
  out.emplace_back("context-cloud", encode_context(c));
  out.emplace_back("context-cloud-unpacked", test::unpacked_form(encode_context(c)));
  return out;
}

}  // namespace rumor::fuzz
