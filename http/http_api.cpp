#include "http/http_api.hpp"

#include <charconv>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "client/field_path.hpp"
#include "client/render.hpp"
#include "client/status_render.hpp"
#include "crdt/codec.hpp"
#include "crdt/type_tag.hpp"

namespace rumor::http {

namespace {

using json = nlohmann::json;

std::string q(std::string_view s) { return client::json_quote(s); }

std::optional<uint64_t> parse_u64(const std::string& s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

using client::node_id_hex;

// consistency and timeout_ms of the query into `req`; a 400 reply when malformed.
std::optional<http_reply> read_level(const http_request& r, client::request& req) {
  if (auto it = r.query.find("consistency"); it != r.query.end()) {
    if (it->second == "local") req.level = client::consistency::local;
    else if (it->second == "majority") req.level = client::consistency::majority;
    else if (it->second == "all") req.level = client::consistency::all;
    else return error_reply(errc::invalid_argument, "consistency must be local, majority or all, not '" + it->second + "'");
  }
  if (auto it = r.query.find("timeout_ms"); it != r.query.end()) {
    auto v = parse_u64(it->second);
    if (!v || *v == 0 || *v > 600'000)
      return error_reply(errc::invalid_argument, "timeout_ms must be an integer in 1..600000, not '" + it->second + "'");
    req.timeout_ms = static_cast<uint32_t>(*v);
  }
  return std::nullopt;
}

http_reply json_reply(std::string body, int status = 200) { return http_reply{status, std::move(body) + "\n", "application/json"}; }

// {"key":..,"type":..,"value":..,"context":..} of the first value that holds something, as
// `rumor get --json` prints it (context: an mv_register's siblings' dots or a text's context as
// text, for conditional writes; else omitted).
std::optional<std::string> value_object(const std::string& key, const std::vector<client::key_value>& values,
                                        std::string& problem) {
  for (const auto& kv : values) {
    auto v = crdt::decode(kv.value);
    if (!v) {
      problem = "the node sent an undecodable value: " + v.err().message;
      return std::nullopt;
    }
    if (v->holds_nothing()) continue;
    std::string out = "{\"key\":" + q(key) + ",\"type\":" + q(crdt::to_string(v->type())) +
                      ",\"value\":" + client::render_json(*v);
    if (!kv.context.empty()) {
      if (auto ctx = crdt::decode_context(kv.context)) out += ",\"context\":" + q(client::context_to_string(*ctx));
    }
    return out + "}";
  }
  return std::string{};
}

// A JSON string field that must be a string (or absent: nullopt, or null when `null_ok`).
status string_field(const json& j, const char* name, std::optional<std::string>& out, bool required) {
  auto it = j.find(name);
  if (it == j.end() || (it->is_null() && !required)) {
    if (required) return error{errc::invalid_argument, std::string("\"") + name + "\" is required"};
    out.reset();
    return {};
  }
  if (!it->is_string()) return error{errc::invalid_argument, std::string("\"") + name + "\" must be a string"};
  out = it->get<std::string>();
  return {};
}

}  // namespace

int status_of(errc code) noexcept {
  switch (code) {
    case errc::ok: return 200;
    case errc::invalid_argument:
    case errc::decode_error:
    case errc::overflow: return 400;
    case errc::not_found: return 404;
    case errc::conflict:
    case errc::type_mismatch: return 409;
    case errc::too_large: return 413;
    case errc::unauthenticated: return 401;
    case errc::unavailable:
    case errc::busy:
    case errc::clock_drift: return 503;
    case errc::timeout: return 504;
    case errc::map_full: return 507;
    default: return 500;
  }
}

http_reply error_reply(errc code, const std::string& message) {
  return json_reply("{\"error\":" + q(to_string(code)) + ",\"message\":" + q(message) + "}", status_of(code));
}

namespace {

// GET /v1/kv/KEY's query: field=a.b (a nested map field), member=M, size, after=X / limit=N (a
// page). At most one of member, size and a page.
result<client::get> parse_get(const http_request& r, const std::string& key) {
  client::get g{key};
  auto param = [&](const char* name) -> const std::string* {
    auto it = r.query.find(name);
    return it == r.query.end() ? nullptr : &it->second;
  };
  if (const std::string* f = param("field")) {
    auto path = client::parse_field_path(*f);
    if (!path) return path.err();
    g.path = std::move(*path);
  }
  int views = 0;
  if (const std::string* m = param("member")) {
    g.view = client::view_kind::member;
    g.member = *m;
    ++views;
  }
  if (param("size")) {
    g.view = client::view_kind::size;
    ++views;
  }
  if (param("after") || param("limit")) {
    g.view = client::view_kind::page;
    if (const std::string* a = param("after")) g.after = *a;
    if (const std::string* l = param("limit")) {
      auto v = parse_u64(*l);
      if (!v || *v == 0 || *v > client::max_page_limit)
        return error{errc::invalid_argument, "limit must be an integer in 1..100000, not '" + *l + "'"};
      g.limit = static_cast<uint32_t>(*v);
    }
    ++views;
  }
  if (views > 1) return error{errc::invalid_argument, "ask for one of member, size or a page (after / limit)"};
  return g;
}

// The JSON of a collection view: {"key", "member", "contains"} / {"key", "size"} / a page
// {"key", "type", "size", "members": [...] | "fields": [{"name", "type", "value"}...], "more", "next"}.
std::optional<std::string> view_object(const std::string& key, const client::get& g, const client::collection_view& v,
                                       std::string& problem) {
  if (g.view == client::view_kind::member)
    return "{\"key\":" + q(key) + ",\"member\":" + q(g.member) + ",\"contains\":" + (v.contains ? "true" : "false") + "}";
  if (g.view == client::view_kind::size) return "{\"key\":" + q(key) + ",\"size\":" + std::to_string(v.size) + "}";
  std::string out = "{\"key\":" + q(key) + ",\"type\":" + (v.type ? q(crdt::to_string(*v.type)) : "null") +
                    ",\"size\":" + std::to_string(v.size);
  std::string next;
  if (!v.fields.empty()) {
    out += ",\"fields\":[";
    for (size_t i = 0; i < v.fields.size(); ++i) {
      auto val = crdt::decode(v.fields[i].value);
      if (!val) {
        problem = "the node sent an undecodable field value: " + val.err().message;
        return std::nullopt;
      }
      out += std::string(i ? "," : "") + "{\"name\":" + q(v.fields[i].key) + ",\"type\":" +
             q(crdt::to_string(val->type())) + ",\"value\":" + client::render_json(*val) + "}";
    }
    out += "]";
    next = v.fields.back().key;
  } else {
    out += ",\"members\":[";
    for (size_t i = 0; i < v.members.size(); ++i) out += std::string(i ? "," : "") + q(v.members[i]);
    out += "]";
    if (!v.members.empty()) next = v.members.back();
  }
  out += std::string(",\"more\":") + (v.more ? "true" : "false") + ",\"next\":" + (v.more ? q(next) : "null") + "}";
  return out;
}

}  // namespace

status parse_operation(const std::string& body, client::update& u) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return error{errc::invalid_argument, "the body is not valid JSON"};
  if (!j.is_object()) return error{errc::invalid_argument, "the body must be a JSON object with \"op\""};
  auto op_it = j.find("op");
  if (op_it == j.end() || !op_it->is_string()) return error{errc::invalid_argument, "\"op\" (a string) is required"};
  const std::string op = op_it->get<std::string>();
  if (auto p = j.find("path"); p != j.end()) {
    if (!p->is_array()) return error{errc::invalid_argument, "\"path\" must be an array of field names"};
    for (const auto& f : *p) {
      if (!f.is_string()) return error{errc::invalid_argument, "\"path\" must be an array of field names"};
      u.path.push_back(f.get<std::string>());
    }
  }
  if (auto rv = j.find("return_value"); rv != j.end()) {
    if (!rv->is_boolean()) return error{errc::invalid_argument, "\"return_value\" must be true or false"};
    u.return_value = rv->get<bool>();
  }
  auto amount = [&](int64_t& by) -> status {
    by = 1;
    auto it = j.find("by");
    if (it == j.end()) return {};
    if (!it->is_number_integer() || it->get<int64_t>() < 0)
      return error{errc::invalid_argument, "\"by\" must be a non-negative integer"};
    by = it->get<int64_t>();
    return {};
  };
  if (op == "incr" || op == "decr" || op == "grow") {
    int64_t by = 1;
    if (auto s = amount(by); !s) return s;
    u.op = client::op_kind::counter_add;
    u.type = op == "grow" ? crdt::type_tag::g_counter : crdt::type_tag::pn_counter;
    u.amount = op == "decr" ? -by : by;
  } else if (op == "set" || op == "mvput") {
    std::optional<std::string> v;
    if (auto s = string_field(j, "value", v, true); !s) return s;
    u.op = op == "set" ? client::op_kind::register_set : client::op_kind::mv_put;
    u.type = op == "set" ? crdt::type_tag::lww_register : crdt::type_tag::mv_register;
    u.value = std::move(*v);
    if (op == "mvput") {
      std::optional<std::string> ctx;
      if (auto s = string_field(j, "context", ctx, false); !s) return s;
      if (ctx)
        if (auto s = client::condition_on(u, *ctx); !s) return error{errc::invalid_argument, "\"context\": " + s.err().message};
    }
  } else if (op == "sadd" || op == "srem") {
    auto it = j.find("members");
    if (it == j.end() || !it->is_array() || it->empty())
      return error{errc::invalid_argument, "\"members\" must be a non-empty array of strings"};
    for (const auto& m : *it) {
      if (!m.is_string()) return error{errc::invalid_argument, "\"members\" must be a non-empty array of strings"};
      u.members.push_back(m.get<std::string>());
    }
    u.op = op == "sadd" ? client::op_kind::set_add : client::op_kind::set_remove;
    u.type = crdt::type_tag::or_set;
  } else if (op == "flag") {
    auto it = j.find("on");
    if (it == j.end() || !it->is_boolean()) return error{errc::invalid_argument, "\"on\" must be true or false"};
    u.op = client::op_kind::flag_set;
    u.type = crdt::type_tag::ew_flag;
    u.flag = it->get<bool>();
  } else if (op == "splice") {
    auto count = [&](const char* name, uint64_t& out) -> status {
      auto it = j.find(name);
      if (it == j.end()) return {};
      if (!it->is_number_integer() || it->get<int64_t>() < 0)
        return error{errc::invalid_argument, std::string("\"") + name + "\" must be a non-negative integer"};
      out = it->get<uint64_t>();
      return {};
    };
    if (auto s = count("pos", u.position); !s) return s;
    if (auto s = count("del", u.delete_count); !s) return s;
    std::optional<std::string> text, ctx;
    if (auto s = string_field(j, "text", text, false); !s) return s;
    if (auto s = string_field(j, "context", ctx, false); !s) return s;
    u.op = client::op_kind::splice;
    u.type = crdt::type_tag::text;
    u.value = text.value_or("");
    if (ctx)
      if (auto s = client::condition_on(u, *ctx); !s) return error{errc::invalid_argument, "\"context\": " + s.err().message};
  } else if (op == "del") {
    u.op = client::op_kind::remove_key;
    if (!u.path.empty()) {
      std::optional<std::string> t;
      if (auto s = string_field(j, "type", t, true); !s) return s;
      auto tag = crdt::parse_type_tag(*t);
      if (!tag) return error{errc::invalid_argument, "\"type\": unknown type '" + *t + "'"};
      u.type = *tag;
    }
  } else {
    return error{errc::invalid_argument,
                 "unknown op '" + op + "' (incr, decr, grow, set, mvput, sadd, srem, flag, splice, del)"};
  }
  return {};
}

std::variant<routed, http_reply> parse(const http_request& r) {
  routed out;
  const std::string& p = r.path;
  auto method_not_allowed = [&](const char* allowed) {
    http_reply rep = error_reply(errc::invalid_argument, r.method + " is not allowed on " + p + " (" + allowed + ")");
    rep.status = 405;
    return rep;
  };
  if (p.starts_with("/v1/kv/")) {
    out.key = p.substr(7);
    if (out.key.empty()) return error_reply(errc::invalid_argument, "the key is empty (/v1/kv/KEY)");
    if (auto bad = read_level(r, out.request)) return *bad;
    if (r.method == "GET") {
      out.kind = route::kv_get;
      auto g = parse_get(r, out.key);
      if (!g) return error_reply(g.err().code, g.err().message);
      out.request.body = std::move(*g);
      return out;
    }
    client::update u;
    if (r.method == "POST") {
      if (auto s = parse_operation(r.body, u); !s) return error_reply(s.err().code, s.err().message);
    } else if (r.method == "DELETE") {
      u.op = client::op_kind::remove_key;
    } else {
      return method_not_allowed("GET, POST, DELETE");
    }
    u.key = out.key;
    out.kind = route::kv_update;
    out.request.body = std::move(u);
    return out;
  }
  if (p.starts_with("/v1/cas/")) {
    out.key = p.substr(8);
    if (out.key.empty()) return error_reply(errc::invalid_argument, "the key is empty (/v1/cas/KEY)");
    if (auto bad = read_level(r, out.request)) return *bad;
    if (r.method == "GET") {
      out.kind = route::cas_read;
      out.request.body = client::lget{out.key};
      return out;
    }
    if (r.method != "POST") return method_not_allowed("GET, POST");
    json j = json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return error_reply(errc::invalid_argument, "the body must be a JSON object {\"expected\": ..., \"value\": ...}");
    if (!j.contains("expected") || !j.contains("value"))
      return error_reply(errc::invalid_argument,
                         "both \"expected\" and \"value\" are required (null: absent / delete)");
    client::cas c;
    c.key = out.key;
    if (auto s = string_field(j, "expected", c.expected, false); !s) return error_reply(s.err().code, s.err().message);
    if (auto s = string_field(j, "value", c.value, false); !s) return error_reply(s.err().code, s.err().message);
    out.kind = route::cas_write;
    out.request.body = std::move(c);
    return out;
  }
  if (p == "/v1/keys" || p == "/v1/members" || p == "/v1/status") {
    if (r.method != "GET") return method_not_allowed("GET");
    if (p == "/v1/members") {
      out.kind = route::members;
      out.request.body = client::members{};
    } else if (p == "/v1/status") {
      out.kind = route::status;
      out.request.body = client::status{};
    } else {
      client::keys k;
      if (auto it = r.query.find("prefix"); it != r.query.end()) k.prefix = it->second;
      if (auto it = r.query.find("limit"); it != r.query.end()) {
        auto v = parse_u64(it->second);
        if (!v || *v == 0 || *v > 100'000)
          return error_reply(errc::invalid_argument, "limit must be an integer in 1..100000, not '" + it->second + "'");
        k.limit = static_cast<uint32_t>(*v);
      }
      out.kind = route::keys;
      out.request.body = std::move(k);
    }
    return out;
  }
  // Served by the server itself on GET (http_server.cpp); any other method reaches here.
  if (p == "/v1/sync" || p == "/v1/watch") return method_not_allowed("GET");
  http_reply nf = error_reply(errc::not_found, "no route " + p + " (see docs/http-api.md)");
  return nf;
}

http_reply render(const routed& req, const client::response& resp) {
  if (resp.code != errc::ok && resp.code != errc::conflict) return error_reply(resp.code, resp.message);
  std::string problem;
  switch (req.kind) {
    case route::kv_get: {
      const auto& g = std::get<client::get>(req.request.body);
      if (g.view != client::view_kind::value) {
        if (!resp.collection) return error_reply(errc::decode_error, "the node sent no collection view");
        auto v = view_object(req.key, g, *resp.collection, problem);
        if (!v) return error_reply(errc::decode_error, problem);
        return json_reply(*v);
      }
      auto v = value_object(req.key, resp.values, problem);
      if (!v) return error_reply(errc::decode_error, problem);
      if (v->empty()) return error_reply(errc::not_found, "no value under '" + req.key + "'");
      return json_reply(*v);
    }
    case route::kv_update: {
      const auto& u = std::get<client::update>(req.request.body);
      if (resp.code == errc::conflict) {
        auto v = value_object(req.key, resp.values, problem);
        return json_reply("{\"error\":\"conflict\",\"message\":" + q(resp.message) +
                              ",\"current\":" + (v && !v->empty() ? *v : std::string("null")) + "}",
                          409);
      }
      if (u.op == client::op_kind::remove_key && u.path.empty())
        return json_reply("{\"key\":" + q(req.key) + ",\"deleted\":true}");
      if (resp.values.empty() && resp.outcome)  // a set or map update: what it did
        return json_reply("{\"key\":" + q(req.key) + ",\"changed\":" + std::to_string(resp.outcome->changed) +
                          ",\"size\":" + std::to_string(resp.outcome->size) + "}");
      auto v = value_object(req.key, resp.values, problem);
      if (!v) return error_reply(errc::decode_error, problem);
      if (v->empty()) return json_reply("{\"key\":" + q(req.key) + ",\"type\":null,\"value\":null}");
      return json_reply(*v);
    }
    case route::keys: {
      std::string out = "{\"keys\":[";
      for (size_t i = 0; i < resp.key_list.size(); ++i)
        out += std::string(i ? "," : "") + "{\"key\":" + q(resp.key_list[i].key) +
               ",\"type\":" + q(crdt::to_string(resp.key_list[i].type)) + "}";
      return json_reply(out + "]}");
    }
    case route::members: {
      std::string out = "{\"members\":[";
      for (size_t i = 0; i < resp.member_list.size(); ++i) {
        const auto& m = resp.member_list[i];
        out += std::string(i ? "," : "") + "{\"id\":\"" + node_id_hex(m.id) + "\",\"address\":" + q(m.address) +
               ",\"status\":" + q(client::member_status_name(m.status)) +
               ",\"incarnation\":" + std::to_string(m.incarnation) + "}";
      }
      return json_reply(out + "]}");
    }
    case route::status:
      if (!resp.node) return error_reply(errc::decode_error, "the node sent no status");
      return json_reply(client::render_status_json(*resp.node));
    case route::cas_write:
    case route::cas_read: {
      std::string current = resp.values.empty() ? "null" : q(resp.values.front().value);
      if (resp.code == errc::conflict)
        return json_reply("{\"error\":\"conflict\",\"message\":" + q(resp.message) + ",\"current\":" + current + "}", 409);
      if (req.kind == route::cas_write) {
        const auto& c = std::get<client::cas>(req.request.body);
        return json_reply("{\"key\":" + q(req.key) + ",\"value\":" + (c.value ? q(*c.value) : std::string("null")) + "}");
      }
      return json_reply("{\"key\":" + q(req.key) + ",\"value\":" + current + "}");
    }
  }
  return error_reply(errc::invalid_argument, "unknown route");
}

}  // namespace rumor::http
