#include "replication/delta_batch.hpp"

#include <unordered_map>

#include "base/varint.hpp"
#include "crdt/codec_node_table.hpp"

namespace rumor::replication {

namespace {

constexpr uint8_t head_type_bits = 0x3f;
constexpr uint8_t head_deps_relative = 0x40;  // format 2
constexpr uint8_t head_node_table = 0x80;
constexpr uint64_t decoded_dep_bytes = 16;  // what one deps entry counts toward the decoded size

uint64_t zigzag(uint64_t diff) {
  auto s = static_cast<int64_t>(diff);
  return (static_cast<uint64_t>(s) << 1) ^ static_cast<uint64_t>(s >> 63);
}
uint64_t unzigzag(uint64_t z) { return (z >> 1) ^ (~(z & 1) + 1); }

// The node table an encoder builds: ids in order of first use.
class node_table {
 public:
  uint64_t index_of(node_id n) {
    if (n == last_node_ && !nodes_.empty()) return last_index_;
    uint64_t i = find(n);
    last_node_ = n;
    last_index_ = i;
    return i;
  }
  const std::vector<node_id>& nodes() const { return nodes_; }

 private:
  static constexpr size_t scan_limit = 16;  // past it, a hash map

  uint64_t find(node_id n) {
    if (nodes_.size() <= scan_limit) {
      for (size_t i = 0; i < nodes_.size(); ++i)
        if (nodes_[i] == n) return i;
    } else if (auto it = by_id_.find(n); it != by_id_.end()) {
      return it->second;
    }
    nodes_.push_back(n);
    if (nodes_.size() == scan_limit + 1)
      for (size_t i = 0; i < nodes_.size(); ++i) by_id_.emplace(nodes_[i], i);
    else if (nodes_.size() > scan_limit + 1)
      by_id_.emplace(n, nodes_.size() - 1);
    return nodes_.size() - 1;
  }

  std::vector<node_id> nodes_;
  std::unordered_map<node_id, uint64_t> by_id_;
  node_id last_node_ = 0;
  uint64_t last_index_ = 0;
};

size_t shared_prefix(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size()), i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

error bad(std::string what) { return error{errc::decode_error, "delta batch: " + std::move(what)}; }

// The deps entries in which `deps` differs from `base` (an absent node counts as 0), by node.
std::vector<std::pair<node_id, uint64_t>> deps_changes(const version_vector& base, const version_vector& deps) {
  std::vector<std::pair<node_id, uint64_t>> out;  // (node, new counter; 0: gone)
  const auto& a = base.entries();
  const auto& b = deps.entries();
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].first < b[j].first)) {
      out.emplace_back(a[i++].first, 0);
    } else if (i == a.size() || b[j].first < a[i].first) {
      out.push_back(b[j++]);
    } else {
      if (a[i].second != b[j].second) out.push_back(b[j]);
      ++i;
      ++j;
    }
  }
  return out;
}

}  // namespace

