#include "cmd_collections.hpp"

#include "client/render.hpp"
#include "crdt/codec.hpp"

namespace rumor::cli {

namespace {

using client::json_quote;

// A page's fields with the names `rumor get` shows: "name:type" when a name has several types
// (a page never splits the types of one name, so its neighbours tell).
struct named_field {
  std::string name;
  crdt::value value;
};

result<std::vector<named_field>> named(const std::vector<client::key_value>& fields) {
  std::vector<named_field> out;
  out.reserve(fields.size());
  for (size_t i = 0; i < fields.size(); ++i) {
    auto v = crdt::decode(fields[i].value);
    if (!v) return error{errc::decode_error, "the node sent an undecodable field value: " + v.err().message};
    const bool shared = (i > 0 && fields[i - 1].key == fields[i].key) ||
                        (i + 1 < fields.size() && fields[i + 1].key == fields[i].key);
    std::string name = shared ? fields[i].key + ":" + std::string(crdt::to_string(v->type())) : fields[i].key;
    out.push_back(named_field{std::move(name), std::move(*v)});
  }
  return out;
}

// The name the next page starts after.
std::string last_name(const client::collection_view& v) {
  if (!v.members.empty()) return v.members.back();
  return v.fields.empty() ? std::string() : v.fields.back().key;
}

// Calls `each(page)` for every page after g.after (at most `pages` of them), until one says no
// more. Errors: the calls', and a node whose pages do not advance.
status for_each_page(const call_fn& call, client::get g, uint64_t pages,
                     const std::function<status(const client::collection_view&)>& each) {
  g.view = client::view_kind::page;
  for (uint64_t i = 0; i < pages; ++i) {
    auto page = fetch_view(call, g);
    // A page over the node's frame limit (big members or field values): ask for fewer.
    for (int halvings = 0; !page && page.err().code == errc::too_large && g.limit > 1 && halvings < 32; ++halvings) {
      g.limit /= 2;
      page = fetch_view(call, g);
    }
    if (!page) return page.err();
    if (auto s = each(*page); !s) return s;
    if (!page->more) return {};
    std::string next = last_name(*page);
    if (next.empty() || (g.after && next <= *g.after))
      return error{errc::decode_error, "the node's pages do not advance (after '" + next + "')"};
    g.after = std::move(next);
  }
  return {};
}

}  // namespace

result<client::collection_view> fetch_view(const call_fn& call, client::get g) {
  client::request req;
  req.body = std::move(g);
  auto r = call(std::move(req));
  if (!r) return r.err();
  if (r->code != errc::ok) return error{r->code, r->message};
  if (!r->collection) return error{errc::decode_error, "the node answered without the collection view"};
  return std::move(*r->collection);
}

status print_pages(const call_fn& call, bool json, client::get g, std::optional<uint32_t> limit, std::ostream& out) {
  g.limit = limit.value_or(whole_page_limit);
  const std::string key = g.key;
  bool more = false;
  std::string next;
  auto print = [&](const client::collection_view& page) -> status {
    auto fields = named(page.fields);
    if (!fields) return fields.err();
    for (const auto& m : page.members) {
      if (json) out << "{\"key\":" << json_quote(key) << ",\"member\":" << json_quote(m) << "}\n";
      else out << client::text_escape(m) << "\n";
    }
    for (const auto& f : *fields) {
      if (json)
        out << "{\"key\":" << json_quote(key) << ",\"field\":" << json_quote(f.name) << ",\"type\":"
            << json_quote(crdt::to_string(f.value.type())) << ",\"value\":" << client::render_json(f.value) << "}\n";
      else
        out << client::text_escape(f.name) << ": " << client::render_text(f.value) << "\n";
    }
    more = page.more;
    next = last_name(page);
    return {};
  };
  if (auto s = for_each_page(call, g, limit ? 1 : UINT64_MAX, print); !s) return s;
  if (limit && more) {
    if (json) out << "{\"key\":" << json_quote(key) << ",\"more\":true,\"next\":" << json_quote(next) << "}\n";
    else out << "(more: --after " << client::text_escape(next, true) << ")\n";
  }
  out.flush();
  return {};
}

result<bool> print_whole(const call_fn& call, bool json, client::get g, std::ostream& out) {
  auto first = fetch_view(call, [&] {
    client::get size = g;
    size.view = client::view_kind::size;
    return size;
  }());
  if (!first) return first.err();
  if (!first->type) return false;
  const bool set = *first->type == crdt::type_tag::or_set;
  if (json) out << "{\"key\":" << json_quote(g.key) << ",\"type\":" << json_quote(crdt::to_string(*first->type)) << ",\"value\":";
  out << (json && set ? "[" : "{");
  bool any = false;
  g.limit = whole_page_limit;
  auto print = [&](const client::collection_view& page) -> status {
    auto fields = named(page.fields);
    if (!fields) return fields.err();
    for (const auto& m : page.members) {
      out << (any ? (json ? "," : ", ") : "") << (json ? json_quote(m) : client::text_escape(m, true));
      any = true;
    }
    for (const auto& f : *fields) {
      out << (any ? (json ? "," : ", ") : "");
      if (json) out << json_quote(f.name) << ":" << client::render_json(f.value);
      else out << client::text_escape(f.name) << ": " << client::render_text(f.value);
      any = true;
    }
    return {};
  };
  if (auto s = for_each_page(call, g, UINT64_MAX, print); !s) {
    out << "\n";
    return s.err();
  }
  out << (json && set ? "]" : "}") << (json ? "}" : "") << "\n";
  out.flush();
  return true;
}

}  // namespace rumor::cli
