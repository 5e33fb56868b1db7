#include "crdt/text.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include "crdt/text_seq.hpp"
#include "crdt/utf8.hpp"

namespace rumor::crdt {

using detail::seq_run;
using detail::where;

struct text::impl : detail::text_seq {
  impl() = default;
  impl(const impl& o) : detail::text_seq(o) {}
};

namespace {

text_run public_run(const seq_run& r) { return text_run{r.id, r.length, r.left, r.right, r.chars}; }
// A pending run as held (uniform: deleted iff it has no codepoints; its length is never 0).
seq_run held_run(const text_run& r) { return seq_run{r.id, r.length, r.left, r.right, r.chars.empty(), r.chars}; }

// Chains: b continues a (same node, next id, left origin a's last item, same right origin).
bool chains(const text_run& a, const seq_run& b) {
  return b.id.node == a.id.node && b.id.counter == a.id.counter + a.length &&
         b.left == dot{a.id.node, a.id.counter + a.length - 1} && b.right == a.right;
}

void append_canonical(std::vector<text_run>& out, const seq_run& r) {
  if (!out.empty() && chains(out.back(), r)) {
    out.back().length += r.length;
    out.back().chars += r.chars;
  } else {
    out.push_back(public_run(r));
  }
}

// Splits a run of uniform status into runs of uniform status under `deleted` (a live run loses
// the codepoints of its items that `deleted` holds).
std::vector<seq_run> split_by(seq_run r, const text_id_set& deleted) {
  std::vector<seq_run> out;
  if (r.deleted) {
    out.push_back(std::move(r));
    return out;
  }
  auto gone = deleted.overlap(r.id.node, r.id.counter, r.id.counter + r.length);
  if (gone.empty()) {
    out.push_back(std::move(r));
    return out;
  }
  uint64_t at = r.id.counter;
  auto piece = [&](uint64_t a, uint64_t b, bool del) {
    seq_run p;
    p.id = {r.id.node, a};
    p.length = b - a;
    p.left = a == r.id.counter ? r.left : dot{r.id.node, a - 1};
    p.right = r.right;
    p.deleted = del;
    if (!del) p.chars = r.chars.substr(a - r.id.counter, b - a);
    out.push_back(std::move(p));
  };
  for (const auto& [a, b] : gone) {
    if (at < a) piece(at, a, false);
    piece(a, b, true);
    at = b;
  }
  if (at < r.id.counter + r.length) piece(at, r.id.counter + r.length, false);
  return out;
}

// The part [k, k + n) of a run of uniform status.
seq_run sub_run(const seq_run& r, uint64_t k, uint64_t n) {
  seq_run p;
  p.id = {r.id.node, r.id.counter + k};
  p.length = n;
  p.left = k == 0 ? r.left : dot{r.id.node, r.id.counter + k - 1};
  p.right = r.right;
  p.deleted = r.deleted;
  if (!r.deleted) p.chars = r.chars.substr(k, n);
  return p;
}

bool by_id(const seq_run& a, const seq_run& b) { return a.id < b.id; }

// Integrates every run of `incoming` whose origins are (or become) integrated, in rounds until
// none is left that can be; returns the rest, ordered by id, as pending runs.
std::vector<text_run> settle(detail::text_seq& seq, std::vector<seq_run> incoming) {
  std::vector<seq_run> waiting;
  bool progress = true;
  while (progress) {
    progress = false;
    waiting.clear();
    for (seq_run& r : incoming) {
      bool ready = (r.left.counter == 0 || seq.has(r.left)) && (r.right.counter == 0 || seq.has(r.right));
      if (!ready) {
        waiting.push_back(std::move(r));
        continue;
      }
      where at = seq.integration_point(r.id, r.left, r.right);
      seq.insert_before(at, std::move(r));
      progress = true;
    }
    incoming.swap(waiting);
  }
  std::sort(incoming.begin(), incoming.end(), by_id);
  std::vector<text_run> out;
  for (const seq_run& r : incoming) out.push_back(public_run(r));
  return out;
}

// The parts of [first, last) of node n that `c` does not hold (cost: the cloud dots in range).
std::vector<std::pair<uint64_t, uint64_t>> unknown_ranges(const dot_context& c, node_id n, uint64_t first, uint64_t last) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  uint64_t at = std::max(first, c.compact_part().get(n) + 1);
  const auto& cloud = c.cloud();
  auto it = std::lower_bound(cloud.begin(), cloud.end(), dot{n, at});
  for (; at < last && it != cloud.end() && it->node == n && it->counter < last; ++it) {
    if (it->counter > at) out.emplace_back(at, it->counter);
    at = it->counter + 1;
  }
  if (at < last) out.emplace_back(at, last);
  return out;
}

// A canonical run (content of its live items under `deleted`) as runs of uniform status.
std::vector<seq_run> assemble(const text_run& r, const text_id_set& deleted) {
  std::vector<seq_run> out;
  uint64_t at = r.id.counter, used = 0;
  auto piece = [&](uint64_t a, uint64_t b, bool del) {
    seq_run p{{r.id.node, a}, b - a, a == r.id.counter ? r.left : dot{r.id.node, a - 1}, r.right, del, {}};
    if (!del) {
      p.chars = r.chars.substr(used, b - a);
      used += b - a;
    }
    out.push_back(std::move(p));
  };
  for (const auto& [a, b] : deleted.overlap(r.id.node, r.id.counter, r.id.counter + r.length)) {
    if (at < a) piece(at, a, false);
    piece(a, b, true);
    at = b;
  }
  if (at < r.id.counter + r.length) piece(at, r.id.counter + r.length, false);
  return out;
}

}  // namespace

