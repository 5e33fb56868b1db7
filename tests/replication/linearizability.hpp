#pragma once
// A linearizability checker for one register with read / write / compare-and-set semantics
// (Wing & Gong 1993, with the memoisation of Lowe 2017 / Knossos: a search state is the set of
// operations linearized so far plus the register value, and each is explored once).
//
// A history is a list of operations with invoke and complete times from one global clock (any
// strictly increasing event counter). An operation whose outcome is unknown (a timeout: it may or
// may not have taken effect) has complete = never: it may be linearized at any point after its
// invoke, or not at all. Operations known not to have taken effect (cas replies "unavailable")
// should simply be left out.
//
// check_register() returns whether some total order of the operations (all definite ones, any
// subset of the unknown ones) respects real time (an operation that completed before another was
// invoked comes first) and the register's sequential semantics:
//   read ok v            the value is v
//   write ok v           the value becomes v
//   cas(e, d) ok         the value was e and becomes d
//   cas(e, d) conflict c the value was c, and c != e (unchanged)
//   write / cas unknown  as ok, if linearized at all
// Pure, single-threaded; the search is bounded by `budget` explored states.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

namespace rumor::test {

using reg_value = std::optional<std::string>;

struct lin_op {
  enum class kind : uint8_t { read, write, cas };
  enum class outcome : uint8_t { ok, conflict, unknown };
  kind k = kind::read;
  outcome out = outcome::ok;
  reg_value expected;  // cas
  reg_value desired;   // write, cas
  reg_value value;     // read ok: the value read; cas conflict: the current value reported
  uint64_t invoke = 0;
  uint64_t complete = std::numeric_limits<uint64_t>::max();  // unknown: never
  uint64_t client = 0;  // for messages only
};

struct lin_result {
  bool linearizable = false;
  bool gave_up = false;    // budget exhausted before an answer
  uint64_t explored = 0;   // search states visited
  std::string explanation; // when not linearizable: the history, and how far the search got
};

inline std::string describe_value(const reg_value& v) { return v ? "'" + *v + "'" : "absent"; }

inline std::string describe_op(const lin_op& o) {
  std::ostringstream s;
  s << "[" << o.invoke << ", ";
  if (o.complete == std::numeric_limits<uint64_t>::max()) s << "never";
  else s << o.complete;
  s << "] client " << o.client << " ";
  switch (o.k) {
    case lin_op::kind::read: s << "read"; break;
    case lin_op::kind::write: s << "write(" << describe_value(o.desired) << ")"; break;
    case lin_op::kind::cas:
      s << "cas(" << describe_value(o.expected) << " -> " << describe_value(o.desired) << ")";
      break;
  }
  switch (o.out) {
    case lin_op::outcome::ok:
      s << " ok";
      if (o.k == lin_op::kind::read) s << " " << describe_value(o.value);
      break;
    case lin_op::outcome::conflict: s << " conflict, current " << describe_value(o.value); break;
    case lin_op::outcome::unknown: s << " unknown"; break;
  }
  return s.str();
}

class register_checker {
 public:
  register_checker(std::vector<lin_op> ops, reg_value initial, uint64_t budget)
      : initial_(std::move(initial)), budget_(budget) {
    // Unknown reads constrain nothing and change nothing.
    for (auto& o : ops)
      if (!(o.out == lin_op::outcome::unknown && o.k == lin_op::kind::read)) ops_.push_back(std::move(o));
    std::stable_sort(ops_.begin(), ops_.end(), [](const lin_op& a, const lin_op& b) { return a.invoke < b.invoke; });
    words_ = (ops_.size() + 63) / 64;
    for (const auto& o : ops_) definite_ += o.out != lin_op::outcome::unknown;
  }

  lin_result run() {
    lin_result r;
    std::vector<uint64_t> bits(words_, 0);
    r.linearizable = search(bits, 0, initial_);
    r.explored = explored_;
    r.gave_up = gave_up_;
    if (!r.linearizable && !gave_up_) {
      std::ostringstream s;
      s << "no linearization; the deepest search linearized " << deepest_ << " of " << definite_
        << " definite operations. History (" << ops_.size() << " ops, by invoke):\n";
      for (const auto& o : ops_) s << "  " << describe_op(o) << "\n";
      r.explanation = s.str();
    }
    return r;
  }

 private:
  static bool has(const std::vector<uint64_t>& b, size_t i) { return (b[i / 64] >> (i % 64)) & 1; }
  static void flip(std::vector<uint64_t>& b, size_t i) { b[i / 64] ^= uint64_t{1} << (i % 64); }

  std::string memo_key(const std::vector<uint64_t>& bits, const reg_value& state) const {
    std::string k(reinterpret_cast<const char*>(bits.data()), bits.size() * 8);
    if (state) {
      k.push_back('\1');
      k += *state;
    } else {
      k.push_back('\0');
    }
    return k;
  }

  // Applies op `o` to `state`; returns false iff `o` cannot take effect in `state` (for unknown
  // operations: taking effect there would be pointless, as "never" is also allowed).
  static bool step(const lin_op& o, reg_value& state) {
    switch (o.k) {
      case lin_op::kind::read:
        return state == o.value;
      case lin_op::kind::write:
        state = o.desired;
        return true;
      case lin_op::kind::cas:
        if (o.out == lin_op::outcome::conflict) return state != o.expected && state == o.value;
        if (state != o.expected) return false;
        state = o.desired;
        return true;
    }
    return false;
  }

  bool search(std::vector<uint64_t>& bits, size_t done, const reg_value& state) {
    if (done == definite_) return true;
    if (gave_up_) return false;
    if (++explored_ > budget_) {
      gave_up_ = true;
      return false;
    }
    if (!memo_.insert(memo_key(bits, state)).second) return false;
    deepest_ = std::max(deepest_, done);
    // Every definite operation left must come after the earliest completion among them.
    uint64_t min_complete = std::numeric_limits<uint64_t>::max();
    for (size_t i = 0; i < ops_.size(); ++i)
      if (!has(bits, i) && ops_[i].out != lin_op::outcome::unknown)
        min_complete = std::min(min_complete, ops_[i].complete);
    for (size_t i = 0; i < ops_.size() && ops_[i].invoke < min_complete; ++i) {
      if (has(bits, i)) continue;
      reg_value next = state;
      if (!step(ops_[i], next)) continue;
      flip(bits, i);
      bool found = search(bits, done + (ops_[i].out != lin_op::outcome::unknown), next);
      flip(bits, i);
      if (found) return true;
      if (gave_up_) return false;
    }
    return false;
  }

  std::vector<lin_op> ops_;
  reg_value initial_;
  uint64_t budget_;
  size_t words_ = 0;
  size_t definite_ = 0;
  size_t deepest_ = 0;
  uint64_t explored_ = 0;
  bool gave_up_ = false;
  std::unordered_set<std::string> memo_;
};

inline lin_result check_register(std::vector<lin_op> ops, reg_value initial = std::nullopt,
                                 uint64_t budget = 2'000'000) {
  return register_checker(std::move(ops), std::move(initial), budget).run();
}

}  // namespace rumor::test
