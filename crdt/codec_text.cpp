#include "crdt/codec_text.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include "base/varint.hpp"
#include "crdt/codec_compact.hpp"
#include "crdt/codec_reader.hpp"
#include "crdt/utf8.hpp"

namespace rumor::crdt::detail {

namespace {

uint64_t zigzag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
int64_t unzigzag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

struct node_table {
  std::vector<node_id> nodes;
  std::map<node_id, uint64_t> index;
  uint64_t of(node_id n) const { return index.at(n); }
};

// The first ids of `runs` with their indexes, sorted by id (one allocation, not a tree).
using run_starts = std::vector<std::pair<dot, size_t>>;

// The run of `runs` holding item `d`, if one does.
const text_run* holder(const run_starts& starts, const std::vector<text_run>& runs, const dot& d) {
  auto it = std::upper_bound(starts.begin(), starts.end(), d,
                             [](const dot& x, const std::pair<dot, size_t>& s) { return x < s.first; });
  if (it == starts.begin()) return nullptr;
  const text_run& r = runs[std::prev(it)->second];
  if (r.id.node != d.node || d.counter - r.id.counter >= r.length) return nullptr;
  return &r;
}

void put_runs(std::string& out, const std::vector<text_run>& runs, const node_table& nt) {
  put_varint(out, runs.size());
  run_starts starts;
  starts.reserve(runs.size());
  for (size_t i = 0; i < runs.size(); ++i) starts.emplace_back(runs[i].id, i);
  std::sort(starts.begin(), starts.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  uint64_t prev_end = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    const text_run& r = runs[i];
    const text_run* prev = i > 0 ? &runs[i - 1] : nullptr;
    const text_run* next = i + 1 < runs.size() ? &runs[i + 1] : nullptr;
    bool new_node = !prev || prev->id.node != r.id.node;
    put_varint(out, r.length << 1 | (new_node ? 1 : 0));
    if (new_node) put_varint(out, nt.of(r.id.node));
    put_varint(out, zigzag(static_cast<int64_t>(r.id.counter - prev_end)));
    uint8_t left_code, right_code;
    if (r.left.counter == 0) left_code = 0;
    else if (prev && r.left == dot{prev->id.node, prev->id.counter + prev->length - 1}) left_code = 1;
    else if (r.left == dot{r.id.node, r.id.counter - 1}) left_code = 2;
    else left_code = 3;
    const text_run* lh = r.left.counter == 0 ? nullptr : holder(starts, runs, r.left);
    if (r.right.counter == 0) right_code = 0;
    else if (next && r.right == next->id) right_code = 1;
    else if (prev && r.right == prev->right) right_code = 2;
    else if (lh && lh < &r && r.right == lh->right) right_code = 3;  // an earlier run: references only point back
    else right_code = 4;
    out.push_back(static_cast<char>(left_code + 4 * right_code));
    if (left_code == 3) {
      put_varint(out, nt.of(r.left.node));
      put_varint(out, zigzag(static_cast<int64_t>(r.left.counter - r.id.counter)));
    }
    if (right_code == 4) {
      put_varint(out, nt.of(r.right.node));
      put_varint(out, zigzag(static_cast<int64_t>(r.right.counter - r.id.counter)));
    }
    prev_end = r.id.counter + r.length;
  }
}

// codec_reader (codec_reader.hpp) with the text form's node references and relative counters.
struct reader : codec_reader {
  reader(std::string_view bytes, std::size_t from) : codec_reader{bytes, from, "invalid text encoding: "} {}