text::text() : seq_(std::make_unique<impl>()) {}

text::text(store_type, dot_context c) : seq_(std::make_unique<impl>()), ctx_(std::move(c)) {
  for (const auto& [n, counter] : ctx_.compact_part().entries()) deleted_.add(n, 1, counter + 1);
  for (const dot& d : ctx_.cloud()) deleted_.add(d.node, d.counter, d.counter + 1);
}

text::text(const text& o)
    : seq_(std::make_unique<impl>(*o.seq_)), pending_(o.pending_), deleted_(o.deleted_), ctx_(o.ctx_) {}
// A moved-from text is the empty text (not a null structure every method would have to check).
text::text(text&& o)
    : seq_(std::exchange(o.seq_, std::make_unique<impl>())),
      pending_(std::move(o.pending_)),
      deleted_(std::move(o.deleted_)),
      ctx_(std::move(o.ctx_)) {
  o.pending_.clear();
  o.deleted_ = {};
  o.ctx_ = {};
}
text& text::operator=(const text& o) {
  if (this != &o) {
    text copy(o);
    *this = std::move(copy);
  }
  return *this;
}
text& text::operator=(text&& o) {
  if (this != &o) {
    seq_ = std::exchange(o.seq_, std::make_unique<impl>());
    pending_ = std::move(o.pending_);
    deleted_ = std::move(o.deleted_);
    ctx_ = std::move(o.ctx_);
    o.pending_.clear();
    o.deleted_ = {};
    o.ctx_ = {};
  }
  return *this;
}
text::~text() = default;

uint64_t text::size() const noexcept { return seq_ ? seq_->visible() : 0; }

uint64_t text::item_count() const noexcept {
  uint64_t n = seq_ ? seq_->items() : 0;
  for (const text_run& r : pending_) n += r.length;
  return n;
}

uint64_t text::live_items() const noexcept {
  uint64_t n = size();
  for (const text_run& r : pending_) n += r.chars.size();
  return n;
}

bool text::is_bottom() const noexcept { return item_count() == 0 && deleted_.empty() && ctx_.empty(); }

std::string text::str() const { return substr(0, size()); }

std::string text::substr(uint64_t pos, uint64_t count) const { return utf8_encode(seq_->slice(pos, count)); }

