#include "client/render.hpp"

#include <map>
#include <optional>
#include <variant>

#include "crdt/codec.hpp"

namespace rumor::client {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

void append_hex_byte(std::string& out, unsigned char c) {
  out += hex_digits[c >> 4];
  out += hex_digits[c & 15];
}

// Length of the valid UTF-8 multi-byte sequence starting at s[i] (2..4), or 0 if there is none.
// Refuses overlong forms, surrogates (U+D800..U+DFFF) and code points above U+10FFFF.
size_t utf8_sequence(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = at(i);
  size_t len;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    unsigned char d = at(i + k);
    if ((d & 0xC0) != 0x80) return 0;
    cp = cp << 6 | (d & 0x3F);
  }
  if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
  if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
  return len;
}

// Shared walk: printable ASCII and valid UTF-8 sequences are copied; `escape(out, byte, valid)`
// writes everything else (valid: an ASCII byte that is not printable or needs escaping, as
// opposed to a byte outside valid UTF-8).
template <class Escape>
std::string walk(std::string_view s, bool (*needs_escape)(unsigned char), Escape&& escape) {
  std::string out;
  out.reserve(s.size() + 2);
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (needs_escape(c)) escape(out, c, true);
      else out += static_cast<char>(c);
      ++i;
    } else if (size_t len = utf8_sequence(s, i)) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      escape(out, c, false);
      ++i;
    }
  }
  return out;
}

std::string type_suffixed(const crdt::field_key& f) {
  return f.name + ":" + std::string(crdt::to_string(f.type));
}

// Names of the fields of `m` as rendered: the plain name, or name:type when the name has several
// types. Same order as m.fields().
std::vector<std::pair<std::string, crdt::value>> named_fields(const crdt::or_map& m) {
  auto fields = m.fields();
  std::map<std::string, int> uses;
  for (const auto& f : fields) ++uses[f.name];
  std::vector<std::pair<std::string, crdt::value>> out;
  out.reserve(fields.size());
  for (const auto& f : fields) {
    std::optional<crdt::value> v = crdt::field_value(m, f);
    if (!v) continue;
    out.emplace_back(uses[f.name] > 1 ? type_suffixed(f) : f.name, std::move(*v));
  }
  return out;
}

template <class... F>
struct overloaded : F... {
  using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;

}  // namespace

std::string json_quote(std::string_view bytes) {
  std::string body = walk(
      bytes, [](unsigned char c) { return c < 0x20 || c == '"' || c == '\\' || c == 0x7F; },
      [](std::string& out, unsigned char c, bool) {
        switch (c) {
          case '"': out += "\\\""; return;
          case '\\': out += "\\\\"; return;
          case '\n': out += "\\n"; return;
          case '\r': out += "\\r"; return;
          case '\t': out += "\\t"; return;
          case '\b': out += "\\b"; return;
          case '\f': out += "\\f"; return;
          default: out += "\\u00"; append_hex_byte(out, c);
        }
      });
  return "\"" + body + "\"";
}

std::string text_escape(std::string_view bytes, bool quoted) {
  auto escape = [](std::string& out, unsigned char c, bool) {
    switch (c) {
      case '"': out += "\\\""; return;
      case '\\': out += "\\\\"; return;
      case '\n': out += "\\n"; return;
      case '\r': out += "\\r"; return;
      case '\t': out += "\\t"; return;
      default: out += "\\x"; append_hex_byte(out, c);
    }
  };
  if (quoted)
    return "\"" + walk(bytes, [](unsigned char c) { return c < 0x20 || c == 0x7F || c == '"' || c == '\\'; }, escape) +
           "\"";
  return walk(bytes, [](unsigned char c) { return c < 0x20 || c == 0x7F || c == '\\'; }, escape);
}

std::string context_to_string(const crdt::dot_context& ctx) {
  std::string bytes = crdt::encode_context(ctx);
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) append_hex_byte(out, static_cast<unsigned char>(c));
  return out;
}

