#include "crdt/text_seq.hpp"

#include <algorithm>
#include <cassert>

namespace rumor::crdt::detail {

text_seq::text_seq(const text_seq& other) : visible_(other.visible_), items_(other.items_) {
  blocks_.reserve(other.blocks_.size());
  for (const auto& b : other.blocks_) {
    blocks_.push_back(std::make_unique<block>(*b));
    block* nb = blocks_.back().get();
    for (const seq_run& r : nb->runs) index_[r.id.node][r.id.counter] = nb;
  }
}

std::optional<where> text_seq::locate(const dot& d) const {
  if (d.counter == 0) return std::nullopt;
  auto n = index_.find(d.node);
  if (n == index_.end()) return std::nullopt;
  auto it = n->second.upper_bound(d.counter);
  if (it == n->second.begin()) return std::nullopt;
  const block* b = std::prev(it)->second;
  for (size_t i = 0; i < b->runs.size(); ++i)
    if (b->runs[i].covers(d)) return where{where::item, b->ordinal, i, d.counter - b->runs[i].id.counter};
  return std::nullopt;
}

bool text_seq::has_any(node_id n, uint64_t first, uint64_t last) const {
  if (first >= last) return false;
  if (has(dot{n, first})) return true;
  auto ni = index_.find(n);
  if (ni == index_.end()) return false;
  auto it = ni->second.upper_bound(first);  // a run starting inside the range
  return it != ni->second.end() && it->first < last;
}

where text_seq::next(const where& w) const {
  if (w.kind == where::end) return w;
  if (w.kind == where::start) return blocks_.empty() ? where{where::end} : where{where::item, 0, 0, 0};
  const block& b = *blocks_[w.block];
  if (w.off + 1 < b.runs[w.run].length) return {where::item, w.block, w.run, w.off + 1};
  if (w.run + 1 < b.runs.size()) return {where::item, w.block, w.run + 1, 0};
  if (w.block + 1 < blocks_.size()) return {where::item, w.block + 1, 0, 0};
  return {where::end};
}

where text_seq::nth_visible(uint64_t k) const {
  assert(k >= 1 && k <= visible_);
  uint64_t acc = 0;
  for (size_t bi = 0; bi < blocks_.size(); ++bi) {
    const block& b = *blocks_[bi];
    if (acc + b.visible < k) {
      acc += b.visible;
      continue;
    }
    for (size_t i = 0; i < b.runs.size(); ++i) {
      const seq_run& r = b.runs[i];
      if (r.deleted) continue;
      if (acc + r.length >= k) return {where::item, bi, i, k - acc - 1};
      acc += r.length;
    }
  }
  return {where::end};
}

void text_seq::split_run(block& b, size_t i, uint64_t k) {
  seq_run& a = b.runs[i];
  seq_run tail;
  tail.id = {a.id.node, a.id.counter + k};
  tail.length = a.length - k;
  tail.left = {a.id.node, a.id.counter + k - 1};
  tail.right = a.right;
  tail.deleted = a.deleted;
  if (!a.deleted) {
    tail.chars = a.chars.substr(k);
    a.chars.resize(k);
  }
  a.length = k;
  index_[tail.id.node][tail.id.counter] = &b;
  b.runs.insert(b.runs.begin() + static_cast<std::ptrdiff_t>(i) + 1, std::move(tail));
}

void text_seq::maybe_split(block& b) {
  if (b.runs.size() <= max_runs) return;
  auto nb = std::make_unique<block>();
  size_t half = b.runs.size() / 2;
  nb->runs.assign(std::make_move_iterator(b.runs.begin() + static_cast<std::ptrdiff_t>(half)),
                  std::make_move_iterator(b.runs.end()));
  b.runs.resize(half);
  for (const seq_run& r : nb->runs) {
    if (!r.deleted) nb->visible += r.length;
    index_[r.id.node][r.id.counter] = nb.get();
  }
  b.visible -= nb->visible;
  size_t at = b.ordinal + 1;
  blocks_.insert(blocks_.begin() + static_cast<std::ptrdiff_t>(at), std::move(nb));
  for (size_t i = at; i < blocks_.size(); ++i) blocks_[i]->ordinal = i;
}

void text_seq::insert_before(const where& w, seq_run r) {
  block* b;
  size_t at;
  if (w.kind == where::end) {
    if (blocks_.empty()) blocks_.push_back(std::make_unique<block>());
    b = blocks_.back().get();
    at = b->runs.size();
  } else {
    assert(w.kind == where::item);
    b = blocks_[w.block].get();
    at = w.run;
    if (w.off > 0) {
      split_run(*b, w.run, w.off);
      at = w.run + 1;
    }
  }
  if (!r.deleted) {
    b->visible += r.length;
    visible_ += r.length;
  }
  items_ += r.length;
  index_[r.id.node][r.id.counter] = b;
  b->runs.insert(b->runs.begin() + static_cast<std::ptrdiff_t>(at), std::move(r));
  maybe_split(*b);
}

void text_seq::extend(const where& w, std::u32string_view chars) {
  block& b = *blocks_[w.block];
  seq_run& r = b.runs[w.run];
  assert(!r.deleted && w.off + 1 == r.length);
  r.chars.append(chars);
  r.length += chars.size();
  b.visible += chars.size();
  visible_ += chars.size();
  items_ += chars.size();
}

dot text_seq::delete_at(const where& w, uint64_t count) {
  block& b = *blocks_[w.block];
  size_t i = w.run;
  if (w.off > 0) {
    split_run(b, i, w.off);
    ++i;
  }
  if (count < b.runs[i].length) split_run(b, i, count);
  seq_run& r = b.runs[i];
  assert(!r.deleted);
  r.deleted = true;
  r.chars.clear();
  r.chars.shrink_to_fit();
  b.visible -= r.length;
  visible_ -= r.length;
  dot first = r.id;
  maybe_split(b);
  return first;
}

void text_seq::delete_ids(node_id n, uint64_t first, uint64_t last) {
  auto ni = index_.find(n);
  if (ni == index_.end()) return;
  uint64_t c = first;
  while (c < last) {
    auto it = ni->second.upper_bound(c);
    std::optional<where> w;
    if (it != ni->second.begin()) w = locate(dot{n, c});
    if (!w) {
      if (it == ni->second.end() || it->first >= last) return;
      c = it->first;
      continue;
    }
    const seq_run& r = run_at(*w);
    uint64_t take = std::min(r.length - w->off, last - c);
    if (!r.deleted) delete_at(*w, take);
    c += take;
  }
}

where text_seq::origin_pos(const dot& d, bool is_left) const {
  if (d.counter == 0) return where{is_left ? where::start : where::end};
  auto w = locate(d);
  assert(w);
  return *w;
}

// FugueMax in list form. Scans the items between the new run's origins (the concurrent
// insertions there): an item whose left origin is left of ours ends the scan; one with our left
// origin and a right origin left of ours may be followed by items we go after ("scanning": the
// position is held until that is decided); one with both our origins is ordered by node id.
where text_seq::integration_point(const dot& id, const dot& left, const dot& right) const {
  const where lp = origin_pos(left, true);
  const where rp = origin_pos(right, false);
  where cur = next(lp);
  where dest = cur;
  bool scanning = false;
  while (true) {
    if (!scanning) dest = cur;
    if (cur.kind == where::end || cur == rp) break;
    const seq_run& o = run_at(cur);
    where oleft = cur.off == 0 ? origin_pos(o.left, true) : where{where::item, cur.block, cur.run, cur.off - 1};
    if (lp < oleft && cur.off > 0) {
      // Inside a run whose earlier item is right of our left origin: every further item of the
      // run is skipped too (their left origins are their predecessors); stop at rp if it is here.
      if (rp.kind == where::item && rp.block == cur.block && rp.run == cur.run && rp.off > cur.off) {
        cur = rp;
      } else {
        cur = next(where{where::item, cur.block, cur.run, o.length - 1});
      }
      continue;
    }
    if (oleft < lp) break;
    if (oleft == lp) {
      const where oright = origin_pos(o.right, false);
      if (oright < rp) {
        scanning = true;
      } else if (oright == rp) {
        if (id.node < o.id.node) break;
        scanning = false;
      } else {
        scanning = false;
      }
    }
    cur = next(cur);
  }
  return dest;
}

std::u32string text_seq::slice(uint64_t pos, uint64_t count) const {
  std::u32string out;
  uint64_t acc = 0;
  for (const auto& b : blocks_) {
    if (out.size() >= count) break;
    if (acc + b->visible <= pos) {
      acc += b->visible;
      continue;
    }
    for (const seq_run& r : b->runs) {
      if (r.deleted) continue;
      uint64_t from = pos > acc ? pos - acc : 0;
      if (from < r.length && out.size() < count)
        out.append(std::u32string_view(r.chars).substr(from, count - out.size()));
      acc += r.length;
    }
  }
  return out;
}

size_t text_seq::memory_bytes() const noexcept {
  size_t n = blocks_.capacity() * sizeof(void*);
  for (const auto& b : blocks_) {
    n += sizeof(block) + b->runs.capacity() * sizeof(seq_run);
    for (const seq_run& r : b->runs) n += r.chars.capacity() * sizeof(char32_t);
  }
  for (const auto& [node, m] : index_) n += 64 + m.size() * 48;
  return n;
}

}  // namespace rumor::crdt::detail
