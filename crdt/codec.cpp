#include "crdt/codec.hpp"

#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <capnp/serialize.h>
#include <kj/exception.h>
#include <kj/io.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "base/capnp_packing.hpp"
#include "crdt/codec_compact.hpp"
#include "crdt/crdt.capnp.h"

namespace rumor::crdt {

namespace s = schema;

namespace {

// ---------------------------------------------------------------------------------------------
// Encoding

void put_dot(s::Dot::Builder b, const dot& d) {
  b.setNode(d.node);
  b.setCounter(d.counter);
}

kj::ArrayPtr<const kj::byte> bytes_of(const std::string& str) {
  return {reinterpret_cast<const kj::byte*>(str.data()), str.size()};
}

void put_dots(capnp::List<s::Dot>::Builder list, const std::vector<dot>& dots) {
  for (unsigned i = 0; i < dots.size(); ++i) put_dot(list[i], dots[i]);
}

// An empty list is left a null pointer (read as an empty list): a zero word packs to almost nothing.
void put_context(s::DotContext::Builder b, const dot_context& c) {
  const auto& vv = c.compact_part().entries();
  if (!vv.empty()) {
    auto compact = b.initCompact(static_cast<unsigned>(vv.size()));
    for (unsigned i = 0; i < vv.size(); ++i) put_dot(compact[i], dot{vv[i].first, vv[i].second});
  }
  if (!c.cloud().empty()) put_dots(b.initCloud(static_cast<unsigned>(c.cloud().size())), c.cloud());
}

void put_store(s::Store::Builder b, const dot_fun<uint64_t>& st) {
  auto list = b.initGCounter(static_cast<unsigned>(st.size()));
  unsigned i = 0;
  for (const auto& [d, total] : st.entries()) {
    put_dot(list[i].initDot(), d);
    list[i++].setTotal(total);
  }
}

void put_store(s::Store::Builder b, const dot_fun<pn_entry>& st) {
  auto list = b.initPnCounter(static_cast<unsigned>(st.size()));
  unsigned i = 0;
  for (const auto& [d, e] : st.entries()) {
    put_dot(list[i].initDot(), d);
    list[i].setP(e.p);
    list[i++].setN(e.n);
  }
}

void put_store(s::Store::Builder b, const dot_fun<lww_entry>& st) {
  auto list = b.initLwwRegister(static_cast<unsigned>(st.size()));
  unsigned i = 0;
  for (const auto& [d, e] : st.entries()) {
    put_dot(list[i].initDot(), d);
    list[i].setTimestamp(e.timestamp.bits);
    list[i++].setValue(bytes_of(e.value));
  }
}

void put_store(s::Store::Builder b, const dot_fun<std::string>& st) {
  auto list = b.initMvRegister(static_cast<unsigned>(st.size()));
  unsigned i = 0;
  for (const auto& [d, v] : st.entries()) {
    put_dot(list[i].initDot(), d);
    list[i++].setValue(bytes_of(v));
  }
}

void put_store(s::Store::Builder b, const dot_map<std::string, dot_set>& st) {
  auto list = b.initOrSet(static_cast<unsigned>(st.size()));
  unsigned i = 0;
  for (const auto& [element, dots] : st.entries()) {
    list[i].setElement(bytes_of(element));
    put_dots(list[i++].initDots(static_cast<unsigned>(dots.size())), dots.dots());
  }
}

void put_store(s::Store::Builder b, const dot_set& st) {
  put_dots(b.initEwFlag(static_cast<unsigned>(st.size())), st.dots());
}

void put_store(s::Store::Builder b, const map_store& st) {
  auto list = b.initOrMap(static_cast<unsigned>(st.size()));
  unsigned i = 0;
  for (const auto& [key, nested] : st.entries()) {
    list[i].setName(bytes_of(key.name));
    auto sb = list[i++].initStore();
    std::visit([&](const auto& inner) { put_store(sb, inner); }, nested.variant());
  }
}

// The packed form (codec.hpp), or the unpacked one for a message beyond codec_max_unpacked_bytes.
std::string flatten(capnp::MallocMessageBuilder& mb) {
  size_t words = capnp::computeSerializedSizeInWords(mb);
  if (words > codec_max_unpacked_bytes / sizeof(capnp::word)) {
    kj::Array<capnp::word> flat = capnp::messageToFlatArray(mb);
    auto bytes = flat.asBytes();
    return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
  }
  // Packed CRDT messages are usually under half their words' bytes (the stream grows if not).
  kj::VectorOutputStream out(1 + words * sizeof(capnp::word) / 2 + 64);
  capnp::writePackedMessage(out, mb);
  auto packed = out.getArray();
  std::string s;
  s.reserve(1 + packed.size());
  s.push_back(static_cast<char>(codec_packed_marker));
  s.append(reinterpret_cast<const char*>(packed.begin()), packed.size());
  return s;
}

// ---------------------------------------------------------------------------------------------
// Decoding (every check returns an error; kj::Exception is caught at the top)

error bad(std::string what) { return error{errc::decode_error, "invalid CRDT encoding: " + std::move(what)}; }

std::string to_string(capnp::Data::Reader d) {
  return std::string(reinterpret_cast<const char*>(d.begin()), d.size());
}

result<dot> get_dot(s::Dot::Reader r) {
  if (r.getCounter() == 0) return bad("dot counter 0");
  return dot{r.getNode(), r.getCounter()};
}

result<std::vector<dot>> get_dots(capnp::List<s::Dot>::Reader list) {
  std::vector<dot> out;
  out.reserve(list.size());
  for (auto r : list) {
    auto d = get_dot(r);
    if (!d) return d.err();
    out.push_back(*d);
  }
  return out;
}

result<dot_context> get_context(s::DotContext::Reader r) {
  version_vector vv;
  for (auto e : r.getCompact()) {
    if (e.getCounter() == 0) return bad("version vector entry with counter 0");
    if (vv.get(e.getNode()) != 0) return bad("duplicate node in version vector");
    vv.set(e.getNode(), e.getCounter());
  }
  auto cloud = get_dots(r.getCloud());
  if (!cloud) return cloud.err();
  return dot_context::from_parts(std::move(vv), std::move(*cloud));
}

template <class V>
result<dot_fun<V>> make_fun(std::vector<typename dot_fun<V>::entry> entries) {
  size_t n = entries.size();
  dot_fun<V> f{std::move(entries)};
  if (f.size() != n) return bad("duplicate dot in store");
  return f;
}

template <class Store>
result<Store> get_store(s::Store::Reader r, int depth);

template <>
result<dot_fun<uint64_t>> get_store(s::Store::Reader r, int) {
  if (!r.isGCounter()) return bad("store is not a g_counter");
  std::vector<dot_fun<uint64_t>::entry> entries;
  for (auto e : r.getGCounter()) {
    auto d = get_dot(e.getDot());
    if (!d) return d.err();
    entries.emplace_back(*d, e.getTotal());
  }
  return make_fun<uint64_t>(std::move(entries));
}

template <>
result<dot_fun<pn_entry>> get_store(s::Store::Reader r, int) {
  if (!r.isPnCounter()) return bad("store is not a pn_counter");
  std::vector<dot_fun<pn_entry>::entry> entries;
  for (auto e : r.getPnCounter()) {
    auto d = get_dot(e.getDot());
    if (!d) return d.err();
    entries.emplace_back(*d, pn_entry{e.getP(), e.getN()});
  }
  return make_fun<pn_entry>(std::move(entries));
}

template <>
result<dot_fun<lww_entry>> get_store(s::Store::Reader r, int) {
  if (!r.isLwwRegister()) return bad("store is not an lww_register");
  std::vector<dot_fun<lww_entry>::entry> entries;
  for (auto e : r.getLwwRegister()) {
    auto d = get_dot(e.getDot());
    if (!d) return d.err();
    entries.emplace_back(*d, lww_entry{hlc_timestamp{e.getTimestamp()}, to_string(e.getValue())});
  }
  return make_fun<lww_entry>(std::move(entries));
}

template <>
result<dot_fun<std::string>> get_store(s::Store::Reader r, int) {
  if (!r.isMvRegister()) return bad("store is not an mv_register");
  std::vector<dot_fun<std::string>::entry> entries;
  for (auto e : r.getMvRegister()) {
    auto d = get_dot(e.getDot());
    if (!d) return d.err();
    entries.emplace_back(*d, to_string(e.getValue()));
  }
  return make_fun<std::string>(std::move(entries));
}

template <>
result<dot_map<std::string, dot_set>> get_store(s::Store::Reader r, int) {
  if (!r.isOrSet()) return bad("store is not an or_set");
  dot_map<std::string, dot_set> out;
  for (auto e : r.getOrSet()) {
    auto dots = get_dots(e.getDots());
    if (!dots) return dots.err();
    if (dots->empty()) return bad("or_set element without dots");
    if (!out.insert_new(to_string(e.getElement()), dot_set{std::move(*dots)})) return bad("duplicate or_set element");
  }
  return out;
}

template <>
result<dot_set> get_store(s::Store::Reader r, int) {
  if (!r.isEwFlag()) return bad("store is not an ew_flag");
  auto dots = get_dots(r.getEwFlag());
  if (!dots) return dots.err();
  size_t n = dots->size();
  dot_set out{std::move(*dots)};
  if (out.size() != n) return bad("duplicate dot in ew_flag");
  return out;
}

result<nested_store> get_nested(s::Store::Reader r, int depth);

template <>
result<map_store> get_store(s::Store::Reader r, int depth) {
  if (!r.isOrMap()) return bad("store is not an or_map");
  if (depth > codec_max_map_depth) return bad("or_map nested deeper than " + std::to_string(codec_max_map_depth));
  map_store out;
  for (auto f : r.getOrMap()) {
    auto nested = get_nested(f.getStore(), depth + 1);
    if (!nested) return nested.err();
    if (nested->empty()) return bad("or_map field with an empty store");
    field_key key{to_string(f.getName()), nested->type()};
    if (!out.insert_new(std::move(key), std::move(*nested))) return bad("duplicate or_map field");
  }
  return out;
}

template <class Store>
result<nested_store> wrap_nested(result<Store> s) {
  if (!s) return s.err();
  return nested_store{std::move(*s)};
}

result<nested_store> get_nested(s::Store::Reader r, int depth) {
  switch (r.which()) {
    case s::Store::G_COUNTER: return wrap_nested(get_store<dot_fun<uint64_t>>(r, depth));
    case s::Store::PN_COUNTER: return wrap_nested(get_store<dot_fun<pn_entry>>(r, depth));
    case s::Store::LWW_REGISTER: return wrap_nested(get_store<dot_fun<lww_entry>>(r, depth));
    case s::Store::MV_REGISTER: return wrap_nested(get_store<dot_fun<std::string>>(r, depth));
    case s::Store::OR_SET: return wrap_nested(get_store<dot_map<std::string, dot_set>>(r, depth));
    case s::Store::OR_MAP: return wrap_nested(get_store<map_store>(r, depth));
    case s::Store::EW_FLAG: return wrap_nested(get_store<dot_set>(r, depth));
  }
  return bad("unknown store kind " + std::to_string(static_cast<unsigned>(r.which())));
}

template <class T>
result<value> get_value_of(s::Value::Reader r, dot_context ctx) {
  auto st = get_store<typename T::store_type>(r.getStore(), 0);
  if (!st) return st.err();
  bool covered = true;
  size_t dots = 0;
  st->for_each_dot([&](const dot& d) {
    covered = covered && ctx.contains(d);
    ++dots;
  });
  if (!covered) return bad("store holds a dot outside its context");
  // A dot is one event, so it belongs to one element or field. A dot map's dot -> key index (or_set
  // elements, or_map fields at every depth) holds each dot once: a dot under two keys would be
  // missed by removals and joins (found by fuzz_crdt_value). Dot functions and dot sets are keyed
  // by their dots, so they cannot repeat one.
  if constexpr (requires { st->dot_count(); }) {
    if (st->dot_count() != dots) return bad("a dot under two keys of the store");
  }
  return value{T{std::move(*st), std::move(ctx)}};
}

// Number of words the segment table of a flat message with `segments` segments takes.
size_t table_words(uint64_t segments) { return static_cast<size_t>(segments / 2 + 1); }

// Segment count of the flat message starting at `words` (non-empty), if at most
// codec_max_segments.
result<uint32_t> segment_count(const std::vector<capnp::word>& words) {
  uint32_t first = 0;
  std::memcpy(&first, words.data(), sizeof first);  // u32 LE (capnp targets are little-endian)
  uint64_t segments = uint64_t{first} + 1;
  if (segments > codec_max_segments)
    return bad("message of " + std::to_string(segments) + " segments (at most " + std::to_string(codec_max_segments) + ")");
  return static_cast<uint32_t>(segments);
}

// The unpacked form: copies `bytes` into word-aligned memory (capnp refuses unaligned input).
result<std::vector<capnp::word>> unpacked_words(std::string_view bytes) {
  if (bytes.size() % sizeof(capnp::word) != 0) return bad("length " + std::to_string(bytes.size()) + " is not a whole number of words (truncated?)");
  std::vector<capnp::word> words(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.data(), bytes.data(), bytes.size());
  if (auto n = segment_count(words); !n) return n.err();
  return words;
}

// Size in words of the packed stream `in` (base/capnp_packing.hpp), or an error if it is cut off
// or unpacks to more than codec_max_unpacked_bytes. Allocates nothing.
result<size_t> packed_size(std::string_view in) {
  auto words = packed_word_count(in, codec_max_unpacked_bytes / sizeof(capnp::word));
  if (!words) return bad(words.err().message);
  return *words;
}

// The packed form (after the marker): unpacks into word-aligned memory, within the bounds, and
// checks that the segment table accounts for exactly the unpacked words.
result<std::vector<capnp::word>> packed_words(std::string_view in) {
  auto size = packed_size(in);
  if (!size) return size.err();
  if (*size == 0) return bad("packed form without a message");
  std::vector<capnp::word> words(*size);
  unpack(in, reinterpret_cast<unsigned char*>(words.data()));
  auto segments = segment_count(words);
  if (!segments) return segments.err();
  size_t table = table_words(*segments);
  if (words.size() < table) return bad("packed message ends inside its segment table");
  const auto* sizes = reinterpret_cast<const unsigned char*>(words.data()) + 4;
  uint64_t total = table;
  for (uint32_t i = 0; i < *segments; ++i) {
    uint32_t n = 0;
    std::memcpy(&n, sizes + 4 * i, sizeof n);
    total += n;
  }
  if (total != words.size()) return bad("packed message of " + std::to_string(words.size()) + " words, its segment table says " + std::to_string(total));
  return words;
}

// The words of the flat message in `bytes`, either form (codec.hpp).
result<std::vector<capnp::word>> message_words(std::string_view bytes) {
  if (bytes.empty()) return bad("empty input");
  auto first = static_cast<uint8_t>(bytes[0]);
  if (first == codec_packed_marker) return packed_words(bytes.substr(1));
  if (first >= codec_max_segments) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned>(first));
    return bad(std::string("first byte ") + hex + " is neither the compact marker 0x40, the packed marker 0xff nor a segment count below " +
               std::to_string(codec_max_segments) + " (unpacked form)");
  }
  return unpacked_words(bytes);
}

