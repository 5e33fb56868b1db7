// The node-table form (crdt/codec_node_table.hpp): a conversion and its reverse give back the
// compact bytes, node ids become table indices, and malformed input is refused, never a crash.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>

#include "crdt/codec.hpp"
#include "crdt/codec_node_table.hpp"
#include "seed.hpp"

using namespace rumor;
using namespace rumor::crdt;

namespace {

// Compact values of the four types with several origins, cloud dots and store dots off the vector.
std::vector<value> compact_samples(std::mt19937_64& rng) {
  std::vector<value> out;
  auto node = [&] { return 1 + rng() % 5 + (rng() % 2 ? 0x1234'5678'9abc'0000ull : 0); };
  for (int round = 0; round < 20; ++round) {
    g_counter g;
    pn_counter p, q;
    mv_register m;
    lww_register l;
    for (int i = 0, n = 1 + static_cast<int>(rng() % 4); i < n; ++i) {
      (void)g.increment(node(), 1 + rng() % 1000);
      (void)p.add(node(), static_cast<int64_t>(rng() % 2001) - 1000);
      m.assign(node(), std::string(rng() % 200, 'v'));
      l.assign(node(), hlc_timestamp::make(1000 + rng() % 100, static_cast<uint16_t>(rng() % 10)), std::string(rng() % 20, '\0'));
    }
    out.emplace_back(g);
    out.emplace_back(p);
    out.emplace_back(m);
    out.emplace_back(l);
    // A delta (context: the replaced dot and the new one) and a join with a cloud-only dot.
    (void)q.add(7, 3);
    if (auto d = q.add(7, 2)) out.emplace_back(*d);
    q.join(pn_counter{dot_fun<pn_entry>{{{dot{44, 7}, pn_entry{4, 1}}}}, dot_context::of(std::vector<dot>{{44, 5}, {44, 7}})});
    out.emplace_back(q);
  }
  out.emplace_back(g_counter{});
  out.emplace_back(lww_register{});
  return out;
}

struct table {
  std::vector<uint64_t> nodes;
  uint64_t operator()(uint64_t n) {
    auto it = std::find(nodes.begin(), nodes.end(), n);
    if (it != nodes.end()) return static_cast<uint64_t>(it - nodes.begin());
    nodes.push_back(n);
    return nodes.size() - 1;
  }
};

}  // namespace

TEST_CASE("node-table form: converts back to the same compact bytes, about 7 bytes smaller per node id") {
  uint64_t seed = test::seed_for("node-table round trip");
  INFO("RUMOR_SEED=" << seed);
  std::mt19937_64 rng(seed);
  for (const value& v : compact_samples(rng)) {
    std::string compact = encode(v);
    REQUIRE(static_cast<uint8_t>(compact[0]) == 0x40);
    table t;
    std::string form = "prefix";  // appends after what `out` holds
    REQUIRE(to_node_table_form(compact, form, std::ref(t)));
    CHECK(form.compare(0, 6, "prefix") == 0);
    form.erase(0, 6);
    CHECK(static_cast<uint8_t>(form[0]) == node_table_marker);
    CHECK(form.size() <= compact.size());  // equal: a value without nodes (empty)
    // Every node field shrank from 8 bytes to a one-byte index: 7 bytes per use of a node.
    CHECK((compact.size() - form.size()) % 7 == 0);
    auto back = from_node_table_form(form, t.nodes);
    REQUIRE(back.has_value());
    CHECK(*back == compact);
    // A form is not a codec value: crdt::decode refuses it.
    CHECK_FALSE(decode(form).has_value());
  }
}

TEST_CASE("node-table form: an increment delta of a counter is under 20 bytes") {
  pn_counter c;
  (void)c.add(0x5eed'0000'0000'0001ull, 1);
  auto d = c.add(0x5eed'0000'0000'0001ull, 1);
  REQUIRE(d.has_value());
  std::string compact = encode(value{*d}), form;
  table t;
  REQUIRE(to_node_table_form(compact, form, std::ref(t)));
  MESSAGE("compact " << compact.size() << " bytes, node-table form " << form.size());
  CHECK(form.size() < 20);
  CHECK(t.nodes == std::vector<uint64_t>{0x5eed'0000'0000'0001ull});
}

TEST_CASE("node-table form: what is not a structurally valid compact form is not converted") {
  table t;
  std::string out = "x";
  pn_counter c;
  (void)c.add(3, 4);
  std::string compact = encode(value{c});
  or_set s;
  s.add(1, "m");
  for (const std::string& bad : {std::string(), std::string("\x40"), encode(value{s}),  // packed: no compact form
                                 std::string("\x40\x05", 2) + compact.substr(2),          // or_set tag in a compact form
                                 compact + "x", compact.substr(0, compact.size() - 1),
                                 std::string("\x40\x02\x80\x00\x00\x00", 6)}) {  // a non-minimal varint
    CHECK_FALSE(to_node_table_form(bad, out, std::ref(t)));
    CHECK(out == "x");
  }
}

TEST_CASE("node-table form: indices outside the table, cut-off and mutated forms are refused, never a crash") {
  uint64_t seed = test::seed_for("node-table garbage");
  INFO("RUMOR_SEED=" << seed);
  std::mt19937_64 rng(seed);
  std::vector<std::pair<std::string, std::vector<uint64_t>>> forms;
  for (const value& v : compact_samples(rng)) {
    table t;
    std::string f;
    REQUIRE(to_node_table_form(encode(v), f, std::ref(t)));
    forms.emplace_back(f, t.nodes);
  }
  // The same form against a table one node short: its last index is outside.
  for (auto& [f, nodes] : forms) {
    if (nodes.empty()) continue;
    auto shorter = nodes;
    shorter.pop_back();
    auto r = from_node_table_form(f, shorter);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.err().code == errc::decode_error);
  }
  int converted = 0;
  for (int i = 0; i < 30'000; ++i) {
    auto [f, nodes] = forms[rng() % forms.size()];
    switch (i % 3) {
      case 0: f = f.substr(0, rng() % f.size()); break;
      case 1: f[rng() % f.size()] ^= static_cast<char>(1 + rng() % 255); break;
      default: f.insert(1 + rng() % (f.size() - 1), 1, static_cast<char>(rng()));
    }
    auto r = from_node_table_form(f, nodes);
    if (!r) {
      CHECK(r.err().code == errc::decode_error);
      continue;
    }
    ++converted;
    // What converts is a compact form of the same structure: it converts back to the input.
    table t{nodes};
    std::string again;
    REQUIRE(to_node_table_form(*r, again, std::ref(t)));
    CHECK(again == f);
    (void)decode(*r);  // the codec checks its meaning; it must not crash either
  }
  MESSAGE("mutated forms that still convert: " << converted << " of 30000");
}
