// dot_context and version_vector against plain models (std::set<dot>, std::map).
#include <doctest/doctest.h>
#include <rapidcheck.h>

#include <map>
#include <set>

#include "crdt/dot_context.hpp"

using namespace rumor::crdt;

namespace {

// Small node/counter ranges so dots collide, become contiguous and get compacted.
rc::Gen<dot> gen_dot() {
  return rc::gen::construct<dot>(rc::gen::inRange<node_id>(1, 4), rc::gen::inRange<uint64_t>(1, 12));
}

dot_context build(const std::vector<dot>& dots) {
  dot_context c;
  for (const dot& d : dots) c.insert(d);
  return c;
}

std::set<dot> enumerate(const dot_context& c) {
  std::set<dot> out;
  c.for_each_dot([&](const dot& d) { out.insert(d); });
  return out;
}

// Checks every query of `c` against the model set `m`.
void check_against(const dot_context& c, const std::set<dot>& m) {
  RC_ASSERT(enumerate(c) == m);
  RC_ASSERT(c.dot_count() == m.size());
  for (node_id n = 0; n <= 5; ++n) {
    uint64_t max = 0;
    for (const dot& d : m)
      if (d.node == n) max = std::max(max, d.counter);
    RC_ASSERT(c.max_counter(n) == max);
    RC_ASSERT(c.next_dot(n) == (dot{n, max + 1}));
    for (uint64_t k = 0; k <= 14; ++k) RC_ASSERT(c.contains(dot{n, k}) == (m.count(dot{n, k}) == 1));
  }
  // Canonical: the cloud holds no dot the version vector covers or could absorb.
  for (const dot& d : c.cloud()) RC_ASSERT(d.counter > c.compact_part().get(d.node) + 1);
}

}  // namespace

TEST_CASE("dot_context: insert matches a std::set<dot> model") {
  CHECK(rc::check("insert", [] {
    auto dots = *rc::gen::container<std::vector<dot>>(gen_dot());
    std::set<dot> model(dots.begin(), dots.end());
    check_against(build(dots), model);
  }));
}

TEST_CASE("dot_context: join, intersect, leq and of() match set union, intersection, subset") {
  CHECK(rc::check("set algebra", [] {
    auto xs = *rc::gen::container<std::vector<dot>>(gen_dot());
    auto ys = *rc::gen::container<std::vector<dot>>(gen_dot());
    std::set<dot> mx(xs.begin(), xs.end()), my(ys.begin(), ys.end());
    dot_context cx = build(xs), cy = build(ys);

    dot_context u = cx;
    u.join(cy);
    std::set<dot> mu = mx;
    mu.insert(my.begin(), my.end());
    check_against(u, mu);

    std::set<dot> mi;
    for (const dot& d : mx)
      if (my.count(d)) mi.insert(d);
    check_against(cx.intersect(cy), mi);

    RC_ASSERT(cx.leq(cy) == std::includes(my.begin(), my.end(), mx.begin(), mx.end()));
    RC_ASSERT(cx.leq(u));
    // Canonical form makes == set equality, whatever the construction order.
    RC_ASSERT(dot_context::of(xs) == cx);
    std::vector<dot> reversed(mx.rbegin(), mx.rend());
    RC_ASSERT(build(reversed) == cx);
  }));
}

TEST_CASE("dot_context: contiguous dots compact into the version vector") {
  dot_context c;
  c.insert({7, 3});
  c.insert({7, 2});
  CHECK(c.cloud().size() == 2);
  CHECK(c.compact_part().get(7) == 0);
  c.insert({7, 1});
  CHECK(c.cloud().empty());
  CHECK(c.compact_part().get(7) == 3);
  c.insert({7, 5});
  CHECK(c.cloud() == std::vector<dot>{{7, 5}});
  c.insert({7, 4});
  CHECK(c.cloud().empty());
  CHECK(c.compact_part().get(7) == 5);
  c.insert({7, 0});  // "no event" is ignored
  CHECK(c.dot_count() == 5);
}

TEST_CASE("version_vector: merge, compare and leq against a std::map model") {
  CHECK(rc::check("vv", [] {
    auto gen_entries = rc::gen::container<std::vector<std::pair<node_id, uint64_t>>>(
        rc::gen::pair(rc::gen::inRange<node_id>(1, 6), rc::gen::inRange<uint64_t>(0, 5)));
    std::map<node_id, uint64_t> a, b;
    for (auto [n, c] : *gen_entries) a[n] = c;
    for (auto [n, c] : *gen_entries) b[n] = c;
    version_vector va, vb;
    for (auto [n, c] : a) va.set(n, c);
    for (auto [n, c] : b) vb.set(n, c);
    bool le = true, ge = true;
    for (node_id n = 1; n <= 6; ++n) {
      uint64_t x = a.count(n) ? a[n] : 0, y = b.count(n) ? b[n] : 0;
      RC_ASSERT(va.get(n) == x);
      le = le && x <= y;
      ge = ge && x >= y;
    }
    RC_ASSERT(va.leq(vb) == le);
    auto expected = le && ge ? version_vector::order::equal
                    : le     ? version_vector::order::before
                    : ge     ? version_vector::order::after
                             : version_vector::order::concurrent;
    RC_ASSERT(va.compare(vb) == expected);
    version_vector m = va;
    m.merge(vb);
    for (node_id n = 1; n <= 6; ++n) RC_ASSERT(m.get(n) == std::max(va.get(n), vb.get(n)));
    RC_ASSERT(va.leq(m) && vb.leq(m));
  }));
}
