// Randomized model tests (leveldb ModelDB style): random groups of random batches are committed
// to a store and to a plain std::map model; the store is reopened at random points; contents must
// always be equal. The seed is printed; RUMOR_SEED=<n> replays a run.

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "persistence/faulty_store.hpp"
#include "persistence/lmdb_store.hpp"
#include "persistence/memory_store.hpp"
#include "persistence/record_format.hpp"
#include "test_util.hpp"

using namespace rumor;
using namespace rumor::persistence;

namespace {

struct model {
  std::map<std::string, std::string> values;
  std::map<std::pair<uint64_t, uint64_t>, std::string> deltas;
  std::map<std::string, std::string> meta;

  void apply(const write_batch& b) {
    for (std::size_t i = 0; i < b.size(); ++i) {
      const write_op op = b.op(i);
      switch (op.kind) {
        case op_kind::put_value:
          values[std::string{op.key}] = std::string{op.data};
          break;
        case op_kind::erase_value:
          values.erase(std::string{op.key});
          break;
        case op_kind::append_delta:
          deltas[{op.origin, op.seq}] = std::string{op.data};
          break;
        case op_kind::truncate_deltas: {
          auto first = deltas.lower_bound({op.origin, 0});
          auto last = first;
          while (last != deltas.end() && last->first.first == op.origin &&
                 last->first.second <= op.seq) {
            ++last;
          }
          deltas.erase(first, last);
          break;
        }
        case op_kind::put_meta:
          meta[std::string{op.key}] = std::string{op.data};
          break;
        case op_kind::erase_meta:
          meta.erase(std::string{op.key});
          break;
      }
    }
  }
  friend bool operator==(const model&, const model&) = default;
};

constexpr uint64_t origins[] = {1, 2, 0xfeedface, UINT64_MAX};

class generator {
 public:
  explicit generator(uint64_t seed) : rng_(seed) {}

  uint64_t below(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }

  std::string key() {
    static const char* prefixes[] = {"a/", "ab/", "b/", "", "z"};
    std::string k = prefixes[below(5)] + std::to_string(below(30));
    if (chance(0.05)) k += std::string(1, '\0');
    if (chance(0.05)) k += "\xff";
    return k;
  }
  std::string bytes() {
    // Mostly small; sometimes big enough for LMDB overflow pages and map growth.
    const std::size_t n = chance(0.05) ? 4000 + below(30000) : below(200);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(below(256));
    return s;
  }
  std::string meta_name() { return "m/" + std::to_string(below(8)); }

  void add_op(write_batch& b) {
    const uint64_t r = below(100);
    if (r < 45)
      b.put_value(key(), bytes());
    else if (r < 60)
      b.erase_value(key());
    else if (r < 78)
      b.append_delta(origins[below(4)], below(40), bytes());
    else if (r < 83)
      b.truncate_deltas(origins[below(4)], chance(0.1) ? UINT64_MAX : below(40));
    else if (r < 95)
      b.put_meta(meta_name(), bytes());
    else
      b.erase_meta(meta_name());
  }

  // An operation every store must refuse (whole group rejected).
  void add_invalid_op(write_batch& b) {
    switch (below(3)) {
      case 0:
        b.put_value("", "x");
        break;
      case 1:
        b.put_value(std::string(max_key_bytes + 1 + below(10), 'k'), "x");
        break;
      default:
        b.put_meta(below(2) == 0 ? "node_id" : "format_version", "x");
        break;
    }
  }