result<text> text::splice(node_id self, uint64_t pos, uint64_t del, std::string_view ins) {
  auto chars = utf8_decode(ins);
  if (!chars) return error{errc::invalid_argument, "the inserted text is not valid UTF-8"};
  if (pos > size() || del > size() - pos) {
    return error{errc::invalid_argument, "splice at " + std::to_string(pos) + " deleting " + std::to_string(del) +
                                             " exceeds the text's " + std::to_string(size()) + " codepoints"};
  }
  text delta;
  if (del > 0) {
    dot op = ctx_.next_dot(self);
    ctx_.insert(op);
    delta.ctx_.insert(op);
    for (uint64_t left = del; left > 0;) {
      where w = seq_->nth_visible(pos + 1);
      uint64_t take = std::min(left, seq_->run_at(w).length - w.off);
      dot first = seq_->delete_at(w, take);
      deleted_.add(first.node, first.counter, first.counter + take);
      delta.deleted_.add(first.node, first.counter, first.counter + take);
      left -= take;
    }
  }
  if (!chars->empty()) {
    dot id = ctx_.next_dot(self);
    // The new run goes after the deleted items that follow the live one at pos - 1, so text
    // typed after a deletion continues the deleted run's chain (fewer, longer runs).
    where lw = pos == 0 ? where{where::start} : seq_->nth_visible(pos);
    where at = seq_->next(lw);
    while (at.kind == where::item && seq_->run_at(at).deleted) {
      lw = where{where::item, at.block, at.run, seq_->run_at(at).length - 1};
      at = seq_->next(lw);
    }
    dot left = lw.kind == where::item ? seq_->id_at(lw) : dot{};
    dot right = at.kind == where::item ? seq_->id_at(at) : dot{};
    for (uint64_t k = 0; k < chars->size(); ++k) {
      ctx_.insert(dot{self, id.counter + k});
      delta.ctx_.insert(dot{self, id.counter + k});
    }
    // The delta's run waits for its origins where it arrives, unless it has none (the start and
    // the end: then it is integrated in the delta too, as a decoder of the delta would).
    std::vector<seq_run> mine{seq_run{id, chars->size(), left, right, false, *chars}};
    delta.pending_ = settle(*delta.seq_, std::move(mine));
    const seq_run* lr = lw.kind == where::item ? &seq_->run_at(lw) : nullptr;
    if (lr && !lr->deleted && lw.off + 1 == lr->length && lr->id.node == self &&
        lr->id.counter + lr->length == id.counter && lr->right == right) {
      seq_->extend(lw, *chars);
    } else {
      seq_->insert_before(at, seq_run{id, chars->size(), left, right, false, std::move(*chars)});
    }
  }
  return delta;
}

void text::join(const text& other) {
  if (this == &other) return;
  if (is_bottom()) {  // a copy: other's pending runs wait for origins it lacks (from_parts, splice settle)
    *this = other;
    return;
  }
  // 1. Deletions: new ids in the delete set, applied to what is integrated here.
  other.deleted_.for_each([&](node_id n, uint64_t a, uint64_t b) {
    for (const auto& [x, y] : deleted_.add(n, a, b)) seq_->delete_ids(n, x, y);
  });
  // 2. Items not seen here, in other's document order, then its pending ones.
  std::vector<seq_run> incoming;
  auto take = [&](const seq_run& r) {
    for (const auto& [a, b] : unknown_ranges(ctx_, r.id.node, r.id.counter, r.id.counter + r.length))
      for (seq_run& p : split_by(sub_run(r, a - r.id.counter, b - a), deleted_)) incoming.push_back(std::move(p));
  };
  other.seq_->for_each_run(take);
  for (const text_run& r : other.pending_)
    take(held_run(r));
  ctx_.join(other.ctx_);
  // 3. Integrate what can be (both origins here); the rest waits in pending_.
  for (const text_run& r : pending_)
    for (seq_run& p : split_by(held_run(r), deleted_))
      incoming.push_back(std::move(p));
  pending_ = settle(*seq_, std::move(incoming));
}

