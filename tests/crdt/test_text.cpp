// text (crdt/text.hpp): the sequential model, non-interleaving of concurrent runs, deletes that
// arrive before their items, key deletion, the codec's bounds. The CRDT laws for text are in
// test_laws.cpp with every other type. Seeded: RUMOR_SEED=<n> reproduces a run.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>

#include "base/varint.hpp"
#include "crdt/codec.hpp"
#include "crdt/text.hpp"
#include "crdt/utf8.hpp"
#include "crdt/value.hpp"
#include "seed.hpp"

using namespace rumor;
using namespace rumor::crdt;

namespace {

std::u32string u32(std::string_view s) { return *utf8_decode(s); }

text apply(text& t, node_id self, uint64_t pos, uint64_t del, std::string_view ins) {
  auto d = t.splice(self, pos, del, ins);
  REQUIRE(d.has_value());
  return std::move(*d);
}

// Types `word` at `pos` one codepoint per splice, forwards (each after the last) or backwards
// (each at `pos`, so the word is typed from its last letter); returns every delta.
std::vector<text> type(text& t, node_id self, uint64_t pos, std::string_view word, bool backwards) {
  std::vector<text> deltas;
  auto cps = u32(word);
  for (size_t i = 0; i < cps.size(); ++i) {
    char32_t c = backwards ? cps[cps.size() - 1 - i] : cps[i];
    deltas.push_back(apply(t, self, backwards ? pos : pos + i, 0, utf8_encode(std::u32string(1, c))));
  }
  return deltas;
}

}  // namespace

TEST_CASE("text: one replica's random splices match a plain string") {
  uint64_t seed = test::seed_for("text sequential model");
  INFO("RUMOR_SEED=" << seed);
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 40; ++round) {
    text a, b;  // b follows a through its deltas and, each 10th step, a state transfer
    std::u32string model;
    for (int i = 0; i < 300; ++i) {
      uint64_t pos = rng() % (model.size() + 1);
      uint64_t del = rng() % 3 == 0 ? rng() % (model.size() - pos + 1) : 0;
      std::u32string ins;
      for (uint64_t k = 0, n = rng() % 5; k < n; ++k) ins.push_back(rng() % 7 == 0 ? U'é' + static_cast<char32_t>(k) : U'a' + static_cast<char32_t>(rng() % 26));
      text d = apply(a, 1, pos, del, utf8_encode(ins));
      model.replace(pos, del, ins);
      b.join(d);
      if (i % 10 == 0) b.join(a);
      REQUIRE(a.str() == utf8_encode(model));
      REQUIRE(a.size() == model.size());
      uint64_t from = rng() % (model.size() + 1), len = rng() % 6;
      REQUIRE(a.substr(from, len) == utf8_encode(model.substr(from, len)));
    }
    CHECK(b == a);
    CHECK(b.str() == utf8_encode(model));
    size_t from = std::min<size_t>(3, model.size());
    CHECK(a.substr(from, 5) == utf8_encode(model.substr(from, 5)));
    CHECK(a.substr(model.size() + 2, 5).empty());
    auto back = decode(encode(value{a}));
    REQUIRE(back.has_value());
    CHECK(back->get_if<text>()->str() == utf8_encode(model));
  }
}

TEST_CASE("text: runs typed concurrently at one position do not interleave, forwards or backwards") {
  for (bool backwards : {false, true}) {
    CAPTURE(backwards);
    text base;
    text d0 = apply(base, 9, 0, 0, "<>");
    text a = base, b = base, c = base;
    auto da = type(a, 1, 1, "alpha", backwards);
    auto db = type(b, 2, 1, "BRAVO", backwards);
    auto dc = type(c, 3, 1, "charlie", backwards);
    CHECK(a.str() == "<alpha>");
    // Deliver every delta to every replica, each in a different interleaving.
    std::vector<text> all;
    for (size_t i = 0; i < 7; ++i)
      for (auto* ds : {&da, &db, &dc})
        if (i < ds->size()) all.push_back((*ds)[i]);
    for (text* t : {&a, &b, &c})
      for (const text& d : all) t->join(d);
    CHECK(a == b);
    CHECK(b == c);
    std::string s = a.str();
    INFO(s);
    bool ok = false;
    for (auto order : {std::vector<std::string>{"alpha", "BRAVO", "charlie"}, {"alpha", "charlie", "BRAVO"},
                       {"BRAVO", "alpha", "charlie"}, {"BRAVO", "charlie", "alpha"}, {"charlie", "alpha", "BRAVO"},
                       {"charlie", "BRAVO", "alpha"}})
      ok = ok || s == "<" + order[0] + order[1] + order[2] + ">";
    CHECK(ok);
  }
}

