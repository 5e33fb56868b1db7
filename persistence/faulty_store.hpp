#pragma once
// rumor::persistence::faulty_store — wraps another store and injects faults on demand, for tests
// of the layers above (storage actor, replication): failed commits, failed reads, corrupt
// records, and crashes. Without armed faults it forwards every call unchanged.
//
//   memory_store mem;
//   faulty_store f{mem, [&] { mem.crash(); }};
//   f.fail_next_commits(2);          // the next two commits fail with io_error, nothing applied
//   f.crash();                       // uncommitted work is gone; every call fails until restart()
//
// Thread safety: as store; fault settings may be changed from any thread (internal mutex).
// REQUIRES: `inner` outlives the faulty_store.

#include <functional>
#include <mutex>
#include <set>

#include "persistence/store.hpp"

namespace rumor::persistence {

class faulty_store final : public store {
 public:
  // `on_crash` runs inside crash(); pass e.g. memory_store::crash to also drop the inner
  // store's non-durable commits.
  explicit faulty_store(store& inner, std::function<void()> on_crash = {});

  // The next n commits fail with `code`; nothing of them is applied.
  void fail_next_commits(int n, errc code = errc::io_error);
  // The next n commits are applied to the inner store but report io_error: the caller cannot
  // tell whether they happened (as after an fsync failure). Never partial.
  void fail_next_commits_after_apply(int n);
  // The next n reads (get_value, get_meta, scan_*) fail with io_error.
  void fail_next_reads(int n);
  // The next n sync() calls fail with io_error.
  void fail_next_syncs(int n);
  // Value `key` reads as corrupt: get_value fails with errc::corrupt, scans skip it, and it is
  // quarantined — until a commit puts or erases it.
  void corrupt_value(std::string key);
  // The next commit is interrupted by a crash: nothing of it is applied, it fails with io_error,
  // and the store is crashed afterwards (see crash()).
  void crash_on_next_commit();
  // Crash now: runs on_crash, then every call fails with io_error until restart(). Only what the
  // inner store holds durably survives; nothing partial (the inner store commits atomically).
  void crash();
  // Ends the crashed state (the "process" restarted on the same storage).
  void restart();
  bool crashed() const;
  // Number of commit() calls that reached the inner store and succeeded.
  uint64_t commits_applied() const;

  using store::commit;
  status commit(std::span<const write_batch> group) override;
  result<std::optional<std::string>> get_value(std::string_view key) const override;
  status scan_values(const key_range& range, const record_visitor& visit) const override;
  status scan_deltas(uint64_t origin, uint64_t from_seq, const delta_visitor& visit) const override;
  result<std::optional<std::string>> get_meta(std::string_view name) const override;
  status scan_meta(const key_range& range, const record_visitor& visit) const override;
  uint64_t node_id() const override { return inner_.node_id(); }
  std::vector<quarantine_entry> quarantined() const override;
  status sync() override;
  result<store_stats> stats() const override;

 private:
  // Returns an error if a read fault is armed (consuming it) or the store is crashed.
  status read_fault() const;

  store& inner_;
  const std::function<void()> on_crash_;
  std::mutex commit_mu_;   // serializes commits
  mutable std::mutex mu_;  // guards the fault state below; never held across an inner call
                           // except on_crash_
  bool crashed_ = false;
  bool crash_on_commit_ = false;
  int fail_commits_ = 0;
  errc fail_commit_code_ = errc::io_error;
  int fail_after_apply_ = 0;
  mutable int fail_reads_ = 0;
  int fail_syncs_ = 0;
  uint64_t applied_ = 0;
  std::set<std::string, std::less<>> corrupt_;
};

}  // namespace rumor::persistence