  std::vector<write_batch> group() {
    std::vector<write_batch> g(1 + below(4));
    for (auto& b : g) {
      const uint64_t n = 1 + below(20);
      for (uint64_t i = 0; i < n; ++i) add_op(b);
    }
    return g;
  }

  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
};

// Compares every record of `s` with `m`, plus random bounded scans and point reads.
void check_equal(const store& s, const model& m, generator& gen) {
  std::map<std::string, std::string> values;
  REQUIRE(s.scan_values(key_range::all(), [&](std::string_view k, std::string_view v) {
             values.emplace(std::string{k}, std::string{v});
             return true;
           }).has_value());
  CHECK(values == m.values);

  std::map<std::pair<uint64_t, uint64_t>, std::string> deltas;
  for (uint64_t origin : origins) {
    REQUIRE(s.scan_deltas(origin, 0, [&](uint64_t seq, std::string_view d) {
               deltas.emplace(std::pair{origin, seq}, std::string{d});
               return true;
             }).has_value());
  }
  CHECK(deltas == m.deltas);

  std::map<std::string, std::string> meta;
  REQUIRE(s.scan_meta(key_range::all(), [&](std::string_view k, std::string_view v) {
             meta.emplace(std::string{k}, std::string{v});
             return true;
           }).has_value());
  CHECK(meta == m.meta);

  // The values alone first (asking about value records only), then everything.
  auto vc = s.value_count();
  REQUIRE(vc.has_value());
  CHECK(*vc == m.values.size());
  auto st = s.stats();
  REQUIRE(st.has_value());
  CHECK(st->values == m.values.size());
  CHECK(st->deltas == m.deltas.size());
  CHECK(st->meta_records == m.meta.size());

  for (int i = 0; i < 10; ++i) {
    const std::string k = gen.key();
    auto r = s.get_value(k);
    REQUIRE(r.has_value());
    auto it = m.values.find(k);
    CHECK(*r == (it == m.values.end() ? std::nullopt : std::optional<std::string>{it->second}));
  }
  // A random prefix scan with a random limit.
  const std::string prefix = gen.key().substr(0, gen.below(3));
  const std::size_t limit = 1 + gen.below(10);
  std::vector<std::string> got;
  REQUIRE(s.scan_values(key_range::with_prefix(prefix), [&](std::string_view k, std::string_view) {
             got.emplace_back(k);
             return got.size() < limit;
           }).has_value());
  std::vector<std::string> want;
  for (auto it = m.values.lower_bound(prefix);
       it != m.values.end() && it->first.compare(0, prefix.size(), prefix) == 0 &&
       want.size() < limit;
       ++it) {
    want.push_back(it->first);
  }
  CHECK(got == want);
  // A random delta range.
  const uint64_t origin = origins[gen.below(4)];
  const uint64_t from = gen.below(45);
  std::vector<uint64_t> seqs;
  REQUIRE(s.scan_deltas(origin, from, [&](uint64_t seq, std::string_view) {
             seqs.push_back(seq);
             return true;
           }).has_value());
  std::vector<uint64_t> want_seqs;
  for (auto it = m.deltas.lower_bound({origin, from});
       it != m.deltas.end() && it->first.first == origin; ++it) {
    want_seqs.push_back(it->first.second);
  }
  CHECK(seqs == want_seqs);
}

}  // namespace

TEST_CASE("model: lmdb_store with random reopens equals a std::map model") {
  const uint64_t seed = test::test_seed("model lmdb_store");
  INFO("seed " << seed);
  generator gen(seed);
  test::temp_dir dir;
  options o = test::small_options(dir.sub("db"));
  o.initial_map_bytes = 64 * 1024;  // small: the run grows the map several times
  o.max_map_bytes = uint64_t{1} << 30;

  auto opened = lmdb_store::open(o);
  REQUIRE_MESSAGE(opened.has_value(), opened.err().describe());
  std::unique_ptr<lmdb_store> s = std::move(*opened);
  const uint64_t id = s->node_id();
  const uint64_t initial_map = s->stats()->map_bytes;
  model m;
  int reopens = 0;
  int rejected = 0;
  for (int step = 0; step < 300; ++step) {
    CAPTURE(step);
    auto group = gen.group();
    if (gen.chance(0.05)) {
      gen.add_invalid_op(group[gen.below(group.size())]);
      status st = s->commit(group);
      REQUIRE_FALSE(st.has_value());
      CHECK((st.err().code == errc::invalid_argument || st.err().code == errc::too_large));
      ++rejected;
    } else {
      status st = s->commit(group);
      REQUIRE_MESSAGE(st.has_value(), st.err().describe());
      for (const auto& b : group) m.apply(b);
    }
    if (gen.chance(0.07)) {
      s.reset();
      o.mode = gen.chance(0.3) ? durability::durable : durability::relaxed;
      auto again = lmdb_store::open(o);
      REQUIRE_MESSAGE(again.has_value(), again.err().describe());
      s = std::move(*again);
      CHECK(s->node_id() == id);
      ++reopens;
      check_equal(*s, m, gen);
    } else if (step % 10 == 0) {
      check_equal(*s, m, gen);
    }
  }
  check_equal(*s, m, gen);
  CHECK(s->quarantined().empty());
  CHECK(reopens > 0);
  CHECK(rejected > 0);
  CHECK(s->stats()->map_bytes > initial_map);  // the map did grow
}

