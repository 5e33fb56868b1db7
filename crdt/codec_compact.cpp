#include "crdt/codec_compact.hpp"

#include <algorithm>

#include "base/varint.hpp"
#include "crdt/codec.hpp"
#include "crdt/codec_reader.hpp"
#include "crdt/codec_text.hpp"

namespace rumor::crdt::detail {

namespace {

void put_context(std::string& out, const dot_context& c) {
  const auto& vv = c.compact_part().entries();
  put_varint(out, vv.size());
  for (const auto& [node, counter] : vv) {
    put_u64le(out, node);
    put_varint(out, counter);
  }
  // Cloud dots are sorted by (node, counter): one group per node.
  const auto& cloud = c.cloud();
  std::size_t groups = 0;
  for (std::size_t i = 0; i < cloud.size(); ++i) groups += (i == 0 || cloud[i].node != cloud[i - 1].node);
  put_varint(out, groups);
  for (std::size_t i = 0; i < cloud.size();) {
    std::size_t j = i;
    while (j < cloud.size() && cloud[j].node == cloud[i].node) ++j;
    put_u64le(out, cloud[i].node);
    put_varint(out, j - i);
    put_varint(out, cloud[i].counter);
    for (std::size_t k = i + 1; k < j; ++k) put_varint(out, cloud[k].counter - cloud[k - 1].counter);
    i = j;
  }
}

void put_dot(std::string& out, const version_vector& vv, const dot& d) {
  const auto& entries = vv.entries();
  auto it = std::lower_bound(entries.begin(), entries.end(), d.node,
                             [](const version_vector::entry& e, node_id n) { return e.first < n; });
  if (it != entries.end() && it->first == d.node && d.counter <= it->second) {
    put_varint(out, static_cast<uint64_t>(it - entries.begin()));
    put_varint(out, it->second - d.counter);
    return;
  }
  put_varint(out, entries.size());
  put_u64le(out, d.node);
  put_varint(out, d.counter);
}

void put_bytes(std::string& out, std::string_view b) {
  put_varint(out, b.size());
  out.append(b);
}

template <class T>
std::string encode_as(const T& c) {
  std::string out;
  out.reserve(32 + 24 * c.store().size());
  out.push_back(static_cast<char>(codec_compact_marker));
  out.push_back(static_cast<char>(T::tag));
  put_context(out, c.context());
  const version_vector& vv = c.context().compact_part();
  put_varint(out, c.store().size());
  for (const auto& [d, payload] : c.store().entries()) {
    put_dot(out, vv, d);
    if constexpr (std::is_same_v<T, g_counter>) {
      put_varint(out, payload);
    } else if constexpr (std::is_same_v<T, pn_counter>) {
      put_varint(out, payload.p);
      put_varint(out, payload.n);
    } else if constexpr (std::is_same_v<T, lww_register>) {
      put_u64le(out, payload.timestamp.bits);
      put_bytes(out, payload.value);
    } else {
      put_bytes(out, payload);
    }
  }
  return out;
}

error bad(std::string what) { return error{errc::decode_error, "invalid compact encoding: " + std::move(what)}; }

// Reads the parts of the compact form one by one (codec_reader.hpp), counting what it decodes.
struct reader : codec_reader {
  uint64_t items = 0;  // version vector entries, cloud dots and store entries decoded so far

  reader(std::string_view bytes, std::size_t from) : codec_reader{bytes, from} {}