capnp::ReaderOptions reader_options(size_t words) {
  capnp::ReaderOptions o;
  // Bound total traversal by the input size (defeats pointer amplification), with headroom for
  // the double-counted reads of small fields.
  o.traversalLimitInWords = words * 4 + 1024;
  o.nestingLimit = 3 * codec_max_map_depth + 16;
  return o;
}

template <class F>
auto guarded(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const kj::Exception& e) {
    return bad(e.getDescription().cStr());
  } catch (const std::exception& e) {
    return bad(e.what());
  }
}

}  // namespace

std::string encode(const value& v) {
  if (auto compact = detail::encode_compact(v)) return std::move(*compact);
  return encode_packed(v);
}

uint8_t current_form_marker(type_tag t) {
  return detail::has_compact_form(t) ? detail::codec_compact_marker : codec_packed_marker;
}

std::string encode_packed(const value& v) {
  if (v.type() == type_tag::text) return *detail::encode_compact(v);  // text has no packed form
  // A small value fits a first segment on the stack (capnp requires it zeroed); a larger one
  // continues in malloc'd segments. Saves the default 8 KiB calloc per encode on the write path.
  capnp::word scratch[128] = {};
  capnp::MallocMessageBuilder mb(kj::arrayPtr(scratch, 128));
  auto root = mb.initRoot<s::Value>();
  root.setFormatVersion(codec_format_version);
  root.setType(static_cast<s::TypeTag>(static_cast<uint16_t>(v.type())));
  put_context(root.initContext(), v.context());
  auto sb = root.initStore();
  std::visit(
      [&](const auto& x) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(x)>, text>) put_store(sb, x.store());
      },
      v.variant());
  return flatten(mb);
}