// Crash points in the write-behind path: a forked child commits the next groups of the same
// random sequence with tiny write-behind layers (materializations start every few KiB, on a
// thread of their own) and dies with _exit — no destructor, no final materialization — after a
// random number of them, so it dies between commits, inside a materialization, or just after
// one. The parent then opens the store (replaying the log) and compares it with the model of
// every group the child reported committed.
TEST_CASE("model: lmdb_store write-behind with many sealed layers written out at once equals the model") {
  // Each round fills the active layer with more records than a scan copies, so the scans of
  // check_equal seal it: the materializer (held off until flush) then merges many layers, with
  // truncations in some of them hiding older layers' deltas, into one plan. Delta scans over more
  // deltas than a page read page by page.
  const uint64_t seed = test::test_seed("model sealed layers");
  INFO("seed " << seed);
  generator gen(seed);
  test::temp_dir dir;
  options o = test::small_options(dir.sub("db"));
  o.materialize_interval_ms = 3'600'000;
  o.materialize_bytes = uint64_t{1} << 30;
  o.write_behind_bytes = uint64_t{1} << 30;
  auto opened = lmdb_store::open(o);
  REQUIRE_MESSAGE(opened.has_value(), opened.err().describe());
  std::unique_ptr<lmdb_store> s = std::move(*opened);
  model m;
  for (int round = 0; round < 10; ++round) {
    CAPTURE(round);
    write_batch b;
    // ~390 distinct keys: more than a scan copies, so check_equal's value scan seals the layer.
    for (int i = 0; i < 500; ++i) b.put_value("w/" + std::to_string(gen.below(1000)), std::to_string(gen.below(1000)));
    // Often more deltas of an origin than a page of a delta scan.
    const uint64_t appends = 600 + gen.below(900);
    for (uint64_t i = 0; i < appends; ++i) b.append_delta(origins[gen.below(2)], gen.below(1000), std::to_string(i));
    if (gen.chance(0.7)) b.truncate_deltas(origins[gen.below(2)], gen.below(1000));
    for (int i = 0; i < 20; ++i) gen.add_op(b);
    REQUIRE(s->commit(b).has_value());
    m.apply(b);
    // The deltas first, while the active layer holds them (check_equal's value scan seals it).
    for (uint64_t origin : {origins[0], origins[1]}) {
      const uint64_t from = gen.below(2) == 0 ? 0 : gen.below(1000);
      std::vector<std::pair<uint64_t, std::string>> got, want;
      REQUIRE(s->scan_deltas(origin, from, [&](uint64_t seq, std::string_view d) {
                 got.emplace_back(seq, std::string{d});
                 return true;
               }).has_value());
      for (auto it = m.deltas.lower_bound({origin, from}); it != m.deltas.end() && it->first.first == origin; ++it)
        want.emplace_back(it->first.second, it->second);
      if (got != want) {
        std::size_t i = 0;
        while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
        MESSAGE("origin " << origin << " from " << from << " got " << got.size() << " want " << want.size() << " first diff at " << i
                << " got seq " << (i < got.size() ? got[i].first : 0) << " want seq " << (i < want.size() ? want[i].first : 0));
      }
      CHECK(got == want);
    }
    check_equal(*s, m, gen);
  }
  auto before = s->stats();
  REQUIRE(before.has_value());
  CHECK(before->write_behind_records > 0);
  REQUIRE(s->flush().has_value());
  check_equal(*s, m, gen);
  CHECK(s->stats()->write_behind_records == 0);
  s.reset();
  opened = lmdb_store::open(o);
  REQUIRE_MESSAGE(opened.has_value(), opened.err().describe());
  s = std::move(*opened);
  check_equal(*s, m, gen);
}

