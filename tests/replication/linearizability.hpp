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
//
// Unknown operations are what make the search large (each may be in or out), so they are pruned
// three ways, each keeping the answer exact: definite operations are tried before unknown ones; an
// unknown operation that would leave the value unchanged is not tried; of unused unknown
// operations alike in kind and values and all open at a point, only the first is tried. And a
// state is skipped when one with the same definite operations and value, having used a subset of
// its unknown operations, was explored already. (Schedule 3861531100214001600 of cas_sim, 61
// unknown of 176 operations on one key, took 3.76 million states before, 120 after.)

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
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
    unknown_mask_.assign(words_, 0);
    for (size_t i = 0; i < ops_.size(); ++i) {
      if (ops_[i].out == lin_op::outcome::unknown) unknown_mask_[i / 64] |= uint64_t{1} << (i % 64);
      else ++definite_;
    }
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

  // The memo key of a state: the definite operations linearized so far and the value. Which
  // unknown operations were used is kept beside it, as a list of sets per key.
  std::string memo_key(const std::vector<uint64_t>& bits, const reg_value& state) const {
    std::string k;
    k.reserve(words_ * 8 + 1 + (state ? state->size() : 0));
    for (size_t w = 0; w < words_; ++w) {
      uint64_t d = bits[w] & ~unknown_mask_[w];
      k.append(reinterpret_cast<const char*>(&d), 8);
    }
    if (state) {
      k.push_back('\1');
      k += *state;
    } else {
      k.push_back('\0');
    }
    return k;
  }

  // Records the state; false if it, or a state it is dominated by, was explored before. A state
  // that has used a superset of the unknown operations of an explored state with the same definite
  // operations and value has fewer choices left, so it cannot succeed where that one failed.
  bool first_visit(const std::vector<uint64_t>& bits, const reg_value& state) {
    std::vector<uint64_t> used(words_);
    for (size_t w = 0; w < words_; ++w) used[w] = bits[w] & unknown_mask_[w];
    auto& seen = memo_[memo_key(bits, state)];
    for (const auto& s : seen) {
      bool subset = true;
      for (size_t w = 0; w < words_ && subset; ++w) subset = (s[w] & ~used[w]) == 0;
      if (subset) return false;
    }
    seen.push_back(std::move(used));
    return true;
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

  // Whether an unused unknown operation before `i`, also open before `min_complete`, has the same
  // kind, expected and desired values as ops_[i] (it was tried first, with the same effect).
  bool tried_alike(const std::vector<uint64_t>& bits, size_t i, uint64_t min_complete) const {
    const lin_op& o = ops_[i];
    for (size_t j = 0; j < i && ops_[j].invoke < min_complete; ++j) {
      const lin_op& p = ops_[j];
      if (!has(bits, j) && p.out == lin_op::outcome::unknown && p.k == o.k && p.expected == o.expected &&
          p.desired == o.desired)
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
    if (!first_visit(bits, state)) return false;
    deepest_ = std::max(deepest_, done);
    // Every definite operation left must come after the earliest completion among them.
    uint64_t min_complete = std::numeric_limits<uint64_t>::max();
    for (size_t i = 0; i < ops_.size(); ++i)
      if (!has(bits, i) && ops_[i].out != lin_op::outcome::unknown)
        min_complete = std::min(min_complete, ops_[i].complete);
    // Definite operations are tried before unknown ones: an unknown operation is only ever needed
    // to explain a later definite one, so a linearizable history is usually found without them.
    for (int pass = 0; pass < 2; ++pass) {
      const bool unknown_pass = pass == 1;
      for (size_t i = 0; i < ops_.size() && ops_[i].invoke < min_complete; ++i) {
        if (has(bits, i) || (ops_[i].out == lin_op::outcome::unknown) != unknown_pass) continue;
        reg_value next = state;
        if (!step(ops_[i], next)) continue;
        // An unknown operation that leaves the value as it was only uses itself up.
        if (unknown_pass && next == state) continue;
        // Unused unknown operations alike in kind and values that are all open here are
        // interchangeable from here on: trying the first of them is enough.
        if (unknown_pass && tried_alike(bits, i, min_complete)) continue;
        flip(bits, i);
        bool found = search(bits, done + !unknown_pass, next);
        flip(bits, i);
        if (found) return true;
        if (gave_up_) return false;
      }
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
  std::vector<uint64_t> unknown_mask_;  // bit i: ops_[i] is unknown
  std::unordered_map<std::string, std::vector<std::vector<uint64_t>>> memo_;
};

inline lin_result check_register(std::vector<lin_op> ops, reg_value initial = std::nullopt,
                                 uint64_t budget = 2'000'000) {
  return register_checker(std::move(ops), std::move(initial), budget).run();
}

}  // namespace rumor::test