  // As the packed form unpacks to at most codec_max_unpacked_bytes, a compact input decodes to at
  // most that many 16-byte items: a byte of input never stands for more than ~16 bytes of memory.
  static constexpr uint64_t max_items = codec_max_unpacked_bytes / 16;
  bool item() {
    if (++items > max_items) return fail("more than " + std::to_string(max_items) + " dots and entries");
    return true;
  }
};

// The context's parts as written: the version vector entries (store dots refer to them by
// position) and the cloud. Nothing is canonicalised yet.
struct context_parts {
  std::vector<version_vector::entry> vv;
  std::vector<dot> cloud;
};

std::optional<context_parts> get_context(reader& r) {
  uint64_t n = 0;
  if (!r.count(n, 9, "version vector size")) return std::nullopt;
  std::vector<version_vector::entry> entries;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t node = 0, counter = 0;
    if (!r.item() || !r.u64(node, "version vector node") || !r.varint(counter, "version vector counter")) return std::nullopt;
    if (counter == 0) return r.fail("version vector entry with counter 0"), std::nullopt;
    if (i > 0 && node <= entries.back().first) return r.fail("version vector nodes out of order"), std::nullopt;
    entries.emplace_back(node, counter);
  }
  uint64_t groups = 0;
  if (!r.count(groups, 10, "cloud group count")) return std::nullopt;
  std::vector<dot> cloud;
  uint64_t prev_node = 0;
  for (uint64_t g = 0; g < groups; ++g) {
    uint64_t node = 0, k = 0, c = 0;
    if (!r.u64(node, "cloud node") || !r.count(k, 1, "cloud group size") || !r.varint(c, "cloud counter")) return std::nullopt;
    if (g > 0 && node <= prev_node) return r.fail("cloud nodes out of order"), std::nullopt;
    if (k == 0) return r.fail("empty cloud group"), std::nullopt;
    if (c == 0) return r.fail("cloud dot with counter 0"), std::nullopt;
    prev_node = node;
    if (!r.item()) return std::nullopt;
    cloud.push_back(dot{node, c});
    for (uint64_t i = 1; i < k; ++i) {
      uint64_t gap = 0;
      if (!r.varint(gap, "cloud gap")) return std::nullopt;
      if (gap == 0 || gap > UINT64_MAX - c) return r.fail("cloud gap out of range"), std::nullopt;
      if (!r.item()) return std::nullopt;
      c += gap;
      cloud.push_back(dot{node, c});
    }
  }
  return context_parts{std::move(entries), std::move(cloud)};
}

std::optional<dot> get_dot(reader& r, const std::vector<version_vector::entry>& vv) {
  uint64_t ref = 0;
  if (!r.varint(ref, "store dot")) return std::nullopt;
  if (ref < vv.size()) {
    uint64_t back = 0;
    if (!r.varint(back, "store dot offset")) return std::nullopt;
    if (back >= vv[ref].second) return r.fail("store dot offset beyond its version vector entry"), std::nullopt;
    return dot{vv[ref].first, vv[ref].second - back};
  }
  if (ref != vv.size()) return r.fail("store dot refers to version vector entry " + std::to_string(ref) + " of " + std::to_string(vv.size())), std::nullopt;
  uint64_t node = 0, counter = 0;
  if (!r.u64(node, "store dot node") || !r.varint(counter, "store dot counter")) return std::nullopt;
  if (counter == 0) return r.fail("store dot with counter 0"), std::nullopt;
  return dot{node, counter};
}

template <class T>
result<value> decode_as(reader& r) {
  auto parts = get_context(r);
  if (!parts) return *r.failure;
  const auto& vv = parts->vv;  // store dots refer to the entries as written
  uint64_t n = 0;
  if (!r.count(n, 3, "store size")) return *r.failure;
  using store_type = typename T::store_type;
  std::vector<typename store_type::entry> entries;
  entries.reserve(std::min<uint64_t>(n, 1024));  // grows only as entries actually decode
  for (uint64_t i = 0; i < n; ++i) {
    if (!r.item()) return *r.failure;
    auto d = get_dot(r, vv);
    if (!d) return *r.failure;
    if (i > 0 && !(entries.back().first < *d)) return bad("store dots out of order");
    if constexpr (std::is_same_v<T, g_counter>) {
      uint64_t total = 0;
      if (!r.varint(total, "counter total")) return *r.failure;
      entries.emplace_back(*d, total);
    } else if constexpr (std::is_same_v<T, pn_counter>) {
      uint64_t p = 0, neg = 0;
      if (!r.varint(p, "increments") || !r.varint(neg, "decrements")) return *r.failure;
      entries.emplace_back(*d, pn_entry{p, neg});
    } else if constexpr (std::is_same_v<T, lww_register>) {
      uint64_t ts = 0;
      std::string v;
      if (!r.u64(ts, "timestamp") || !r.bytes(v, "register value")) return *r.failure;
      entries.emplace_back(*d, lww_entry{hlc_timestamp{ts}, std::move(v)});
    } else {
      std::string v;
      if (!r.bytes(v, "register value")) return *r.failure;
      entries.emplace_back(*d, std::move(v));
    }
  }
  if (r.at != r.in.size()) return bad(std::to_string(r.in.size() - r.at) + " bytes after the value");
  version_vector built;
  for (const auto& [node, counter] : vv) built.set(node, counter);
  auto ctx = dot_context::from_parts(std::move(built), std::move(parts->cloud));
  for (const auto& e : entries)
    if (!ctx.contains(e.first)) return bad("store holds a dot outside its context");
  return value{T{store_type{std::move(entries)}, std::move(ctx)}};
}

}  // namespace

bool has_compact_form(type_tag t) {
  return t == type_tag::g_counter || t == type_tag::pn_counter || t == type_tag::lww_register || t == type_tag::mv_register ||
         t == type_tag::text;
}

void put_compact_context(std::string& out, const dot_context& c) { put_context(out, c); }

result<dot_context> get_compact_context(std::string_view in, std::size_t& at) {
  reader r{in, at};
  auto parts = get_context(r);
  if (!parts) return *r.failure;
  at = r.at;
  version_vector built;
  for (const auto& [node, counter] : parts->vv) built.set(node, counter);
  return dot_context::from_parts(std::move(built), std::move(parts->cloud));
}

std::optional<std::string> encode_compact(const value& v) {
  if (const auto* g = v.get_if<g_counter>()) return encode_as(*g);
  if (const auto* p = v.get_if<pn_counter>()) return encode_as(*p);
  if (const auto* l = v.get_if<lww_register>()) return encode_as(*l);
  if (const auto* m = v.get_if<mv_register>()) return encode_as(*m);
  if (const auto* t = v.get_if<text>()) return encode_text(*t);
  return std::nullopt;
}

result<value> decode_compact(std::string_view bytes) {
  reader r{bytes, 2};
  if (bytes.size() < 2 || static_cast<uint8_t>(bytes[0]) != codec_compact_marker) return bad("too short");
  switch (static_cast<uint8_t>(bytes[1])) {
    case static_cast<uint8_t>(type_tag::g_counter): return decode_as<g_counter>(r);
    case static_cast<uint8_t>(type_tag::pn_counter): return decode_as<pn_counter>(r);
    case static_cast<uint8_t>(type_tag::lww_register): return decode_as<lww_register>(r);
    case static_cast<uint8_t>(type_tag::mv_register): return decode_as<mv_register>(r);
    case static_cast<uint8_t>(type_tag::text): {
      auto t = decode_text(bytes);
      if (!t) return t.err();
      return value{std::move(*t)};
    }
  }
  return bad("type tag " + std::to_string(static_cast<uint8_t>(bytes[1])) + " has no compact form");
}

}  // namespace rumor::crdt::detail