void encode_delta_batch(const std::vector<delta_entry>& entries, std::string& out) {
  node_table table;
  auto index_of = [&table](uint64_t n) { return table.index_of(n); };
  std::string body;
  body.reserve(entries.size() * 40);
  uint64_t seq_before = 0, hlc_before = 0, decoded = 0;
  std::string_view key_before;
  std::unordered_map<std::string_view, const version_vector*> deps_of_key;  // the key's last entry's
  for (const delta_entry& e : entries) {
    const delta_record& r = e.record;
    const size_t head_at = body.size();
    body.push_back(static_cast<char>(static_cast<uint8_t>(r.type) & head_type_bits));
    put_varint(body, table.index_of(e.origin));
    put_varint(body, zigzag(e.seq - seq_before));
    put_varint(body, zigzag(r.hlc - hlc_before));
    // The decoder refuses a batch that decodes to more than 32 × its bytes (+ 4 KiB). Shared key
    // prefixes and deps copied from an earlier entry are what could get there (many deltas of one
    // long key, tiny deltas, long deps): a key is shared, and deps written relative to an earlier
    // entry's, only while what the entries so far decode to stays within 16 × the bytes written.
    size_t shared = shared_prefix(key_before, r.key);
    decoded += r.key.size() + r.delta.size() + decoded_dep_bytes * r.deps.size();
    const bool within = decoded <= 16 * (body.size() + 1);
    if (!within) shared = 0;
    put_varint(body, shared);
    put_varint(body, r.key.size() - shared);
    body.append(r.key, shared);
    auto& base = deps_of_key[r.key];
    if (base && within) {
      // Relative to the deps of this key's last entry in the batch: deltas of one key that travel
      // together mostly share their causal past, so only the entries that changed are written.
      body[head_at] = static_cast<char>(body[head_at] | head_deps_relative);
      auto changes = deps_changes(*base, r.deps);
      put_varint(body, changes.size());
      for (const auto& [node, dep] : changes) {
        put_varint(body, table.index_of(node));
        put_varint(body, zigzag(dep - base->get(node)));
      }
    } else {
      put_varint(body, r.deps.size());
      for (const auto& [node, dep] : r.deps.entries()) {
        put_varint(body, table.index_of(node));
        put_varint(body, zigzag(e.seq - dep));
      }
    }
    base = &r.deps;
    // The delta's length is not known before its node-table form is written: write that form
    // after a one-byte placeholder, then the length in front of it.
    const size_t len_at = body.size();
    body.push_back('\0');
    if (crdt::to_node_table_form(r.delta, body, index_of)) {
      body[head_at] = static_cast<char>(body[head_at] | head_node_table);
      const size_t n = body.size() - len_at - 1;
      if (n >= 0x80) {
        std::string len;
        put_varint(len, n);
        body.replace(len_at, 1, len);
      } else {
        body[len_at] = static_cast<char>(n);
      }
    } else {
      body.resize(len_at);
      put_varint(body, r.delta.size());
      body.append(r.delta);
    }
    seq_before = e.seq;
    hlc_before = r.hlc;
    key_before = r.key;
  }
  out.push_back(static_cast<char>(delta_batch_format));
  put_varint(out, table.nodes().size());
  for (node_id n : table.nodes()) put_u64le(out, n);
  put_varint(out, entries.size());
  out.append(body);
}