bool text::changed_since(const dot_context& seen, node_id self) const {
  if (!seen.leq(ctx_)) return true;
  const auto& seen_cloud = seen.cloud();
  for (node_id n : ctx_.nodes()) {
    // The dots of n here that `seen` lacks, as ranges [x, y).
    std::vector<std::pair<uint64_t, uint64_t>> fresh;
    uint64_t mine = ctx_.compact_part().get(n), theirs = seen.compact_part().get(n);
    if (mine > theirs) {
      uint64_t at = theirs + 1;
      for (auto it = std::lower_bound(seen_cloud.begin(), seen_cloud.end(), dot{n, at});
           it != seen_cloud.end() && it->node == n && it->counter <= mine; ++it) {
        if (it->counter > at) fresh.emplace_back(at, it->counter);
        at = it->counter + 1;
      }
      if (at <= mine) fresh.emplace_back(at, mine + 1);
    }
    for (const dot& d : ctx_.cloud())
      if (d.node == n && !seen.contains(d)) fresh.emplace_back(d.counter, d.counter + 1);
    if (fresh.empty()) continue;
    if (n != self) return true;
    for (const auto& [x, y] : fresh) {
      auto held = deleted_.overlap(n, x, y);
      if (held.size() != 1 || held[0] != std::pair{x, y}) return true;  // an edit's dot, not a seed's
      // Deleted ids that some item holds are that item's insert: an edit.
      for (const text_run& r : pending_)
        if (r.id.node == n && r.id.counter < y && x < r.id.counter + r.length) return true;
      if (seq_->has_any(n, x, y)) return true;
    }
  }
  return false;
}

std::vector<text_run> text::runs() const {
  std::vector<text_run> out;
  seq_->for_each_run([&](const seq_run& r) { append_canonical(out, r); });
  return out;
}

std::vector<text_run> text::pending() const {
  std::vector<text_run> out;
  for (const text_run& r : pending_)
    append_canonical(out, held_run(r));
  return out;
}

result<text> text::from_parts(dot_context ctx, const std::vector<text_run>& seq, const std::vector<text_run>& pending,
                              text_id_set deleted) {
  auto bad = [](std::string what) { return error{errc::decode_error, "invalid text: " + std::move(what)}; };
  text t;
  t.ctx_ = std::move(ctx);
  t.deleted_ = std::move(deleted);
  text_id_set seen;
  auto check = [&](const text_run& r) -> status {
    if (r.length == 0 || r.id.counter == 0 || r.id.counter > UINT64_MAX - r.length) return bad("an empty or overflowing run");
    auto fresh = seen.add(r.id.node, r.id.counter, r.id.counter + r.length);
    if (fresh.size() != 1 || fresh[0] != std::pair{r.id.counter, r.id.counter + r.length}) return bad("an item id used twice");
    uint64_t live = r.length;
    for (const auto& [a, b] : t.deleted_.overlap(r.id.node, r.id.counter, r.id.counter + r.length)) live -= b - a;
    if (r.chars.size() != live) return bad("a run's content does not match its live items");
    if (!unknown_ranges(t.ctx_, r.id.node, r.id.counter, r.id.counter + r.length).empty())
      return bad("an item id outside the context");
    return {};
  };
  for (const auto* runs : {&seq, &pending})
    for (const text_run& r : *runs)
      if (auto s = check(r); !s) return s.err();
  // Place the integrated runs in the given order; every origin must be an item among them.
  for (const text_run& r : seq)
    for (seq_run& p : assemble(r, t.deleted_)) t.seq_->insert_before(where{where::end}, std::move(p));
  for (const text_run& r : seq) {
    if ((r.left.counter != 0 && !t.seq_->has(r.left)) || (r.right.counter != 0 && !t.seq_->has(r.right)))
      return bad("an integrated run names an origin that is not an item");
  }
  // Pending runs whose origins are here are integrated, as a join would: the decoded value is
  // the one its encoder held (which never holds such runs), whatever the input said.
  std::vector<seq_run> pend;
  for (const text_run& r : pending)
    for (seq_run& p : assemble(r, t.deleted_)) pend.push_back(std::move(p));
  t.pending_ = settle(*t.seq_, std::move(pend));
  return t;
}

size_t text::memory_bytes() const noexcept {
  size_t n = sizeof(text) + seq_->memory_bytes();
  for (const text_run& r : pending_) n += sizeof(text_run) + r.chars.capacity() * 4;
  return n + deleted_.interval_count() * 64;
}

bool operator==(const text& a, const text& b) {
  return a.ctx_ == b.ctx_ && a.deleted_ == b.deleted_ && a.runs() == b.runs() && a.pending() == b.pending();
}

}  // namespace rumor::crdt
