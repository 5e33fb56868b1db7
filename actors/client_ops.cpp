#include "actors/client_ops.hpp"

#include "actors/collection_view.hpp"
#include "crdt/codec.hpp"
#include "replication/operations.hpp"

namespace rumor::actors {

namespace {

namespace ops = replication::ops;

error bad(std::string m) { return error{errc::invalid_argument, std::move(m)}; }

// An operation that implies one type must name that type: a request that says otherwise is
// malformed (before, registerSet with type gCounter silently stored an lwwRegister).
std::optional<error> type_refused(const client::update& u, crdt::type_tag want, std::string_view op) {
  if (u.type == want) return std::nullopt;
  return bad(std::string(op) + " needs type " + std::string(crdt::to_string(want)) + ", not " +
             std::string(crdt::to_string(u.type)));
}

// The context a conditional write (mvPut, splice) names: nullopt when the request has none.
result<std::optional<crdt::dot_context>> context_of(const client::update& u, const char* what) {
  std::optional<crdt::dot_context> seen;
  if (u.context) {
    auto c = crdt::decode_context(*u.context);
    if (!c) return bad("the context is not one a read returned: " + c.err().message);
    seen = std::move(*c);
  }
  if (u.conditional && !seen) return bad(std::string("a conditional ") + what + " needs the context of an earlier read");
  return seen;
}

// The mutator of the leaf operation (the key itself, or the last field of the path).
result<replication::mutator> leaf(const client::update& u) {
  using client::op_kind;
  using crdt::type_tag;
  std::optional<error> refused;
  switch (u.op) {
    case op_kind::register_set: refused = type_refused(u, type_tag::lww_register, "registerSet"); break;
    case op_kind::mv_put: refused = type_refused(u, type_tag::mv_register, "mvPut"); break;
    case op_kind::set_add: refused = type_refused(u, type_tag::or_set, "setAdd"); break;
    case op_kind::set_remove: refused = type_refused(u, type_tag::or_set, "setRemove"); break;
    case op_kind::flag_set: refused = type_refused(u, type_tag::ew_flag, "flagSet"); break;
    case op_kind::splice: refused = type_refused(u, type_tag::text, "splice"); break;
    default: break;
  }
  if (refused) return *refused;
  switch (u.op) {
    case op_kind::counter_add:
      if (u.type == type_tag::pn_counter) return ops::counter_add(u.amount);
      if (u.type == type_tag::g_counter) {
        if (u.amount < 0) return bad("a grow-only counter cannot be decremented; use a pn-counter key");
        return ops::grow_counter(static_cast<uint64_t>(u.amount));
      }
      return bad("counterAdd needs type g_counter or pn_counter, not " + std::string(crdt::to_string(u.type)));
    case op_kind::register_set:
      return ops::register_set(u.value);
    case op_kind::mv_put: {
      auto seen = context_of(u, "put");
      if (!seen) return seen.err();
      return ops::mv_put(u.value, std::move(*seen), u.conditional);
    }
    case op_kind::set_add:
      if (u.members.empty()) return bad("set add needs at least one member");
      return ops::set_add(u.members);
    case op_kind::set_remove:
      if (u.members.empty()) return bad("set remove needs at least one member");
      return ops::set_remove(u.members);
    case op_kind::flag_set:
      return ops::flag_set(u.flag);
    case op_kind::remove_key:
      return ops::remove_key();
    case op_kind::splice: {
      auto seen = context_of(u, "splice");
      if (!seen) return seen.err();
      if (u.delete_count == 0 && u.value.empty()) return bad("a splice must delete or insert something");
      return ops::text_splice(u.position, u.delete_count, u.value, std::move(*seen), u.conditional);
    }
  }
  return bad("unknown operation");
}

crdt::type_tag leaf_type(const client::update& u) {
  using client::op_kind;
  using crdt::type_tag;
  switch (u.op) {
    case op_kind::counter_add: return u.type;
    case op_kind::register_set: return type_tag::lww_register;
    case op_kind::mv_put: return type_tag::mv_register;
    case op_kind::set_add:
    case op_kind::set_remove: return type_tag::or_set;
    case op_kind::flag_set: return type_tag::ew_flag;
    case op_kind::remove_key: return u.type;
    case op_kind::splice: return type_tag::text;
  }
  return u.type;
}

}  // namespace

namespace {

bool grows(crdt::type_tag t) {
  return t == crdt::type_tag::or_set || t == crdt::type_tag::or_map || t == crdt::type_tag::text;
}

// The mutator of `u`, before any outcome is observed.
result<planned_update> plan_mutation(const client::update& u, crdt::type_tag key_type_for_delete) {
  if (u.key.empty()) return bad("empty key");
  if (u.path.empty() && u.op == client::op_kind::remove_key)
    return planned_update{key_type_for_delete, ops::remove_key(), {}};
  if (!u.path.empty() && u.op == client::op_kind::remove_key) {
    // Removes the last field of the path, (name, type), from its map: a field of another type
    // under that name stays.
    if (u.type == crdt::type_tag::text) return bad("a text cannot be a map field");
    replication::mutator m = ops::map_remove(u.path.back(), u.type);
    for (size_t i = u.path.size() - 1; i-- > 0;) m = ops::map_update(u.path[i], crdt::type_tag::or_map, std::move(m));
    return planned_update{crdt::type_tag::or_map, std::move(m), {}};
  }
  auto m = leaf(u);
  if (!m) return m.err();
  if (u.path.empty()) return planned_update{leaf_type(u), std::move(*m), {}};
  if (leaf_type(u) == crdt::type_tag::text) return bad("a text cannot be a map field; give it a key of its own");
  for (const auto& field : u.path)
    if (field.empty()) return bad("empty field name in the map path");
  replication::mutator inner = std::move(*m);
  crdt::type_tag inner_type = leaf_type(u);
  for (size_t i = u.path.size(); i-- > 0;) {
    inner = ops::map_update(u.path[i], inner_type, std::move(inner));
    inner_type = crdt::type_tag::or_map;
  }
  return planned_update{crdt::type_tag::or_map, std::move(inner), {}};
}

}  // namespace

result<planned_update> plan_update(const client::update& u, crdt::type_tag key_type_for_delete) {
  auto p = plan_mutation(u, key_type_for_delete);
  if (!p) return p;
  p->response.update_value = u.return_value || !grows(p->key_type);
  if (u.op == client::op_kind::splice && u.path.empty()) {
    // A text answers with what the splice did and its new length, not the whole text.
    auto outcome = std::make_shared<client::update_outcome>();
    p->response.outcome = outcome;
    p->mutate = [inner = std::move(p->mutate), outcome, del = u.delete_count](
                    crdt::value& current, replication::node_id self, crdt::hlc_timestamp now) -> result<crdt::value> {
      const crdt::text* t = current.get_if<crdt::text>();
      uint64_t before = t ? t->size() : 0;
      auto delta = inner(current, self, now);
      if (delta && (t = current.get_if<crdt::text>())) {
        uint64_t inserted = t->size() + del - before;
        *outcome = client::update_outcome{del + inserted, t->size()};
      }
      return delta;
    };
    return p;
  }
  const bool collection_op = !u.path.empty() || u.op == client::op_kind::set_add ||
                             u.op == client::op_kind::set_remove || u.op == client::op_kind::remove_key;
  if (!collection_op) return p;  // counters, registers, flags: their value says it all
  if (u.path.empty() && !p->response.update_value &&
      (u.op == client::op_kind::set_add || u.op == client::op_kind::set_remove))
    p->touches = u.members;
  // A map field's update reads and writes that top-level field only (its every type).
  if (!u.path.empty() && !p->response.update_value) p->touches = std::vector<std::string>{u.path.front()};
  auto probe = std::make_shared<outcome_probe>(u, leaf_type(u));
  auto outcome = std::make_shared<client::update_outcome>();
  p->response.outcome = outcome;
  p->mutate = [inner = std::move(p->mutate), probe, outcome](crdt::value& current, replication::node_id self,
                                                             crdt::hlc_timestamp now) -> result<crdt::value> {
    probe->before(current);
    auto delta = inner(current, self, now);
    if (delta) *outcome = probe->after(current);
    return delta;
  };
  return p;
}

std::optional<replication::set_view_request> set_view_of(const client::get& g) {
  if (g.path.empty() && g.view == client::view_kind::value) return std::nullopt;
  replication::set_view_request q;
  q.what = g.view == client::view_kind::size     ? replication::set_view_request::kind::size
           : g.view == client::view_kind::member ? replication::set_view_request::kind::member
           : g.view == client::view_kind::page   ? replication::set_view_request::kind::page
                                                 : replication::set_view_request::kind::value;
  q.path = g.path;
  q.member = g.member;
  q.after = g.after;
  q.limit = g.limit;
  return q;
}

response_plan plan_read(const client::get& g) {
  response_plan p;
  if (!g.path.empty() || g.view != client::view_kind::value) p.read = g;
  return p;
}

client::consistency to_client(replication::consistency c) {
  return static_cast<client::consistency>(static_cast<uint8_t>(c));
}

replication::consistency to_replication(client::consistency c) {
  switch (c) {
    case client::consistency::local: return replication::consistency::local;
    case client::consistency::majority: return replication::consistency::majority;
    case client::consistency::all: return replication::consistency::all;
  }
  return replication::consistency::local;
}

std::string context_bytes(const crdt::value& v) {
  if (const auto* mv = v.get_if<crdt::mv_register>()) return crdt::encode_context(mv->read_context());
  return crdt::encode_context(v.context());
}

namespace {
// What a response carries for `v`: its bytes, and for an mv_register its context (the only type
// whose operation takes one; the other types' responses stay as small as before).
client::key_value response_value(const crdt::value& v, std::string encoded = {}) {
  client::key_value kv{{}, encoded.empty() ? crdt::encode(v) : std::move(encoded), {}};
  if (v.get_if<crdt::mv_register>() || v.get_if<crdt::text>()) kv.context = context_bytes(v);  // for conditional writes
  return kv;
}
}  // namespace

client::response to_response(uint64_t id, const replication::reply& r, const response_plan& plan) {
  client::response out;
  out.id = id;
  if (!r.result) {
    out.code = r.result.err().code;
    out.message = r.result.err().message;
  }
  if (r.update) {
    if (plan.update_value) out.values.push_back(response_value(r.update->value, r.update->encoded));
    if (plan.outcome && r.result) out.outcome = *plan.outcome;
  } else if (plan.read && r.result) {
    if (r.set) {
      // Answered from the set's records (replica::read with a set_view_request).
      client::collection_view view;
      view.type = crdt::type_tag::or_set;
      view.size = r.set->size;
      view.contains = r.set->contains;
      view.members = r.set->members;
      view.more = r.set->more;
      out.collection = std::move(view);
    } else if (plan.read->view == client::view_kind::value) {
      for (const auto& v : values_at(r.values, plan.read->path)) out.values.push_back(response_value(v));
    } else if (auto view = view_of(r.values, *plan.read)) {
      out.collection = std::move(*view);
    } else {
      return error_response(id, view.err());
    }
  } else {
    // A deleted key is absent, like one never written: its value (kept until the tombstone is
    // collected) is not sent (client.capnp, GetRequest).
    for (const auto& v : r.values)
      if (!v.holds_nothing()) out.values.push_back(response_value(v));
  }
  return out;
}

client::response error_response(uint64_t id, const error& e) {
  client::response out;
  out.id = id;
  out.code = e.code;
  out.message = e.message;
  return out;
}

}  // namespace rumor::actors