result<value> decode(std::string_view bytes) {
  if (!bytes.empty() && static_cast<uint8_t>(bytes[0]) == detail::codec_compact_marker) return detail::decode_compact(bytes);
  auto words = message_words(bytes);
  if (!words) return words.err();
  return guarded([&]() -> result<value> {
    capnp::FlatArrayMessageReader reader({words->data(), words->size()}, reader_options(words->size()));
    auto r = reader.getRoot<s::Value>();
    if (r.getFormatVersion() != codec_format_version)
      return error{errc::unsupported_version,
                   "CRDT encoding format version " + std::to_string(r.getFormatVersion()) +
                       " (this build reads version " + std::to_string(codec_format_version) + ")"};
    auto ctx = get_context(r.getContext());
    if (!ctx) return ctx.err();
    auto tag = static_cast<uint16_t>(r.getType());
    auto which = static_cast<uint16_t>(r.getStore().which());
    if (tag < 1 || tag > 7) return bad("unknown type tag " + std::to_string(tag));
    if (which + 1 != tag) return bad("type tag does not match the store");
    switch (static_cast<type_tag>(tag)) {
      case type_tag::g_counter: return get_value_of<g_counter>(r, std::move(*ctx));
      case type_tag::pn_counter: return get_value_of<pn_counter>(r, std::move(*ctx));
      case type_tag::lww_register: return get_value_of<lww_register>(r, std::move(*ctx));
      case type_tag::mv_register: return get_value_of<mv_register>(r, std::move(*ctx));
      case type_tag::or_set: return get_value_of<or_set>(r, std::move(*ctx));
      case type_tag::or_map: return get_value_of<or_map>(r, std::move(*ctx));
      case type_tag::ew_flag: return get_value_of<ew_flag>(r, std::move(*ctx));
      case type_tag::text: break;  // no packed form (refused above)
    }
    return bad("unknown type tag");
  });
}

std::string encode_context(const dot_context& c) {
  capnp::MallocMessageBuilder mb;
  auto root = mb.initRoot<s::Context>();
  root.setFormatVersion(codec_format_version);
  put_context(root.initContext(), c);
  return flatten(mb);
}

result<dot_context> decode_context(std::string_view bytes) {
  if (bytes.empty()) return dot_context{};  // the empty context (client.capnp, "Conventions")
  auto words = message_words(bytes);
  if (!words) return words.err();
  return guarded([&]() -> result<dot_context> {
    capnp::FlatArrayMessageReader reader({words->data(), words->size()}, reader_options(words->size()));
    auto r = reader.getRoot<s::Context>();
    if (r.getFormatVersion() != codec_format_version)
      return error{errc::unsupported_version,
                   "context encoding format version " + std::to_string(r.getFormatVersion())};
    return get_context(r.getContext());
  });
}

}  // namespace rumor::crdt