TEST_CASE("model: record counts asked for the first time while layers are being written are exact") {
  // The materializer counts its layers only while counts are asked for; the first stats() of a
  // store may thus find layers being written uncounted, and must count them against the
  // B-trees as they are at that moment.
  const uint64_t seed = test::test_seed("model first counts");
  INFO("seed " << seed);
  generator gen(seed);
  test::temp_dir dir;
  for (int trial = 0; trial < 30; ++trial) {
    CAPTURE(trial);
    options o = test::small_options(dir.sub("db" + std::to_string(trial)));
    o.materialize_bytes = 4 * 1024;
    o.materialize_interval_ms = 1;
    auto opened = lmdb_store::open(o);
    REQUIRE_MESSAGE(opened.has_value(), opened.err().describe());
    std::unique_ptr<lmdb_store> s = std::move(*opened);
    model m;
    const uint64_t groups = 1 + gen.below(30);
    for (uint64_t g = 0; g < groups; ++g) {
      auto group = gen.group();
      if (!s->commit(group)) continue;  // a group with an invalid op is refused whole
      for (const auto& b : group) m.apply(b);
    }
    for (int i = 0; i < 3; ++i) {
      if (i == 0 || gen.chance(0.5)) {
        auto vc = s->value_count();
        REQUIRE(vc.has_value());
        CHECK(*vc == m.values.size());
      }
      auto st = s->stats();
      REQUIRE(st.has_value());
      CHECK(st->values == m.values.size());
      CHECK(st->deltas == m.deltas.size());
      CHECK(st->meta_records == m.meta.size());
    }
  }
}

TEST_CASE("model: lmdb_store write-behind with crashes (fork + _exit) equals the model") {
  const uint64_t seed = test::test_seed("model write-behind crash");
  INFO("seed " << seed);
  generator gen(seed);
  test::temp_dir dir;
  options o = test::small_options(dir.sub("db"));
  o.materialize_bytes = 2 * 1024;
  o.materialize_interval_ms = 1;
  o.write_behind_bytes = 64 * 1024;
  model m;
  int crashes_with_backlog = 0;
  for (int round = 0; round < 25; ++round) {
    CAPTURE(round);
    // The groups of this round, generated in the parent so both sides apply the same ones.
    std::vector<std::vector<write_batch>> groups(1 + gen.below(40));
    for (auto& g : groups) g = gen.group();
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(fds[0]);
      auto s = lmdb_store::open(o);
      if (!s) ::_exit(3);
      for (const auto& g : groups) {
        if (!(*s)->commit(g)) ::_exit(4);
        const char one = '1';
        if (::write(fds[1], &one, 1) != 1) ::_exit(5);
      }
      // Die now: perhaps while the materializer writes, perhaps before it starts.
      if (groups.size() % 2 == 0) ::usleep(static_cast<useconds_t>(groups.size() * 50));
      ::_exit(0);
    }
    ::close(fds[1]);
    std::size_t committed = 0;
    char buf[64];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) != 0;) {
      if (n < 0 && errno == EINTR) continue;
      REQUIRE(n > 0);
      committed += static_cast<std::size_t>(n);
    }
    ::close(fds[0]);
    int ws = 0;
    REQUIRE(::waitpid(pid, &ws, 0) == pid);
    REQUIRE_MESSAGE((WIFEXITED(ws) && WEXITSTATUS(ws) == 0), "child failed, status " << ws);
    REQUIRE(committed == groups.size());
    for (const auto& g : groups)
      for (const auto& b : g) m.apply(b);
    auto opened = lmdb_store::open(o);
    REQUIRE_MESSAGE(opened.has_value(), opened.err().describe());
    auto st = (*opened)->stats();
    REQUIRE(st.has_value());
    if (st->log_lsn > st->checkpoint_lsn) ++crashes_with_backlog;
    check_equal(**opened, m, gen);
    if (gen.chance(0.3)) {
      // Sometimes the parent writes too (and closes cleanly), so children start on both a
      // trimmed log and a replayed backlog.
      auto g = gen.group();
      REQUIRE((*opened)->commit(g).has_value());
      for (const auto& b : g) m.apply(b);
    }
  }
  auto last = lmdb_store::open(o);
  REQUIRE(last.has_value());
  check_equal(**last, m, gen);
  CHECK(crashes_with_backlog > 0);  // the log really was replayed
}