result<std::vector<delta_entry>> decode_delta_batch(std::string_view in) {
  size_t at = 0;
  if (in.empty()) return bad("empty");
  const auto format = static_cast<uint8_t>(in[0]);
  if (format != 1 && format != delta_batch_format) return bad("format " + std::to_string(format));
  const uint8_t type_bits = format == 1 ? 0x7f : head_type_bits;
  at = 1;
  auto varint = [&](uint64_t& v) {
    auto r = get_varint(in, at);
    if (r) v = *r;
    return r.has_value();
  };
  uint64_t n = 0;
  if (!varint(n) || n > (in.size() - at) / 8) return bad("node table cut off");
  std::vector<node_id> nodes;
  nodes.reserve(n);
  std::unordered_map<node_id, bool> seen;
  for (uint64_t i = 0; i < n; ++i) {
    node_id id = *get_u64le(in, at);
    if (!seen.emplace(id, true).second) return bad("node " + std::to_string(id) + " twice in the node table");
    nodes.push_back(id);
  }
  auto node_at = [&](uint64_t i, node_id& out) {
    if (i >= nodes.size()) return false;
    out = nodes[i];
    return true;
  };
  constexpr size_t min_entry_bytes = 8;  // head, origin, seq, hlc, shared, m, d, delta length
  uint64_t count = 0;
  if (!varint(count) || count > (in.size() - at) / min_entry_bytes) return bad("entry count exceeds the input");
  const uint64_t decoded_limit = 32 * uint64_t{in.size()} + 4096;
  uint64_t decoded = 0;
  std::vector<delta_entry> out;
  out.reserve(count);
  uint64_t seq_before = 0, hlc_before = 0;
  std::unordered_map<std::string, size_t> last_of_key;  // key -> its last entry in `out` so far
  std::vector<std::pair<node_id, uint64_t>> changes;     // an entry's relative deps, in node order
  for (uint64_t i = 0; i < count; ++i) {
    const std::string what = "entry " + std::to_string(i);
    if (at >= in.size()) return bad(what + " cut off");
    const auto head = static_cast<uint8_t>(in[at++]);
    const uint8_t tag = head & type_bits;
    if (tag < crdt::first_type_tag || tag > crdt::last_type_tag)
      return bad(what + ": CRDT type tag " + std::to_string(tag) + " out of range 1.." + std::to_string(crdt::last_type_tag));
    delta_entry e;
    e.record.type = static_cast<crdt::type_tag>(tag);
    uint64_t origin = 0, dseq = 0, dhlc = 0, shared = 0, m = 0, d = 0, len = 0;
    if (!varint(origin) || !varint(dseq) || !varint(dhlc) || !varint(shared) || !varint(m)) return bad(what + " cut off");
    if (!node_at(origin, e.origin)) return bad(what + ": origin index outside the node table");
    if (e.origin == 0) return bad(what + ": origin node id 0");
    e.seq = seq_before + unzigzag(dseq);
    if (e.seq == 0) return bad(what + ": seq 0");
    e.record.hlc = hlc_before + unzigzag(dhlc);
    std::string_view key_before = out.empty() ? std::string_view() : std::string_view(out.back().record.key);
    if (shared > key_before.size()) return bad(what + ": shares more key bytes than the key before has");
    if (m > in.size() - at) return bad(what + ": key overruns the batch");
    e.record.key.reserve(shared + m);
    e.record.key.assign(key_before.substr(0, shared));
    e.record.key.append(in.substr(at, m));
    at += m;
    if (!varint(d) || d > (in.size() - at) / 2) return bad(what + ": deps cut off");
    const version_vector* base = nullptr;
    auto last = last_of_key.find(e.record.key);
    if (format != 1 && (head & head_deps_relative)) {
      if (last == last_of_key.end()) return bad(what + ": deps relative to an earlier entry of a key that has none");
      base = &out[last->second].record.deps;
    }
    changes.clear();
    node_id prev = 0;
    for (uint64_t j = 0; j < d; ++j) {
      uint64_t idx = 0, ddep = 0;
      node_id node = 0;
      if (!varint(idx) || !varint(ddep)) return bad(what + ": deps cut off");
      if (!node_at(idx, node)) return bad(what + ": deps node index outside the node table");
      if (node <= prev) return bad(what + ": deps node ids not strictly ascending");
      prev = node;
      if (base) {
        if (ddep == 0) return bad(what + ": a relative deps entry that changes nothing");
        changes.emplace_back(node, base->get(node) + unzigzag(ddep));  // 0: the entry is gone
        continue;
      }
      uint64_t dep = e.seq - unzigzag(ddep);
      if (dep == 0) return bad(what + ": deps entry with seq 0");
      e.record.deps.set(node, dep);  // ascending: appends
    }
    if (base) {
      // Merged in node order, so that every set() appends: linear in base + changes.
      const auto& b = base->entries();
      size_t i = 0;
      for (const auto& [node, dep] : changes) {
        for (; i < b.size() && b[i].first < node; ++i) e.record.deps.set(b[i].first, b[i].second);
        if (i < b.size() && b[i].first == node) ++i;
        e.record.deps.set(node, dep);
      }
      for (; i < b.size(); ++i) e.record.deps.set(b[i].first, b[i].second);
    }
    if (!varint(len) || len > in.size() - at) return bad(what + ": delta overruns the batch");
    std::string_view delta = in.substr(at, len);
    at += len;
    if (head & head_node_table) {
      auto compact = crdt::from_node_table_form(delta, nodes);
      if (!compact) return bad(what + ": " + compact.err().message);
      e.record.delta = std::move(*compact);
    } else {
      e.record.delta.assign(delta);
    }
    decoded += e.record.key.size() + e.record.delta.size() + decoded_dep_bytes * e.record.deps.size();
    if (decoded > decoded_limit) return bad("decodes to more than 32 × its bytes");
    seq_before = e.seq;
    hlc_before = e.record.hlc;
    if (last == last_of_key.end()) last_of_key.emplace(e.record.key, out.size());
    else last->second = out.size();
    out.push_back(std::move(e));
  }
  if (at != in.size()) return bad(std::to_string(in.size() - at) + " bytes after the last entry");
  return out;
}

}  // namespace rumor::replication
