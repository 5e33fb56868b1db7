#include "crdt/codec_node_table.hpp"

#include "base/varint.hpp"
#include "crdt/codec_compact.hpp"
#include "crdt/type_tag.hpp"

namespace rumor::crdt {

namespace {

// Copies a compact or node-table form from `in` to `out`, field by field, with `node` reading
// one node field in the source form and writing it in the target form.
struct walker {
  std::string_view in;
  std::size_t at = 0;
  std::string& out;

  // Copies a varint; false if it is cut off or not minimal (its copy would differ).
  bool varint(uint64_t& v) {
    const std::size_t from = at;
    auto r = get_varint(in, at);
    if (!r) return false;
    v = *r;
    const std::size_t mark = out.size();
    put_varint(out, v);
    return out.size() - mark == at - from;
  }
  bool varint() {
    uint64_t v = 0;
    return varint(v);
  }
  // A count of items of at least two bytes each (a node field and a varint, in either form).
  bool count(uint64_t& n) { return varint(n) && n <= (in.size() - at) / 2; }
  bool raw(std::size_t n) {
    if (in.size() - at < n) return false;
    out.append(in.substr(at, n));
    at += n;
    return true;
  }
  bool bytes() {
    uint64_t n = 0;
    return varint(n) && n <= in.size() - at && raw(static_cast<std::size_t>(n));
  }
};

template <class Node>
bool walk(walker& w, uint8_t tag, Node&& node) {
  uint64_t v = 0;
  if (!w.count(v)) return false;
  for (uint64_t i = 0; i < v; ++i)
    if (!node(w) || !w.varint()) return false;
  uint64_t groups = 0;
  if (!w.count(groups)) return false;
  for (uint64_t g = 0; g < groups; ++g) {
    uint64_t k = 0;
    if (!node(w) || !w.count(k) || k == 0 || !w.varint()) return false;
    for (uint64_t i = 1; i < k; ++i)
      if (!w.varint()) return false;
  }
  uint64_t entries = 0;
  if (!w.count(entries)) return false;
  for (uint64_t e = 0; e < entries; ++e) {
    uint64_t ref = 0;
    if (!w.varint(ref)) return false;
    if (ref < v) {
      if (!w.varint()) return false;
    } else if (ref == v) {
      if (!node(w) || !w.varint()) return false;
    } else {
      return false;
    }
    switch (static_cast<type_tag>(tag)) {
      case type_tag::g_counter:
        if (!w.varint()) return false;
        break;
      case type_tag::pn_counter:
        if (!w.varint() || !w.varint()) return false;
        break;
      case type_tag::lww_register:
        if (!w.raw(8) || !w.bytes()) return false;
        break;
      case type_tag::mv_register:
        if (!w.bytes()) return false;
        break;
      default: return false;
    }
  }
  return w.at == w.in.size();
}

std::size_t varint_size(uint64_t v) {
  std::size_t n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}

// The four dot-function types. A text's compact form (codec_text.hpp) has another layout after its
// context: it travels as it is.
bool has_form(uint8_t tag) {
  return tag != static_cast<uint8_t>(type_tag::text) && detail::has_compact_form(static_cast<type_tag>(tag));
}

}  // namespace

bool to_node_table_form(std::string_view compact, std::string& out, const std::function<uint64_t(uint64_t)>& index_of) {
  if (compact.size() < 2 || static_cast<uint8_t>(compact[0]) != detail::codec_compact_marker) return false;
  const uint8_t tag = static_cast<uint8_t>(compact[1]);
  if (!has_form(tag)) return false;
  const std::size_t mark = out.size();
  out.push_back(static_cast<char>(node_table_marker));
  out.push_back(static_cast<char>(tag));
  walker w{compact, 2, out};
  bool ok = walk(w, tag, [&](walker& x) {
    auto node = get_u64le(x.in, x.at);
    if (!node) return false;
    put_varint(x.out, index_of(*node));
    return true;
  });
  if (!ok) out.resize(mark);
  return ok;
}

result<std::string> from_node_table_form(std::string_view in, const std::vector<uint64_t>& nodes) {
  auto bad = [](const char* what) { return error{errc::decode_error, std::string("invalid node-table form: ") + what}; };
  if (in.size() < 2 || static_cast<uint8_t>(in[0]) != node_table_marker) return bad("no node-table marker");
  const uint8_t tag = static_cast<uint8_t>(in[1]);
  if (!has_form(tag)) return bad("type without a compact form");
  std::string out;
  out.reserve(in.size() + 16);
  out.push_back(static_cast<char>(detail::codec_compact_marker));
  out.push_back(static_cast<char>(tag));
  walker w{in, 2, out};
  bool in_table = true;
  bool ok = walk(w, tag, [&](walker& x) {
    const std::size_t from = x.at;
    auto i = get_varint(x.in, x.at);
    if (!i || x.at - from != varint_size(*i)) return false;
    if (*i >= nodes.size()) return in_table = false;
    put_u64le(x.out, nodes[static_cast<std::size_t>(*i)]);
    return true;
  });
  if (!in_table) return bad("node index outside the table");
  if (!ok) return bad("cut off, malformed or followed by more bytes");
  return out;
}

}  // namespace rumor::crdt