TEST_CASE("text: property — concurrent runs at one position never interleave, whatever the directions and delivery orders") {
  uint64_t seed = test::seed_for("text non-interleaving");
  INFO("RUMOR_SEED=" << seed);
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 300; ++round) {
    text base;
    (void)apply(base, 100, 0, 0, "[]");
    size_t n = 2 + rng() % 3;
    std::vector<text> reps(n, base);
    std::vector<std::string> words(n);
    std::vector<std::vector<text>> deltas(n);
    for (size_t r = 0; r < n; ++r) {
      for (size_t k = 0, len = 1 + rng() % 6; k < len; ++k) words[r].push_back(static_cast<char>('a' + 5 * r + rng() % 5));
      if (rng() % 4 == 0) {  // typed in one go
        deltas[r].push_back(apply(reps[r], r + 1, 1, 0, words[r]));
      } else {
        deltas[r] = type(reps[r], r + 1, 1, words[r], rng() % 2 == 0);
      }
      REQUIRE(reps[r].str() == "[" + words[r] + "]");
    }
    // Each replica receives the others' deltas in its own random order (each sender's in order or not).
    for (size_t r = 0; r < n; ++r) {
      std::vector<const text*> in;
      for (size_t o = 0; o < n; ++o)
        if (o != r)
          for (const text& d : deltas[o]) in.push_back(&d);
      std::shuffle(in.begin(), in.end(), rng);
      for (const text* d : in) reps[r].join(*d);
    }
    for (size_t r = 1; r < n; ++r) REQUIRE(reps[r] == reps[0]);
    std::string s = reps[0].str();
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    bool whole = false;
    do {
      std::string cat = "[";
      for (size_t i : order) cat += words[i];
      whole = whole || s == cat + "]";
    } while (!whole && std::next_permutation(order.begin(), order.end()));
    INFO("round " << round << ": " << s);
    CHECK(whole);
  }
}

TEST_CASE("text: a concurrent insert inside a word another replica is typing lands inside it") {
  text base;
  (void)apply(base, 9, 0, 0, "ac");
  text a = base, b = base;
  text da = apply(a, 1, 1, 0, "b");   // "abc"
  text db = apply(b, 2, 2, 0, "d");   // "acd"
  a.join(db);
  b.join(da);
  CHECK(a == b);
  CHECK(a.str() == "abcd");
}

TEST_CASE("text: a delete that arrives before its items, and items that arrive before their origins") {
  text a;
  text d1 = apply(a, 1, 0, 0, "hello");
  text d2 = apply(a, 1, 5, 0, " world");
  text d3 = apply(a, 1, 0, 1, "H");  // deletes 'h'
  text d4 = apply(a, 1, 6, 5, "");   // deletes "world"
  text b;
  b.join(d4);
  b.join(d3);
  CHECK(b.str() == "");   // "H" waits for its right origin 'h' (d1)
  b.join(d2);
  CHECK(b.str() == "");   // " world" waits for its left origin (d1)
  b.join(d1);
  CHECK(b.str() == "Hello ");
  CHECK(b == a);
  CHECK(b.item_count() == a.item_count());
  CHECK(b.live_items() == 6);
}

TEST_CASE("text: key deletion removes every visible codepoint, and a concurrent insert survives") {
  text a;
  (void)apply(a, 1, 0, 0, "shared");
  text b = a;
  value va{a};
  value removal = va.remove_observed();
  CHECK(va.holds_nothing());
  CHECK(va.get_if<text>()->str().empty());
  text db = apply(b, 2, 6, 0, "!");
  (void)va.join(value{db});
  (void)b.join(*removal.get_if<text>());
  CHECK(va.get_if<text>()->str() == "!");
  CHECK(b.str() == "!");
  CHECK(*va.get_if<text>() == b);
}

TEST_CASE("text: bad splices are refused and change nothing") {
  text a;
  (void)apply(a, 1, 0, 0, "abc");
  text before = a;
  auto r1 = a.splice(1, 4, 0, "x");
  REQUIRE_FALSE(r1.has_value());
  CHECK(r1.err().code == errc::invalid_argument);
  CHECK_FALSE(a.splice(1, 2, 2, "").has_value());
  CHECK_FALSE(a.splice(1, 0, 0, "\xC3\x28").has_value());  // not UTF-8
  CHECK_FALSE(a.splice(1, 0, 0, "\xED\xA0\x80").has_value());  // a surrogate
  CHECK(a == before);
}

