#include "persistence/faulty_store.hpp"

#include <algorithm>
#include <tuple>
#include <utility>

namespace rumor::persistence {

namespace {

error crashed_error() { return error{errc::io_error, "injected fault: the store has crashed"}; }

}  // namespace

faulty_store::faulty_store(store& inner, std::function<void()> on_crash)
    : inner_(inner), on_crash_(std::move(on_crash)) {}

void faulty_store::fail_next_commits(int n, errc code) {
  std::lock_guard lk(mu_);
  fail_commits_ = n;
  fail_commit_code_ = code;
}

void faulty_store::fail_next_commits_after_apply(int n) {
  std::lock_guard lk(mu_);
  fail_after_apply_ = n;
}

void faulty_store::fail_next_reads(int n) {
  std::lock_guard lk(mu_);
  fail_reads_ = n;
}

void faulty_store::fail_next_syncs(int n) {
  std::lock_guard lk(mu_);
  fail_syncs_ = n;
}

void faulty_store::corrupt_value(std::string key) {
  std::lock_guard lk(mu_);
  corrupt_.insert(std::move(key));
}

void faulty_store::crash_on_next_commit() {
  std::lock_guard lk(mu_);
  crash_on_commit_ = true;
}

void faulty_store::crash() {
  std::lock_guard lk(mu_);
  if (on_crash_) on_crash_();
  crashed_ = true;
  crash_on_commit_ = false;
}

void faulty_store::restart() {
  std::lock_guard lk(mu_);
  crashed_ = false;
}

bool faulty_store::crashed() const {
  std::lock_guard lk(mu_);
  return crashed_;
}

uint64_t faulty_store::commits_applied() const {
  std::lock_guard lk(mu_);
  return applied_;
}

status faulty_store::read_fault() const {
  std::lock_guard lk(mu_);
  if (crashed_) return crashed_error();
  if (fail_reads_ > 0) {
    --fail_reads_;
    return error{errc::io_error, "injected fault: read failed"};
  }
  return {};
}

status faulty_store::commit(std::span<const write_batch> group) {
  // One commit at a time; mu_ itself is held only briefly, so reads never wait for a commit.
  std::lock_guard commit_lk(commit_mu_);
  {
    std::lock_guard lk(mu_);
    if (crashed_) return crashed_error();
    if (crash_on_commit_) {
      if (on_crash_) on_crash_();
      crashed_ = true;
      crash_on_commit_ = false;
      return error{errc::io_error, "injected fault: crashed during commit; nothing was committed"};
    }
    if (fail_commits_ > 0) {
      --fail_commits_;
      return error{fail_commit_code_, "injected fault: commit failed; nothing was committed"};
    }
  }
  if (auto s = inner_.commit(group); !s) return s;
  std::lock_guard lk(mu_);
  ++applied_;
  // A rewritten value is no longer corrupt.
  if (!corrupt_.empty()) {
    for (const write_batch& b : group) {
      for (std::size_t i = 0; i < b.size(); ++i) {
        const write_op op = b.op(i);
        if (op.kind == op_kind::put_value || op.kind == op_kind::erase_value) {
          if (auto it = corrupt_.find(op.key); it != corrupt_.end()) corrupt_.erase(it);
        }
      }
    }
  }
  if (fail_after_apply_ > 0) {
    --fail_after_apply_;
    return error{errc::io_error, "injected fault: commit outcome unknown (failed after apply)"};
  }
  return {};
}

result<std::optional<std::string>> faulty_store::get_value(std::string_view key) const {
  if (auto s = read_fault(); !s) return s.err();
  {
    std::lock_guard lk(mu_);
    if (corrupt_.count(key) != 0) {
      return error{errc::corrupt, "value of key '" + std::string{key} +
                                      "' is corrupt (injected fault); it is quarantined"};
    }
  }
  return inner_.get_value(key);
}

status faulty_store::scan_values(const key_range& range, const record_visitor& visit) const {
  if (auto s = read_fault(); !s) return s;
  std::set<std::string, std::less<>> corrupt;
  {
    std::lock_guard lk(mu_);
    corrupt = corrupt_;
  }
  if (corrupt.empty()) return inner_.scan_values(range, visit);
  return inner_.scan_values(range, [&](std::string_view k, std::string_view v) {
    return corrupt.count(k) != 0 ? true : visit(k, v);
  });
}

status faulty_store::scan_deltas(uint64_t origin, uint64_t from_seq,
                                 const delta_visitor& visit) const {
  if (auto s = read_fault(); !s) return s;
  return inner_.scan_deltas(origin, from_seq, visit);
}

result<std::optional<std::string>> faulty_store::get_meta(std::string_view name) const {
  if (auto s = read_fault(); !s) return s.err();
  return inner_.get_meta(name);
}

status faulty_store::scan_meta(const key_range& range, const record_visitor& visit) const {
  if (auto s = read_fault(); !s) return s;
  return inner_.scan_meta(range, visit);
}

std::vector<quarantine_entry> faulty_store::quarantined() const {
  std::vector<quarantine_entry> out = inner_.quarantined();
  std::lock_guard lk(mu_);
  for (const auto& k : corrupt_) {
    out.push_back(quarantine_entry{record_kind::value, k, 0, 0, "injected fault"});
  }
  std::sort(out.begin(), out.end(), [](const quarantine_entry& a, const quarantine_entry& b) {
    return std::tie(a.kind, a.key, a.origin, a.seq) < std::tie(b.kind, b.key, b.origin, b.seq);
  });
  return out;
}

status faulty_store::sync() {
  {
    std::lock_guard lk(mu_);
    if (crashed_) return crashed_error();
    if (fail_syncs_ > 0) {
      --fail_syncs_;
      return error{errc::io_error, "injected fault: sync failed"};
    }
  }
  return inner_.sync();
}

result<store_stats> faulty_store::stats() const {
  if (auto s = read_fault(); !s) return s.err();
  return inner_.stats();
}

}  // namespace rumor::persistence
