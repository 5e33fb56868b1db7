#include "cmd_client.hpp"

#include <charconv>
#include <cstdlib>
#include <iostream>
#include <unistd.h>

#include "client/connection.hpp"
#include "client/field_path.hpp"
#include "cmd_collections.hpp"
#include "client/render.hpp"
#include "client/status_render.hpp"
#include "crdt/codec.hpp"
#include "exit_codes.hpp"

namespace rumor::cli {

namespace {

constexpr uint64_t connect_timeout_ms = 3000;

int fail(const std::string& what, const error& e) {
  std::cerr << "rumor " << what << ": " << e.message << "\n";
  switch (e.code) {
    case errc::timeout:
      std::cerr << "  (the requested consistency was not reached in time; the update is durable on the node "
                   "and keeps spreading — retry, raise --timeout-ms or use --consistency local)\n";
      break;
    case errc::type_mismatch:
      std::cerr << "  (each key holds one type, fixed by its first write; use another key)\n";
      break;
    default: break;
  }
  return exit_code_of(e.code);
}

int usage(const std::string& what, const std::string& msg) {
  std::cerr << "rumor " << what << ": " << msg << "\n";
  return exit_usage;
}

std::optional<int64_t> parse_int(const std::string& s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string json_string(std::string_view s) { return client::json_quote(s); }

// Prints a key's value: "key: value" / {"key":..,"type":..,"value":..}.
void print_value(const client_options& o, const std::string& key, const std::optional<crdt::value>& v) {
  if (o.json) {
    std::cout << "{\"key\":" << json_string(key) << ",\"type\":"
              << (v ? json_string(crdt::to_string(v->type())) : "null")
              << ",\"value\":" << (v ? client::render_json(*v) : "null") << "}\n";
  } else if (v) {
    std::cout << client::render_text(*v) << "\n";
  } else {
    std::cout << "(none)\n";
  }
}

// The first non-empty value of a response (a deleted key holds an empty value).
result<std::optional<crdt::value>> value_of(const client::response& r) {
  for (const auto& kv : r.values) {
    auto v = crdt::decode(kv.value);
    if (!v) return error{errc::decode_error, "the node sent an undecodable value: " + v.err().message};
    if (!v->holds_nothing()) return std::optional<crdt::value>{std::move(*v)};
  }
  return std::optional<crdt::value>{};
}

client::consistency level_of(const std::string& s) {
  if (s == "majority") return client::consistency::majority;
  if (s == "all") return client::consistency::all;
  return client::consistency::local;
}

struct session {
  const client_options& o;
  client::connection conn;

  result<client::response> call(client::request req) {
    req.level = level_of(o.consistency);
    req.timeout_ms = o.timeout_ms;
    // The node answers a majority/all request by its timeout; allow for the round trip.
    return conn.call(std::move(req), uint64_t{o.timeout_ms} + 2000);
  }
  call_fn caller() {
    return [this](client::request req) { return call(std::move(req)); };
  }
};

// What an update of a collection did: "added 2 (5 members)" / {"key":..,"changed":2,"size":5}
// (sadd / srem --field a.b: of the set in that field). A counter, register or flag in a map field
// (--field a.b): "added field a.b (3 fields)" when the field appeared, else "updated field a.b (3
// fields)", the fields of the map holding it; JSON adds "field".
void print_outcome(const client_options& o, const client_command& c, const std::string& key,
                   const client::update_outcome& out) {
  if (!c.field.empty() && c.name != "sadd" && c.name != "srem") {
    if (o.json) {
      std::cout << "{\"key\":" << json_string(key) << ",\"field\":" << json_string(c.field) << ",\"changed\":" << out.changed
                << ",\"size\":" << out.size << "}\n";
      return;
    }
    std::cout << (out.changed ? "added field " : "updated field ") << c.field << " (" << out.size
              << (out.size == 1 ? " field)\n" : " fields)\n");
    return;
  }
  if (o.json) {
    std::cout << "{\"key\":" << json_string(key) << ",\"changed\":" << out.changed << ",\"size\":" << out.size << "}\n";
    return;
  }
  if (c.name == "splice") {
    std::cout << "changed " << out.changed << (out.changed == 1 ? " codepoint" : " codepoints") << " (" << out.size
              << (out.size == 1 ? " codepoint)\n" : " codepoints)\n");
    return;
  }
  std::cout << (c.name == "srem" ? "removed " : "added ") << out.changed << " (" << out.size
            << (out.size == 1 ? " member)\n" : " members)\n");
}

int run_update(session& s, const client_command& c, client::update u) {
  u.key = c.args.at(0);
  u.return_value = c.value;
  client::request req;
  req.body = u;
  auto r = s.call(std::move(req));
  if (!r) return fail(c.name, r.err());
  auto v = value_of(*r);
  if (r->code == errc::conflict) {
    std::cerr << "rumor " << c.name << ": conflict: " << r->message << "\n";
    if (v && *v) print_value(s.o, u.key, *v);
    return exit_conflict;
  }
  if (r->code != errc::ok) return fail(c.name, error{r->code, r->message});
  if (!v) return fail(c.name, v.err());
  if (r->values.empty() && r->outcome) {
    if (!r->message.empty()) std::cerr << "rumor " << c.name << ": " << r->message << "\n";  // value left out
    print_outcome(s.o, c, u.key, *r->outcome);
  } else {
    print_value(s.o, u.key, *v);
  }
  return exit_ok;
}

int run_get(session& s, const client_command& c) {
  auto path = client::parse_field_path(c.field);
  if (!path) return usage(c.name, path.err().message);
  client::get g{c.args.at(0)};
  g.path = *path;
  if (c.name == "get" && path->empty()) {
    // A big set or map is read page by page from the start: the node then reads one page at a
    // time from its records, never the whole of it (its size is read from its header).
    client::get size = g;
    size.view = client::view_kind::size;
    auto view = fetch_view(s.caller(), size);
    if (view && (view->type == crdt::type_tag::or_set || view->type == crdt::type_tag::or_map) &&
        view->size > whole_page_limit) {
      auto printed = print_whole(s.caller(), s.o.json, g, std::cout);
      if (!printed) return fail(c.name, printed.err());
      if (*printed) return exit_ok;
    }
  }
  client::request req;
  req.body = g;
  auto r = s.call(std::move(req));
  if (!r) return fail(c.name, r.err());
  if (r->code == errc::too_large && c.name == "get") {
    // Too big for one frame: a set or map is read page by page (anything else cannot be that big).
    auto printed = print_whole(s.caller(), s.o.json, g, std::cout);
    if (!printed) return fail(c.name, printed.err());
    if (!*printed) print_value(s.o, c.args[0], std::nullopt);
    return exit_ok;
  }
  if (r->code != errc::ok) return fail(c.name, error{r->code, r->message});
  auto v = value_of(*r);
  if (!v) return fail(c.name, v.err());
  if (c.name == "mvget" && *v && (*v)->type() != crdt::type_tag::mv_register)
    return fail(c.name, error{errc::type_mismatch, "'" + c.args[0] + "' holds a " +
                                                       std::string(crdt::to_string((*v)->type())) +
                                                       ", not an mv_register"});
  print_value(s.o, c.args[0], *v);
  return exit_ok;
}

// text KEY: the text as it is (a document pipes into a file unchanged; a newline is added only on
// a terminal), with --context its context on stderr; --json {"key","type","value","context"}.
int run_text(session& s, const client_command& c) {
  client::request req;
  req.body = client::get{c.args.at(0)};
  auto r = s.call(std::move(req));
  if (!r) return fail(c.name, r.err());
  if (r->code != errc::ok) return fail(c.name, error{r->code, r->message});
  std::optional<crdt::value> v;
  for (const auto& kv : r->values) {
    auto d = crdt::decode(kv.value);
    if (!d) return fail(c.name, error{errc::decode_error, "the node sent an undecodable value: " + d.err().message});
    v = std::move(*d);
  }
  if (v && v->type() != crdt::type_tag::text)
    return fail(c.name, error{errc::type_mismatch, "'" + c.args[0] + "' holds a " +
                                                       std::string(crdt::to_string(v->type())) + ", not a text"});
  std::string content = v ? v->get_if<crdt::text>()->str() : std::string();
  std::string context = client::context_to_string(v ? v->context() : crdt::dot_context{});
  if (s.o.json) {
    std::cout << "{\"key\":" << json_string(c.args[0]) << ",\"type\":\"text\",\"value\":" << json_string(content)
              << ",\"context\":\"" << context << "\"}\n";
    return exit_ok;
  }
  std::cout << content;
  if (::isatty(STDOUT_FILENO) && (content.empty() || content.back() != '\n')) std::cout << "\n";
  std::cout.flush();
  if (c.show_context) std::cerr << "context " << context << "\n";
  return exit_ok;
}

// sismember KEY MEMBER / scard KEY / smembers KEY [--after M] [--limit N], each with [--field a.b].
int run_collection(session& s, const client_command& c) {
  auto path = client::parse_field_path(c.field);
  if (!path) return usage(c.name, path.err().message);
  client::get g{c.args.at(0)};
  g.path = *path;
  const std::string& key = c.args[0];
  if (c.name == "smembers") {
    g.after = c.after;
    if (auto st = print_pages(s.caller(), s.o.json, g, c.limit, std::cout); !st) return fail(c.name, st.err());
    return exit_ok;
  }
  g.view = c.name == "sismember" ? client::view_kind::member : client::view_kind::size;
  if (c.name == "sismember") g.member = c.args.at(1);
  auto v = fetch_view(s.caller(), g);
  if (!v) return fail(c.name, v.err());
  if (c.name == "sismember") {
    if (s.o.json)
      std::cout << "{\"key\":" << json_string(key) << ",\"member\":" << json_string(g.member)
                << ",\"contains\":" << (v->contains ? "true" : "false") << "}\n";
    else
      std::cout << (v->contains ? "true" : "false") << "\n";
  } else if (s.o.json) {
    std::cout << "{\"key\":" << json_string(key) << ",\"size\":" << v->size << "}\n";
  } else {
    std::cout << v->size << "\n";
  }
  return exit_ok;
}

int run_keys(session& s, const client_command& c) {
  client::request req;
  req.body = client::keys{c.args.empty() ? std::string() : c.args[0], 100000};
  auto r = s.call(std::move(req));
  if (!r) return fail(c.name, r.err());
  if (r->code != errc::ok) return fail(c.name, error{r->code, r->message});
  for (const auto& k : r->key_list) {
    if (s.o.json)
      std::cout << "{\"key\":" << json_string(k.key) << ",\"type\":" << json_string(crdt::to_string(k.type)) << "}\n";
    else
      std::cout << k.key << "\t" << crdt::to_string(k.type) << "\n";
  }
  return exit_ok;
}

int run_watch(session& s, const client_command& c) {
  client::request req;
  req.id = s.conn.next_id();
  // With set changes: a big set's (map's) events say what joined and left (and changed), not its whole value.
  req.body = client::watch{c.args.empty() ? std::string() : c.args[0], true, true};
  auto r = s.conn.call(req, connect_timeout_ms);
  if (!r) return fail(c.name, r.err());
  if (r->code != errc::ok) return fail(c.name, error{r->code, r->message});
  if (!s.o.json) std::cerr << "watching '" << (c.args.empty() ? "" : c.args[0]) << "' (Ctrl-C stops)\n";
  while (true) {
    auto m = s.conn.next(1000);
    if (!m) return fail(c.name, m.err());
    if (!*m) continue;
    const auto* e = std::get_if<client::event>(&**m);
    if (!e) continue;
    std::optional<crdt::value> v;
    if (!e->value.empty())
      if (auto d = crdt::decode(e->value)) v = std::move(*d);
    if (s.o.json) {
      char origin[17];
      std::snprintf(origin, sizeof origin, "%llx", static_cast<unsigned long long>(e->origin));
      std::cout << client::render_event_json(e->key, v ? &*v : nullptr, origin, e->set ? &*e->set : nullptr,
                                             e->value_omitted)
                << std::endl;
    } else if (e->value_omitted && e->set) {
      std::cout << e->key << ": " << client::render_text(*e->set) << std::endl;
    } else {
      std::cout << e->key << " = " << (v ? client::render_text(*v) : "(deleted)") << std::endl;
    }
  }
}

const char* status_name(uint8_t s) { return client::member_status_name(s); }

int run_members(session& s, const client_command& c) {
  client::request req;
  req.body = client::members{};
  auto r = s.call(std::move(req));
  if (!r) return fail(c.name, r.err());
  if (r->code != errc::ok) return fail(c.name, error{r->code, r->message});
  for (const auto& m : r->member_list) {
    char id[17];
    std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(m.id));
    if (s.o.json)
      std::cout << "{\"id\":\"" << id << "\",\"address\":" << json_string(m.address) << ",\"status\":\""
                << status_name(m.status) << "\",\"incarnation\":" << m.incarnation << "}\n";
    else
      std::cout << id << "  " << m.address << "  " << status_name(m.status) << "  incarnation " << m.incarnation
                << "\n";
  }
  return exit_ok;
}

int run_status(session& s, const client_command& c) {
  client::request req;
  req.body = client::status{};
  auto r = s.call(std::move(req));
  if (!r) return fail(c.name, r.err());
  if (r->code != errc::ok) return fail(c.name, error{r->code, r->message});
  if (!r->node) return fail(c.name, error{errc::decode_error, "the node sent no status"});
  if (s.o.json) std::cout << client::render_status_json(*r->node) << "\n";
  else std::cout << client::render_status_text(*r->node);
  return exit_ok;
}

// Prints a compare-and-set key's value: escaped for a terminal like a register's value (render.hpp),
// or JSON {"key","type":"cas","value"[,"applied"]}.
void print_lane_value(const client_options& o, const std::string& key, const std::optional<std::string>& v,
                      std::optional<bool> applied) {
  if (o.json) {
    std::cout << "{\"key\":" << json_string(key) << ",\"type\":\"cas\",\"value\":" << (v ? json_string(*v) : "null");
    if (applied) std::cout << ",\"applied\":" << (*applied ? "true" : "false");
    std::cout << "}\n";
  } else {
    std::cout << (v ? client::text_escape(*v) : "(none)") << "\n";
  }
}

int lane_failure(const std::string& what, const std::string& key, const client::response& r) {
  std::cerr << "rumor " << what << ": " << r.message << "\n";
  if (r.code == errc::timeout)
    std::cerr << "  (the outcome is unknown: read the key with `rumor lget " << key
              << "` before retrying; a majority of the --cas-voters must be up)\n";
  else if (r.code == errc::unavailable)
    std::cerr << "  (nothing was changed; retry when a majority of the --cas-voters is reachable)\n";
  return exit_code_of(r.code);
}

// cas KEY EXPECTED NEW | cas KEY --absent NEW | cas KEY EXPECTED --delete | lget KEY
int run_lane(session& s, const client_command& c, client::request req, const std::string& key) {
  req.timeout_ms = s.o.timeout_ms;
  auto r = s.conn.call(std::move(req), uint64_t{s.o.timeout_ms} + 2000);
  if (!r) return fail(c.name, r.err());
  std::optional<std::string> v;
  if (!r->values.empty()) v = r->values.front().value;
  if (r->code == errc::conflict) {
    std::cerr << "rumor cas: conflict: " << client::text_escape(key) << " holds "
              << (v ? client::text_escape(*v, true) : std::string("no value")) << "; nothing changed\n";
    print_lane_value(s.o, key, v, false);
    return exit_conflict;
  }
  if (r->code != errc::ok) return lane_failure(c.name, key, *r);
  print_lane_value(s.o, key, v, c.name == "cas" ? std::optional<bool>(true) : std::nullopt);
  return exit_ok;
}

}  // namespace

namespace {

// The field types `del --type` accepts: the CLI's words for them, and the type names.
std::optional<crdt::type_tag> field_type_of(const std::string& s) {
  if (s == "counter") return crdt::type_tag::pn_counter;
  if (s == "register") return crdt::type_tag::lww_register;
  if (s == "set") return crdt::type_tag::or_set;
  if (s == "map") return crdt::type_tag::or_map;
  if (s == "flag") return crdt::type_tag::ew_flag;
  auto t = crdt::parse_type_tag(s);
  if (t == crdt::type_tag::text) return std::nullopt;  // a map field is never a text
  return t;
}

// del KEY --field a.b [--type T]: removes the field a.b of the map KEY (as observed here: a
// concurrent write of it elsewhere survives). A map field is a (name, type) pair, so the removal
// names the type; without --type it is read first, and a name holding several types needs one.
// A field that is not there is nothing to delete (exit 0, like del of an absent key).
int run_del_field(session& s, const client_command& c, client::update u) {
  const std::string& key = c.args.at(0);
  auto path = client::parse_field_path(c.field);
  if (!path) return usage(c.name, "--field: " + path.err().message);
  u.key = key;
  u.path = *path;
  if (!c.type.empty()) {
    auto t = field_type_of(c.type);
    if (!t)
      return usage(c.name, "--type: unknown field type '" + c.type +
                               "' (counter, register, mv_register, set, map, flag, g_counter, pn_counter, "
                               "lww_register, or_set, or_map, ew_flag)");
    u.type = *t;
  } else {
    client::get g{key};
    g.path = *path;
    client::request req;
    req.body = g;
    auto r = s.call(std::move(req));
    if (!r) return fail(c.name, r.err());
    if (r->code != errc::ok) return fail(c.name, error{r->code, r->message});
    std::vector<crdt::type_tag> types;
    for (const auto& kv : r->values) {
      auto v = crdt::decode(kv.value);
      if (!v) return fail(c.name, error{errc::decode_error, "the node sent an undecodable value: " + v.err().message});
      if (!v->holds_nothing()) types.push_back(v->type());
    }
    if (types.empty()) {
      if (!s.o.json) std::cout << "nothing to delete: '" << key << "' has no field " << c.field << "\n";
      else std::cout << "{\"key\":" << json_string(key) << ",\"field\":" << json_string(c.field) << ",\"deleted\":false}\n";
      return exit_ok;
    }
    if (types.size() > 1) {
      std::string names;
      for (auto t : types) names += std::string(names.empty() ? "" : ", ") + std::string(crdt::to_string(t));
      return usage(c.name, "the field " + c.field + " of '" + key + "' holds several types (" + names +
                               "): say which with --type");
    }
    u.type = types.front();
  }
  client::request req;
  req.body = u;
  auto r = s.call(std::move(req));
  if (!r) return fail(c.name, r.err());
  if (r->code != errc::ok) return fail(c.name, error{r->code, r->message});
  const std::string type_name(crdt::to_string(u.type));
  if (!s.o.json) std::cout << "deleted field " << c.field << " (" << type_name << ")\n";
  else
    std::cout << "{\"key\":" << json_string(key) << ",\"field\":" << json_string(c.field) << ",\"type\":"
              << json_string(type_name) << ",\"deleted\":true}\n";
  return exit_ok;
}

}  // namespace

int run_client(const client_options& o, const client_command& c) {
  // Argument checks first: a usage error never needs a node.
  auto need = [&](size_t min, size_t max, const char* shape) -> std::optional<int> {
    if (c.args.size() < min || c.args.size() > max) return usage(c.name, std::string("usage: rumor ") + c.name + " " + shape);
    return std::nullopt;
  };
  client::update u;
  const std::string& n = c.name;
  std::optional<int> bad;
  if (n == "get" || n == "mvget" || n == "del" || n == "text") bad = need(1, 1, "KEY");
  else if (n == "splice") {
    bad = need(3, 4, "KEY POS DEL [TEXT]");
    if (!bad) {
      auto pos = parse_int(c.args[1]), del = parse_int(c.args[2]);
      if (!pos || *pos < 0) return usage(n, "POS must be a non-negative integer (a codepoint position), not '" + c.args[1] + "'");
      if (!del || *del < 0) return usage(n, "DEL must be a non-negative integer (codepoints to delete), not '" + c.args[2] + "'");
      u.op = client::op_kind::splice;
      u.type = crdt::type_tag::text;
      u.position = static_cast<uint64_t>(*pos);
      u.delete_count = static_cast<uint64_t>(*del);
      if (c.args.size() == 4) u.value = c.args[3];
      if (u.delete_count == 0 && u.value.empty()) return usage(n, "nothing to do: DEL is 0 and there is no TEXT");
      if (!c.context.empty())
        if (auto s = client::condition_on(u, c.context); !s)
          return usage(n, "--context: " + s.err().message + " (pass the context printed by rumor text --context)");
    }
  }
  else if (n == "incr" || n == "decr") {
    bad = need(1, 2, "KEY [N]");
    if (!bad) {
      int64_t by = 1;
      if (c.args.size() == 2) {
        auto p = parse_int(c.args[1]);
        if (!p || *p < 0) return usage(n, "N must be a non-negative integer, not '" + c.args[1] + "'");
        by = *p;
      }
      u.op = client::op_kind::counter_add;
      u.type = crdt::type_tag::pn_counter;
      u.amount = n == "incr" ? by : -by;
    }
  } else if (n == "set" || n == "mvput") {
    bad = need(2, 2, "KEY VALUE");
    u.op = n == "set" ? client::op_kind::register_set : client::op_kind::mv_put;
    u.type = n == "set" ? crdt::type_tag::lww_register : crdt::type_tag::mv_register;
    if (!bad && n == "mvput") {
      u.value = c.args[1];
      if (!c.context.empty())
        if (auto s = client::condition_on(u, c.context); !s)
          return usage(n, "--context: " + s.err().message + " (pass the context printed by mvget)");
    } else if (!bad) {
      u.value = c.args[1];
    }
  } else if (n == "sadd" || n == "srem") {
    bad = need(2, SIZE_MAX, "KEY MEMBER...");
    u.op = n == "sadd" ? client::op_kind::set_add : client::op_kind::set_remove;
    u.type = crdt::type_tag::or_set;
    if (!bad) u.members.assign(c.args.begin() + 1, c.args.end());
  } else if (n == "flag") {
    bad = need(2, 2, "KEY on|off");
    if (!bad && c.args[1] != "on" && c.args[1] != "off") return usage(n, "the flag value must be on or off, not '" + c.args[1] + "'");
    u.op = client::op_kind::flag_set;
    u.type = crdt::type_tag::ew_flag;
    if (!bad) u.flag = c.args[1] == "on";
  } else if (n == "sismember") {
    bad = need(2, 2, "KEY MEMBER [--field a.b]");
  } else if (n == "scard") {
    bad = need(1, 1, "KEY [--field a.b]");
  } else if (n == "smembers") {
    bad = need(1, 1, "KEY [--after MEMBER] [--limit N] [--field a.b]");
  } else if (n == "keys" || n == "watch") {
    bad = need(0, 1, "[PREFIX]");
  } else if (n == "members" || n == "status") {
    bad = need(0, 0, "");
  } else if (n == "lget") {
    bad = need(1, 1, "KEY");
  } else if (n == "cas") {
    if (c.absent && c.remove) return usage(n, "--absent and --delete do not go together");
    if (c.absent) bad = need(2, 2, "KEY --absent NEW");
    else if (c.remove) bad = need(2, 2, "KEY EXPECTED --delete");
    else bad = need(3, 3, "KEY EXPECTED NEW   (or: KEY --absent NEW, KEY EXPECTED --delete)");
  } else {
    return usage(n, "unknown command");
  }
  if (bad) return *bad;
  if (n == "del") u.op = client::op_kind::remove_key;
  if (!c.type.empty() && (n != "del" || c.field.empty())) return usage(n, "--type goes with del --field only");
  if (!c.field.empty() && (n == "incr" || n == "decr" || n == "set" || n == "sadd" || n == "srem" || n == "flag")) {
    // The update applies to the nested map field a.b of KEY's map (created as needed).
    auto path = client::parse_field_path(c.field);
    if (!path) return usage(n, "--field: " + path.err().message);
    u.path = std::move(*path);
  }

  std::string address = o.connect;
  if (address.empty()) {
    const char* env = std::getenv("RUMOR_CONNECT");
    address = env && *env ? env : "127.0.0.1:7400";
  }
  auto conn = client::connection::connect(address, connect_timeout_ms, o.credentials);
  if (!conn) return fail(n, conn.err());
  session s{o, std::move(*conn)};

  if (n == "get" || n == "mvget") return run_get(s, c);
  if (n == "text") return run_text(s, c);
  if (n == "splice" && s.conn.node_hello().version < 5)
    return fail(n, error{errc::unsupported_version, "node " + address + " speaks client protocol version " +
                                                        std::to_string(s.conn.node_hello().version) +
                                                        ", which has no text type (version 5 has): upgrade the node"});
  if (n == "sismember" || n == "scard" || n == "smembers") return run_collection(s, c);
  if (n == "lget") {
    client::request req;
    req.body = client::lget{c.args[0]};
    return run_lane(s, c, std::move(req), c.args[0]);
  }
  if (n == "cas") {
    client::cas body;
    body.key = c.args[0];
    if (!c.absent) body.expected = c.args[1];
    if (!c.remove) body.value = c.args.back();
    client::request req;
    req.body = std::move(body);
    return run_lane(s, c, std::move(req), c.args[0]);
  }
  if (n == "keys") return run_keys(s, c);
  if (n == "watch") return run_watch(s, c);
  if (n == "members") return run_members(s, c);
  if (n == "status") return run_status(s, c);
  if (n == "del" && !c.field.empty()) return run_del_field(s, c, std::move(u));
  if (n == "del") {
    u.key = c.args[0];
    client::request req;
    req.body = u;
    auto r = s.call(std::move(req));
    if (!r) return fail(n, r.err());
    if (r->code != errc::ok) return fail(n, error{r->code, r->message});
    if (!o.json) std::cout << "deleted\n";
    else std::cout << "{\"key\":" << json_string(u.key) << ",\"deleted\":true}\n";
    return exit_ok;
  }
  return run_update(s, c, std::move(u));
}

}  // namespace rumor::cli