result<crdt::dot_context> parse_context(std::string_view text) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  if (text.size() % 2 != 0)
    return error{errc::invalid_argument, "a context is an even number of hex digits (got " +
                                             std::to_string(text.size()) + " characters)"};
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string bytes(text.size() / 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    int hi = nibble(text[2 * i]), lo = nibble(text[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return error{errc::invalid_argument, "a context is hex digits; found " +
                                               text_escape(text.substr(hi < 0 ? 2 * i : 2 * i + 1, 1), true) +
                                               " at position " + std::to_string(hi < 0 ? 2 * i : 2 * i + 1)};
    bytes[i] = static_cast<char>(hi << 4 | lo);
  }
  return crdt::decode_context(bytes);
}

std::string render_json(const set_changes& c) {
  auto list = [](const std::vector<std::string>& members) {
    std::string out = "[";
    for (size_t i = 0; i < members.size(); ++i) out += (i ? "," : "") + json_quote(members[i]);
    return out + "]";
  };
  std::string out = "{\"size\":" + std::to_string(c.size) + ",\"added\":" + list(c.added) + ",\"removed\":" +
                    list(c.removed);
  if (c.type == crdt::type_tag::or_map) out += ",\"changed\":" + list(c.changed);
  return out + ",\"complete\":" + (c.complete ? "true" : "false") + "}";
}

std::string render_event_json(std::string_view key, const crdt::value* value, std::string_view origin,
                              const set_changes* set, bool value_omitted) {
  std::string type = value ? json_quote(crdt::to_string(value->type()))
                           : value_omitted ? json_quote(crdt::to_string(set ? set->type : crdt::type_tag::or_set))
                                           : std::string("null");
  std::string out = "{\"key\":" + json_quote(key) + ",\"type\":" + type +
                    ",\"value\":" + (value ? render_json(*value) : std::string("null")) + ",\"origin\":\"" +
                    std::string(origin) + "\"";
  if (value_omitted) out += ",\"value_omitted\":true";
  if (set) out += ",\"set\":" + render_json(*set);
  return out + "}";
}

std::string render_text(const set_changes& c) {
  std::string out;
  for (const auto& m : c.added) out += "+" + text_escape(m, true) + " ";
  for (const auto& m : c.removed) out += "-" + text_escape(m, true) + " ";
  for (const auto& m : c.changed) out += "~" + text_escape(m, true) + " ";
  const bool map = c.type == crdt::type_tag::or_map;
  out += "(" + std::to_string(c.size) + (c.size == 1 ? (map ? " field" : " member") : (map ? " fields" : " members"));
  if (!c.complete) out += "; more changed";
  return out + ")";
}

std::string render_json(const crdt::value& v) {
  return std::visit(
      overloaded{
          [](const crdt::g_counter& c) { return std::to_string(c.value()); },
          [](const crdt::pn_counter& c) { return std::to_string(c.value()); },
          [](const crdt::lww_register& r) {
            auto s = r.read();
            return s ? json_quote(*s) : std::string("null");
          },
          [](const crdt::mv_register& r) {
            std::string out = "{\"siblings\":[";
            bool first = true;
            for (const auto& s : r.siblings()) {
              if (!first) out += ',';
              first = false;
              out += json_quote(s);
            }
            out += "],\"context\":\"" + context_to_string(r.read_context()) + "\"}";
            return out;
          },
          [](const crdt::or_set& s) {
            std::string out = "[";
            bool first = true;
            for (const auto& e : s.elements()) {
              if (!first) out += ',';
              first = false;
              out += json_quote(e);
            }
            return out + "]";
          },
          [](const crdt::ew_flag& f) { return std::string(f.value() ? "true" : "false"); },
          [](const crdt::text& t) { return json_quote(t.str()); },
          [](const crdt::or_map& m) {
            std::string out = "{";
            bool first = true;
            for (const auto& [name, field] : named_fields(m)) {
              if (!first) out += ',';
              first = false;
              out += json_quote(name) + ":" + render_json(field);
            }
            return out + "}";
          },
      },
      v.variant());
}

std::string render_text(const crdt::value& v) {
  return std::visit(
      overloaded{
          [](const crdt::g_counter& c) { return std::to_string(c.value()); },
          [](const crdt::pn_counter& c) { return std::to_string(c.value()); },
          [](const crdt::lww_register& r) {
            auto s = r.read();
            return s ? text_escape(*s) : std::string("(unset)");
          },
          [](const crdt::mv_register& r) {
            auto siblings = r.siblings();
            std::string out;
            for (const auto& s : siblings) {
              if (!out.empty()) out += " | ";
              out += text_escape(s, true);
            }
            if (siblings.empty()) out = "(unset)";
            return out + "  [context " + context_to_string(r.read_context()) + "]";
          },
          [](const crdt::or_set& s) {
            std::string out = "{";
            bool first = true;
            for (const auto& e : s.elements()) {
              if (!first) out += ", ";
              first = false;
              out += text_escape(e, true);
            }
            return out + "}";
          },
          [](const crdt::ew_flag& f) { return std::string(f.value() ? "true" : "false"); },
          [](const crdt::text& t) { return text_escape(t.str(), true); },
          [](const crdt::or_map& m) {
            std::string out = "{";
            bool first = true;
            for (const auto& [name, field] : named_fields(m)) {
              if (!first) out += ", ";
              first = false;
              out += text_escape(name) + ": " + render_text(field);
            }
            return out + "}";
          },
      },
      v.variant());
}

rumor::status condition_on(update& u, std::string_view text) {
  auto ctx = parse_context(text);
  if (!ctx) return ctx.err();
  u.context = crdt::encode_context(*ctx);
  u.conditional = true;
  return {};
}

result<std::string> render_text_from_bytes(std::string_view codec_bytes) {
  auto v = crdt::decode(codec_bytes);
  if (!v) return v.err();
  return render_text(*v);
}

result<std::string> render_json_from_bytes(std::string_view codec_bytes) {
  auto v = crdt::decode(codec_bytes);
  if (!v) return v.err();
  return render_json(*v);
}

const char* member_status_name(uint8_t status) noexcept {
  static constexpr const char* names[] = {"alive", "suspect", "dead", "left"};
  return status < 4 ? names[status] : "unknown";
}

}  // namespace rumor::client