  bool node(const std::vector<node_id>& nodes, uint64_t idx, node_id& out) {
    if (idx >= nodes.size()) return fail("node index " + std::to_string(idx) + " out of range");
    out = nodes[idx];
    return true;
  }
  bool counter(uint64_t base, uint64_t zz, uint64_t& out, const char* what) {
    int64_t d = unzigzag(zz);
    uint64_t c = base + static_cast<uint64_t>(d);
    if ((d < 0 && static_cast<uint64_t>(-(d + 1)) >= base) || (d > 0 && c < base) || c == 0)
      return fail(std::string(what) + " out of range");
    out = c;
    return true;
  }
};

bool get_runs(reader& r, const std::vector<node_id>& nodes, std::vector<text_run>& out) {
  uint64_t n = 0;
  if (!r.count(n, 3, "run count")) return false;
  uint64_t prev_end = 0;
  const size_t first = out.size();
  // Right origins given by reference, resolved once every run is read: 1 the next run's first
  // item, 2 the previous run's right origin, 3 the right origin of the run holding the left one.
  std::vector<std::pair<size_t, uint64_t>> refs;
  for (uint64_t i = 0; i < n; ++i) {
    text_run run;
    uint64_t head = 0, ni = 0, zz = 0;
    if (!r.varint(head, "run length")) return false;
    run.length = head >> 1;
    if (head & 1) {
      if (!r.varint(ni, "run node") || !r.node(nodes, ni, run.id.node)) return false;
    } else {
      if (out.size() == first) return r.fail("the first run has no node");
      run.id.node = out.back().id.node;
    }
    if (!r.varint(zz, "run counter") || !r.counter(prev_end, zz, run.id.counter, "run counter")) return false;
    if (run.length == 0 || run.id.counter > UINT64_MAX - run.length) return r.fail("run length out of range");
    if (r.at >= r.in.size()) return r.fail("origins cut off");
    auto codes = static_cast<uint8_t>(r.in[r.at++]);
    uint8_t left_code = codes % 4, right_code = codes / 4;
    if (right_code > 4) return r.fail("origin codes out of range");
    if (left_code == 1) {
      if (out.size() == first) return r.fail("the first run's left origin refers to a previous run");
      run.left = dot{out.back().id.node, out.back().id.counter + out.back().length - 1};
    } else if (left_code == 2) {
      if (run.id.counter == 1) return r.fail("left origin before the first id");
      run.left = dot{run.id.node, run.id.counter - 1};
    } else if (left_code == 3) {
      if (!r.varint(ni, "left origin node") || !r.node(nodes, ni, run.left.node) || !r.varint(zz, "left origin counter") ||
          !r.counter(run.id.counter, zz, run.left.counter, "left origin counter"))
        return false;
    }
    if (right_code >= 1 && right_code <= 3) {
      refs.emplace_back(out.size(), right_code);
    } else if (right_code == 4) {
      if (!r.varint(ni, "right origin node") || !r.node(nodes, ni, run.right.node) || !r.varint(zz, "right origin counter") ||
          !r.counter(run.id.counter, zz, run.right.counter, "right origin counter"))
        return false;
    }
    prev_end = run.id.counter + run.length;
    out.push_back(std::move(run));
  }
  std::map<dot, size_t> starts;
  for (size_t i = first; i < out.size(); ++i) starts.emplace(out[i].id, i);
  // References of codes 2 and 3 point at earlier runs, so one pass in order resolves them all.
  for (const auto& [i, code] : refs) {
    text_run& run = out[i];
    if (code == 1) {
      if (i + 1 >= out.size()) return r.fail("the last run's right origin refers to a next run");
      run.right = out[i + 1].id;
      continue;
    }
    size_t from = 0;
    if (code == 2) {
      if (i == first) return r.fail("the first run's right origin refers to a previous run");
      from = i - 1;
    } else {
      auto it = run.left.counter == 0 ? starts.begin() : starts.upper_bound(run.left);
      if (it == starts.begin()) return r.fail("a right origin refers to a run that is not here");
      from = std::prev(it)->second;
      const text_run& h = out[from];
      if (h.id.node != run.left.node || run.left.counter - h.id.counter >= h.length || from >= i)
        return r.fail("a right origin refers to a run that is not before it");
    }
    run.right = out[from].right;
  }
  return true;
}

}  // namespace

std::string encode_text(const text& t) {
  std::vector<text_run> seq = t.runs(), pend = t.pending();
  node_table nt;
  nt.nodes = t.context().nodes();
  std::vector<node_id> extra;
  auto note = [&](const dot& d) {
    if (d.counter != 0 && !std::binary_search(nt.nodes.begin(), nt.nodes.end(), d.node)) extra.push_back(d.node);
  };
  for (const auto* runs : {&seq, &pend})
    for (const text_run& r : *runs) {
      note(r.id);
      note(r.left);
      note(r.right);
    }
  t.deleted().for_each([&](node_id n, uint64_t, uint64_t) { note(dot{n, 1}); });
  std::sort(extra.begin(), extra.end());
  extra.erase(std::unique(extra.begin(), extra.end()), extra.end());
  nt.nodes.insert(nt.nodes.end(), extra.begin(), extra.end());
  for (size_t i = 0; i < nt.nodes.size(); ++i) nt.index[nt.nodes[i]] = i;

  std::string out;
  out.push_back(static_cast<char>(codec_compact_marker));
  out.push_back(static_cast<char>(type_tag::text));
  put_compact_context(out, t.context());
  put_varint(out, extra.size());
  for (node_id n : extra) put_u64le(out, n);
  put_runs(out, seq, nt);
  put_runs(out, pend, nt);
  std::map<node_id, std::vector<std::pair<uint64_t, uint64_t>>> del;
  t.deleted().for_each([&](node_id n, uint64_t a, uint64_t b) { del[n].emplace_back(a, b); });
  std::vector<std::pair<uint64_t, node_id>> order;  // by node index
  for (const auto& [n, v] : del) order.emplace_back(nt.of(n), n);
  std::sort(order.begin(), order.end());
  put_varint(out, order.size());
  for (const auto& [idx, n] : order) {
    put_varint(out, idx);
    put_varint(out, del[n].size());
    uint64_t end = 0;
    for (const auto& [a, b] : del[n]) {
      put_varint(out, a - end);
      put_varint(out, b - a);
      end = b;
    }
  }
  std::string content;
  for (const auto* runs : {&seq, &pend})
    for (const text_run& r : *runs) content += utf8_encode(r.chars);
  put_varint(out, content.size());
  out += content;
  return out;
}

result<text> decode_text(std::string_view bytes) {
  if (bytes.size() < 2 || static_cast<uint8_t>(bytes[0]) != codec_compact_marker ||
      static_cast<uint8_t>(bytes[1]) != static_cast<uint8_t>(type_tag::text))
    return error{errc::decode_error, "invalid text encoding: not a text"};
  reader r{bytes, 2};
  auto ctx = get_compact_context(bytes, r.at);
  if (!ctx) return ctx.err();
  std::vector<node_id> nodes = ctx->nodes();
  uint64_t x = 0;
  if (!r.count(x, 8, "node table size")) return *r.failure;
  for (uint64_t i = 0; i < x; ++i) {
    auto n = get_u64le(bytes, r.at);
    if (!n) return error{errc::decode_error, "invalid text encoding: node table cut off"};
    if (i > 0 && *n <= nodes.back()) return error{errc::decode_error, "invalid text encoding: node table out of order"};
    nodes.push_back(*n);
  }
  std::vector<text_run> seq, pend;
  if (!get_runs(r, nodes, seq) || !get_runs(r, nodes, pend)) return *r.failure;
  text_id_set deleted;
  uint64_t d = 0;
  if (!r.count(d, 3, "delete set size")) return *r.failure;
  uint64_t prev_idx = 0;
  for (uint64_t i = 0; i < d; ++i) {
    uint64_t idx = 0, k = 0;
    node_id n = 0;
    if (!r.varint(idx, "delete set node") || !r.node(nodes, idx, n) || !r.count(k, 2, "delete set intervals"))
      return *r.failure;
    if ((i > 0 && idx <= prev_idx) || k == 0) return error{errc::decode_error, "invalid text encoding: delete set out of order"};
    prev_idx = idx;
    uint64_t end = 0;
    for (uint64_t j = 0; j < k; ++j) {
      uint64_t gap = 0, len = 0;
      if (!r.varint(gap, "delete gap") || !r.varint(len, "delete length")) return *r.failure;
      if (len == 0 || gap > UINT64_MAX - end || end + gap > UINT64_MAX - len || end + gap == 0)
        return error{errc::decode_error, "invalid text encoding: delete interval out of range"};
      deleted.add(n, end + gap, end + gap + len);
      end += gap + len;
    }
  }
  uint64_t b = 0;
  if (!r.count(b, 1, "content size")) return *r.failure;
  auto chars = utf8_decode(bytes.substr(r.at, b));
  if (!chars) return error{errc::decode_error, "invalid text encoding: content is not UTF-8"};
  r.at += b;
  if (r.at != bytes.size()) return error{errc::decode_error, "invalid text encoding: bytes after the value"};
  // Hand each run the codepoints of its live items.
  size_t at = 0;
  for (auto* runs : {&seq, &pend})
    for (text_run& run : *runs) {
      uint64_t live = run.length;
      for (const auto& [a, e] : deleted.overlap(run.id.node, run.id.counter, run.id.counter + run.length)) live -= e - a;
      if (live > chars->size() - at) return error{errc::decode_error, "invalid text encoding: content shorter than the live items"};
      run.chars = chars->substr(at, live);
      at += live;
    }
  if (at != chars->size()) return error{errc::decode_error, "invalid text encoding: content longer than the live items"};
  return text::from_parts(std::move(*ctx), seq, pend, std::move(deleted));
}

}  // namespace rumor::crdt::detail