TEST_CASE("model: memory_store equals the model and faulty_store failures change nothing") {
  const uint64_t seed = test::test_seed("model memory_store");
  INFO("seed " << seed);
  generator gen(seed);
  memory_store mem;
  faulty_store s{mem};
  model m;
  for (int step = 0; step < 400; ++step) {
    CAPTURE(step);
    auto group = gen.group();
    const uint64_t r = gen.below(100);
    if (r < 5) {
      s.fail_next_commits(1);
      status st = s.commit(group);
      REQUIRE_FALSE(st.has_value());
      CHECK(st.err().code == errc::io_error);
    } else if (r < 10) {
      // Applied, but the caller is told io_error: the model must take it.
      s.fail_next_commits_after_apply(1);
      status st = s.commit(group);
      REQUIRE_FALSE(st.has_value());
      for (const auto& b : group) m.apply(b);
    } else if (r < 15) {
      gen.add_invalid_op(group[gen.below(group.size())]);
      REQUIRE_FALSE(s.commit(group).has_value());
    } else {
      REQUIRE(s.commit(group).has_value());
      for (const auto& b : group) m.apply(b);
    }
    if (step % 20 == 0) check_equal(s, m, gen);
  }
  check_equal(s, m, gen);
}

TEST_CASE("model: memory_store relaxed crash loses exactly the unsynced commits") {
  const uint64_t seed = test::test_seed("model memory_store crash");
  INFO("seed " << seed);
  generator gen(seed);
  memory_store::config cfg;
  cfg.mode = durability::relaxed;
  memory_store mem{cfg};
  faulty_store s{mem, [&mem] { mem.crash(); }};
  model live;
  model durable;
  int crashes = 0;
  for (int step = 0; step < 400; ++step) {
    CAPTURE(step);
    const uint64_t r = gen.below(100);
    if (r < 10) {
      REQUIRE(s.sync().has_value());
      durable = live;
    } else if (r < 15) {
      s.crash();
      CHECK(s.crashed());
      auto refused = s.get_value("a/1");
      REQUIRE_FALSE(refused.has_value());
      CHECK(refused.err().code == errc::io_error);
      s.restart();
      live = durable;
      ++crashes;
      check_equal(s, live, gen);
    } else if (r < 18) {
      // Killed in the middle of a commit: none of it survives, nor the unsynced commits.
      s.crash_on_next_commit();
      REQUIRE_FALSE(s.commit(gen.group()).has_value());
      CHECK(s.crashed());
      s.restart();
      live = durable;
      ++crashes;
      check_equal(s, live, gen);
    } else {
      auto group = gen.group();
      REQUIRE(s.commit(group).has_value());
      for (const auto& b : group) live.apply(b);
    }
  }
  check_equal(s, live, gen);
  CHECK(crashes > 0);
}
