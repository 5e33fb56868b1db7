// Crash test with real processes: a child (persistence_crash_child) commits batches in a loop and
// reports each committed batch through a pipe; we kill -9 it at random moments, reopen the store
// and check that every reported batch is present in full and no batch is present in part — in
// values, delta log and meta alike.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <thread>

#include "crash_batch.hpp"
#include "persistence/lmdb_store.hpp"
#include "test_util.hpp"

extern char** environ;

using namespace rumor;
using namespace rumor::persistence;
using clock_type = std::chrono::steady_clock;

namespace {

// A child process we started; killed (SIGKILL) and reaped on destruction if still running.
class child_process {
 public:
  child_process(const std::vector<std::string>& args) {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    fd_ = fds[0];
    REQUIRE_MESSAGE(rc == 0, "posix_spawn " << args[0] << " failed: " << rc);
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int ws = 0;
      ::waitpid(pid_, &ws, 0);
    }
    if (fd_ >= 0) ::close(fd_);
  }

  // Waits until data arrives or `deadline` passes; appends complete lines to `lines`.
  // Returns 1 if data was read, 0 at the deadline, -1 at EOF.
  int read_once(clock_type::time_point deadline, std::vector<std::string>& lines) {
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
      pollfd p{fd_, POLLIN, 0};
      const int n = ::poll(&p, 1, left.count() > 0 ? static_cast<int>(left.count()) : 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return 0;
      char buf[4096];
      const ssize_t r = ::read(fd_, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return -1;
      pending_.append(buf, static_cast<std::size_t>(r));
      for (std::size_t nl; (nl = pending_.find('\n')) != std::string::npos;) {
        lines.push_back(pending_.substr(0, nl));
        pending_.erase(0, nl + 1);
      }
      return 1;
    }
  }

  // Reads until `deadline`; returns false if EOF came first.
  bool read_until(clock_type::time_point deadline, std::vector<std::string>& lines) {
    for (;;) {
      const int r = read_once(deadline, lines);
      if (r < 0) return false;
      if (clock_type::now() >= deadline) return true;
    }
  }

  // SIGKILLs the child and reaps it; returns its wait status.
  int kill_and_reap() {
    ::kill(pid_, SIGKILL);
    int ws = 0;
    ::waitpid(pid_, &ws, 0);
    pid_ = -1;
    return ws;
  }

  // Reads the rest of the pipe (the child is dead, so this ends at EOF).
  void drain(std::vector<std::string>& lines) {
    while (read_until(clock_type::now() + std::chrono::seconds(5), lines)) {
    }
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string pending_;
};

uint64_t fnv1a(uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

struct batch_digest {
  uint64_t count = 0;
  uint64_t hash = 0xcbf29ce484222325ULL;
  void add(std::string_view k, std::string_view v) {
    ++count;
    hash = fnv1a(fnv1a(hash, k), v);
  }
  friend bool operator==(const batch_digest&, const batch_digest&) = default;
};

// Verifies the store after a kill. Returns the number of batches present (they are 0..n-1).
// Opens read-only: the log is replayed into memory, nothing is materialized or trimmed, so the
// next child finds the log as the killed one left it (and replays it, perhaps killed meanwhile).
uint64_t verify(const std::string& dir, uint64_t seed, uint64_t reported_end,
                std::map<uint64_t, batch_digest>& expected_cache, int& backlogs) {
  options ro = test::small_options(dir);
  ro.read_only = true;
  auto opened = lmdb_store::open(ro);
  REQUIRE_MESSAGE(opened.has_value(), opened.err().describe());
  const lmdb_store& s = **opened;
  if (auto st = s.stats(); st && st->log_lsn > st->checkpoint_lsn) ++backlogs;

  std::map<uint64_t, batch_digest> present;
  REQUIRE(s.scan_values(key_range::with_prefix("b/"), [&](std::string_view k, std::string_view v) {
             present[std::stoull(std::string{k.substr(2, 10)})].add(k, v);
             return true;
           }).has_value());
  CHECK(s.quarantined().empty());

  // Present batches are exactly 0..n-1, each complete and byte-exact.
  const uint64_t n = present.empty() ? 0 : present.rbegin()->first + 1;
  CHECK_MESSAGE(present.size() == n, "batches present are not contiguous from 0");
  for (const auto& [batch, digest] : present) {
    auto it = expected_cache.find(batch);
    if (it == expected_cache.end()) {
      batch_digest want;
      for (const auto& [k, v] : test::crash_values(seed, batch)) want.add(k, v);
      it = expected_cache.emplace(batch, want).first;
    }
    CHECK_MESSAGE(digest == it->second, "batch " << batch << " is present only in part ("
                                                 << digest.count << " of " << it->second.count
                                                 << " values, or wrong bytes)");
  }
  // Every reported batch is there; at most one unreported group (<= 3 batches) more.
  CHECK_MESSAGE(n >= reported_end, "reported batch " << reported_end - 1 << " is missing");
  CHECK(n <= reported_end + 3);

  // Meta and delta log agree with the values: the same transactions, whole.
  auto last = s.get_meta("last");
  REQUIRE(last.has_value());
  if (n == 0) {
    CHECK_FALSE(last->has_value());
  } else {
    REQUIRE(last->has_value());
    CHECK(std::stoull(**last) == n - 1);
  }
  std::vector<uint64_t> seqs;
  REQUIRE(s.scan_deltas(test::crash_origin, 0, [&](uint64_t seq, std::string_view d) {
             if (d != test::crash_delta(seq)) seqs.push_back(UINT64_MAX);
             seqs.push_back(seq);
             return true;
           }).has_value());
  std::vector<uint64_t> want;
  if (n > 0) {
    for (uint64_t i = test::crash_delta_floor(n - 1); i < n; ++i) want.push_back(i);
  }
  CHECK(seqs == want);
  return n;
}

}  // namespace

TEST_CASE("crash: kill -9 at random moments loses no reported batch and tears none") {
  const uint64_t seed = test::test_seed("crash");
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  test::temp_dir tmp;
  const std::string dir = tmp.sub("db");
  const auto started = clock_type::now();
  std::map<uint64_t, batch_digest> expected_cache;

  constexpr int iterations = 40;
  uint64_t next = 0;
  int mid_run_kills = 0;
  int replayed_at_open = 0;  // kills that left a log backlog for the next open to replay
  for (int it = 0; it < iterations; ++it) {
    CAPTURE(it);
    const bool relaxed = it % 2 == 1;
    // Write-behind: runs of children that only append to the log (each replays the backlog the
    // one before left, and the kill-early ones die during that replay), children that
    // materialize every few KiB (killed inside materializations), and the defaults.
    const char* wb = (it / 4) % 3 == 0 ? "hold" : (it / 4) % 3 == 1 ? "eager" : "default";
    std::vector<std::string> lines;
    uint64_t reported_end = next;
    {
      child_process child({RUMOR_CRASH_CHILD_PATH, dir, relaxed ? "relaxed" : "durable",
                           std::to_string(next), std::to_string(seed), wb});
      if (it % 8 == 7) {
        // Kill early: during exec, open, or the very first commit.
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 5000));
      } else {
        const auto ready_deadline = clock_type::now() + std::chrono::seconds(10);
        while (lines.empty()) {
          const int r = child.read_once(ready_deadline, lines);
          REQUIRE_MESSAGE(r >= 0, "child exited early");
          REQUIRE_MESSAGE((r > 0 || !lines.empty()), "child not ready in 10 s");
        }
        REQUIRE(lines.front() == "ready");
        if (it % 10 == 0) {
          // While the child holds the directory, another process cannot open it.
          auto second = lmdb_store::open(test::small_options(dir));
          REQUIRE_FALSE(second.has_value());
          CHECK(second.err().code == errc::busy);
        }
        const auto kill_at = clock_type::now() + std::chrono::microseconds(500 + rng() % 40000);
        child.read_until(kill_at, lines);
        ++mid_run_kills;
      }
      const int ws = child.kill_and_reap();
      REQUIRE_MESSAGE((WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL),
                      "child ended by itself (see its stderr), status " << ws);
      child.drain(lines);
    }
    for (const auto& l : lines) {
      if (l == "ready") continue;
      const uint64_t batch = std::stoull(l);
      REQUIRE(batch == reported_end);  // reports come in order
      reported_end = batch + 1;
    }
    next = verify(dir, seed, reported_end, expected_cache, replayed_at_open);
    if (std::getenv("RUMOR_CRASH_VERBOSE") != nullptr) {
      std::fprintf(stderr, "iteration %d: %s %s, reported up to %llu, present %llu, %.3f s\n", it,
                   relaxed ? "relaxed" : "durable", wb, static_cast<unsigned long long>(reported_end),
                   static_cast<unsigned long long>(next),
                   std::chrono::duration<double>(clock_type::now() - started).count());
    }
  }
  const double secs = std::chrono::duration<double>(clock_type::now() - started).count();
  MESSAGE("crash test: " << iterations << " kills (" << mid_run_kills << " mid-run), " << next
                         << " batches committed, " << secs << " s");
  CHECK(mid_run_kills >= 30);
  CHECK(replayed_at_open > 0);  // some children started on a log backlog
  CHECK(next > 0);
  CHECK(secs < 60);
}
