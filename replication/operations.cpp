#include "replication/operations.hpp"

#include <limits>

namespace rumor::replication::ops {

namespace {
error wrong_type(crdt::type_tag want, const crdt::value& v) {
  return error{errc::type_mismatch, "expected a " + std::string(crdt::to_string(want)) + ", found a " +
                                        std::string(crdt::to_string(v.type()))};
}
}  // namespace

mutator counter_add(int64_t by) {
  return [by](crdt::value& v, node_id self, crdt::hlc_timestamp) -> result<crdt::value> {
    auto* c = v.get_if<crdt::pn_counter>();
    if (!c) return wrong_type(crdt::type_tag::pn_counter, v);
    auto d = c->add(self, by);
    if (!d) return d.err();
    return crdt::value{std::move(*d)};
  };
}

mutator grow_counter(uint64_t by) {
  return [by](crdt::value& v, node_id self, crdt::hlc_timestamp) -> result<crdt::value> {
    auto* c = v.get_if<crdt::g_counter>();
    if (!c) return wrong_type(crdt::type_tag::g_counter, v);
    auto d = c->increment(self, by);
    if (!d) return d.err();
    return crdt::value{std::move(*d)};
  };
}

mutator register_set(std::string value) {
  return [value = std::move(value)](crdt::value& v, node_id self, crdt::hlc_timestamp now) -> result<crdt::value> {
    auto* r = v.get_if<crdt::lww_register>();
    if (!r) return wrong_type(crdt::type_tag::lww_register, v);
    return crdt::value{r->assign(self, now, value)};
  };
}

mutator mv_put(std::string value, std::optional<crdt::dot_context> seen, bool conditional) {
  return [value = std::move(value), seen = std::move(seen), conditional](
             crdt::value& v, node_id self, crdt::hlc_timestamp) -> result<crdt::value> {
    auto* r = v.get_if<crdt::mv_register>();
    if (!r) return wrong_type(crdt::type_tag::mv_register, v);
    if (!conditional) return crdt::value{r->assign(self, value, seen)};
    if (!seen) return error{errc::invalid_argument, "a conditional put needs the context of an earlier read"};
    auto out = r->assign_if(self, value, *seen);
    if (auto* c = std::get_if<crdt::mv_conflict>(&out))
      return error{errc::conflict, std::to_string(c->siblings.size()) +
                                       " value(s) were written since the given context was read; "
                                       "read again (mvget) and retry with the new context"};
    return crdt::value{std::get<crdt::mv_register>(std::move(out))};
  };
}

mutator set_add(std::vector<std::string> members) {
  return [members = std::move(members)](crdt::value& v, node_id self, crdt::hlc_timestamp) -> result<crdt::value> {
    auto* s = v.get_if<crdt::or_set>();
    if (!s) return wrong_type(crdt::type_tag::or_set, v);
    crdt::or_set delta;
    for (const auto& m : members) delta.join(s->add(self, m));
    return crdt::value{std::move(delta)};
  };
}

mutator set_remove(std::vector<std::string> members) {
  return [members = std::move(members)](crdt::value& v, node_id, crdt::hlc_timestamp) -> result<crdt::value> {
    auto* s = v.get_if<crdt::or_set>();
    if (!s) return wrong_type(crdt::type_tag::or_set, v);
    crdt::or_set delta;
    for (const auto& m : members) delta.join(s->remove(m));
    return crdt::value{std::move(delta)};
  };
}

mutator flag_set(bool on) {
  return [on](crdt::value& v, node_id self, crdt::hlc_timestamp) -> result<crdt::value> {
    auto* f = v.get_if<crdt::ew_flag>();
    if (!f) return wrong_type(crdt::type_tag::ew_flag, v);
    return crdt::value{on ? f->enable(self) : f->disable()};
  };
}

mutator text_splice(uint64_t pos, uint64_t del, std::string ins, std::optional<crdt::dot_context> seen, bool conditional) {
  return [pos, del, ins = std::move(ins), seen = std::move(seen), conditional](
             crdt::value& v, node_id self, crdt::hlc_timestamp) -> result<crdt::value> {
    auto* t = v.get_if<crdt::text>();
    if (!t) return wrong_type(crdt::type_tag::text, v);
    if (conditional) {
      if (!seen) return error{errc::invalid_argument, "a conditional splice needs the context of an earlier read"};
      if (t->changed_since(*seen, self))
        return error{errc::conflict, "the text changed since the given context was read; read again and retry"};
    }
    auto d = t->splice(self, pos, del, ins);
    if (!d) return d.err();
    return crdt::value{std::move(*d)};
  };
}

mutator map_update(std::string field, crdt::type_tag field_type, mutator inner) {
  return [field = std::move(field), field_type, inner = std::move(inner)](
             crdt::value& v, node_id self, crdt::hlc_timestamp now) -> result<crdt::value> {
    auto* m = v.get_if<crdt::or_map>();
    if (!m) return wrong_type(crdt::type_tag::or_map, v);
    // Run the inner mutator on the field as a standalone value of its type.
    auto run = [&](auto tag) -> result<crdt::or_map> {
      using T = typename decltype(tag)::type;
      return m->update<T>(field, [&](T& f) -> result<T> {
        crdt::value as_value{f};
        auto d = inner(as_value, self, now);
        if (!d) return d.err();
        const T* typed = d->template get_if<T>();
        if (!typed) return error{errc::type_mismatch, "map field operation produced another type"};
        return *typed;
      });
    };
    result<crdt::or_map> out = error{errc::invalid_argument, "unknown field type"};
    switch (field_type) {
      case crdt::type_tag::g_counter: out = run(std::type_identity<crdt::g_counter>{}); break;
      case crdt::type_tag::pn_counter: out = run(std::type_identity<crdt::pn_counter>{}); break;
      case crdt::type_tag::lww_register: out = run(std::type_identity<crdt::lww_register>{}); break;
      case crdt::type_tag::mv_register: out = run(std::type_identity<crdt::mv_register>{}); break;
      case crdt::type_tag::or_set: out = run(std::type_identity<crdt::or_set>{}); break;
      case crdt::type_tag::or_map: out = run(std::type_identity<crdt::or_map>{}); break;
      case crdt::type_tag::ew_flag: out = run(std::type_identity<crdt::ew_flag>{}); break;
      case crdt::type_tag::text: out = error{errc::invalid_argument, "a text cannot be a map field"}; break;
    }
    if (!out) return out.err();
    return crdt::value{std::move(*out)};
  };
}

mutator map_remove(std::string field, std::optional<crdt::type_tag> type) {
  return [field = std::move(field), type](crdt::value& v, node_id, crdt::hlc_timestamp) -> result<crdt::value> {
    auto* m = v.get_if<crdt::or_map>();
    if (!m) return wrong_type(crdt::type_tag::or_map, v);
    return crdt::value{type ? m->remove(field, *type) : m->remove(field)};
  };
}

mutator remove_key() {
  return [](crdt::value& v, node_id, crdt::hlc_timestamp) -> result<crdt::value> { return v.remove_observed(); };
}

}  // namespace rumor::replication::ops