TEST_CASE("text: a delta is small, and the codec refuses hostile bytes without allocating their claims") {
  text a;
  (void)apply(a, 0x1234567890ABCDEFull, 0, 0, std::string(1000, 'x'));
  text d = apply(a, 0x1234567890ABCDEFull, 500, 0, "y");
  std::string bytes = encode(value{d});
  CHECK(bytes.size() <= 40);
  MESSAGE("one typed codepoint's delta: " << bytes.size() << " bytes");
  // Every cut of a valid encoding is refused.
  std::string state = encode(value{a});
  for (size_t n = 0; n < state.size(); ++n) CHECK_FALSE(decode(std::string_view(state).substr(0, n)).has_value());
  // A run claiming 2^62 deleted items inside a context that covers them decodes without
  // expanding them; one outside its context is refused.
  text huge{text::store_type{}, dot_context::of(std::vector<dot>{{7, 1}})};
  CHECK(decode(encode(value{huge})).has_value());
  const uint64_t big = uint64_t{1} << 62;
  auto forge = [&](uint64_t context_counter) {
    std::string f = "\x40\x08";
    put_varint(f, 1);                   // version vector: one entry
    put_u64le(f, 7);                    //   node 7
    put_varint(f, context_counter);     //   its counter
    put_varint(f, 0);                   // no cloud
    put_varint(f, 0);                   // no further nodes
    put_varint(f, 1);                   // one integrated run
    put_varint(f, big << 1 | 1);        //   length 2^62, its node given
    put_varint(f, 0);                   //   node 0 (node 7)
    put_varint(f, 2);                   //   counter 0 + 1
    f.push_back('\0');                  //   left: the start, right: the end
    put_varint(f, 0);                   // no pending runs
    put_varint(f, 1);                   // delete set: one node
    put_varint(f, 0);                   //   node 0
    put_varint(f, 1);                   //   one interval
    put_varint(f, 1);                   //   from 1
    put_varint(f, big);                 //   2^62 long
    put_varint(f, 0);                   // no content
    return f;
  };
  std::string forged = forge(big);
  auto back = decode(forged);
  INFO((back ? std::string() : back.err().message));
  REQUIRE(back.has_value());
  CHECK(back->get_if<text>()->size() == 0);
  CHECK(back->get_if<text>()->item_count() == (uint64_t{1} << 62));
  CHECK_FALSE(decode(forge(big - 1)).has_value());  // the context misses the last item
}

TEST_CASE("text: mutated encodings are refused or decode to a text that round-trips, never a crash") {
  uint64_t seed = test::seed_for("text codec mutations");
  INFO("RUMOR_SEED=" << seed);
  std::mt19937_64 rng(seed);
  text a, b;
  for (int i = 0; i < 60; ++i) {
    text& t = i % 3 ? a : b;
    uint64_t pos = rng() % (t.size() + 1);
    uint64_t del = rng() % 4 == 0 ? rng() % (t.size() - pos + 1) : 0;
    (void)apply(t, i % 3 ? 11 : 22, pos, del, std::string(1 + rng() % 3, static_cast<char>('a' + rng() % 26)));
    if (i % 10 == 0) a.join(b);
  }
  std::string good = encode(value{a});
  int decoded = 0;
  for (int round = 0; round < 20'000; ++round) {
    std::string m = good;
    for (int k = 0, n = 1 + static_cast<int>(rng() % 3); k < n; ++k) m[rng() % m.size()] = static_cast<char>(rng());
    auto v = decode(m);
    if (!v) continue;
    ++decoded;
    const text* t = v->get_if<text>();
    if (!t) continue;  // a mutated tag byte may make another type
    (void)t->str();
    auto again = decode(encode(*v));
    REQUIRE(again.has_value());
    CHECK(again->get_if<text>()->str() == t->str());
  }
  MESSAGE("mutated encodings that still decode: " << decoded << " of 20000");
}

TEST_CASE("text: a moved-from text is the empty text and can be used again") {
  text a;
  (void)apply(a, 1, 0, 0, "moved");
  text b = std::move(a);
  CHECK(b.str() == "moved");
  CHECK(a.str().empty());  // NOLINT(bugprone-use-after-move): what this test is about
  CHECK(a.is_bottom());
  a.join(b);
  CHECK(a == b);
  text c;
  c = std::move(b);
  CHECK(c.str() == "moved");
  (void)apply(b, 2, 0, 0, "again");  // NOLINT(bugprone-use-after-move)
  CHECK(b.str() == "again");
}

TEST_CASE("text: changed_since ignores a node's first-write seed and sees every edit after a read") {
  text a;
  (void)apply(a, 1, 0, 0, "read me");
  const dot_context seen = a.context();
  CHECK_FALSE(a.changed_since(seen, 1));
  CHECK_FALSE(a.changed_since(seen, 2));
  // Node 2's first write of the key joins a seed (its dots below its clock) before the splice runs.
  text b = a;
  b.join(text{text::store_type{}, dot_context::of(std::vector<dot>{{2, 1}, {2, 2}, {2, 3}})});
  CHECK(b.str() == "read me");
  CHECK_FALSE(b.changed_since(seen, 2));
  CHECK(b.changed_since(seen, 3));  // another node's dots are someone's edit
  text c = b;
  (void)apply(c, 2, 0, 0, "x");
  CHECK(c.changed_since(seen, 2));  // its own insert after the read
  text d = a;
  (void)apply(d, 1, 0, 1, "");
  CHECK(d.changed_since(seen, 1));  // a delete (its dot) after the read
  text e = a;
  (void)apply(e, 2, 7, 0, "!");
  (void)apply(e, 2, 7, 1, "");       // inserted and deleted again: still a change
  CHECK(e.changed_since(seen, 2));
  text behind;                        // a replica that lacks what the read saw
  CHECK(behind.changed_since(seen, 1));
}
