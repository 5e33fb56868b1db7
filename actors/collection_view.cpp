#include "actors/collection_view.hpp"

#include <algorithm>
#include <span>

#include "crdt/codec.hpp"

namespace rumor::actors {

namespace {

using crdt::field_key;
using crdt::map_store;
using crdt::type_tag;
using set_store = crdt::or_set::store_type;

error mismatch(std::string m) { return error{errc::type_mismatch, std::move(m)}; }

// The key's or_map, if it holds one with something in it.
const crdt::or_map* root_map(const std::vector<crdt::value>& key_values) {
  for (const auto& v : key_values)
    if (const auto* m = v.get_if<crdt::or_map>(); m && !v.holds_nothing()) return m;
  return nullptr;
}

bool holds_other_than_map(const std::vector<crdt::value>& key_values) {
  return std::any_of(key_values.begin(), key_values.end(),
                     [&](const crdt::value& v) { return !v.holds_nothing() && v.type() != type_tag::or_map; });
}

// The map store reached by the field names `names` (each a field of type or_map) from `m`;
// nullptr when one of them is absent.
const map_store* map_at(const map_store* m, std::span<const std::string> names) {
  for (const auto& name : names) {
    if (!m) return nullptr;
    const crdt::nested_store* f = m->find(field_key{name, type_tag::or_map});
    if (!f) return nullptr;
    m = &std::get<map_store>(f->variant());
  }
  return m;
}

// The first field called `name` in `m` (fields are ordered by (name, type)).
map_store::map_type::const_iterator first_named(const map_store& m, std::string_view name) {
  return m.entries().lower_bound(field_key{std::string(name), type_tag::g_counter});
}

// Where a get's view reads: the set or map store there (at most one of them), or nothing.
struct place {
  const set_store* set = nullptr;
  const map_store* map = nullptr;
  const crdt::dot_context* ctx = nullptr;  // the context the stores' values are read with
  const crdt::or_map* key_map = nullptr;   // the key's map when `map` is it (its size counts the
                                           // fields a window onto it did not load: or_map::window)
};

result<place> locate(const std::vector<crdt::value>& key_values, const std::vector<std::string>& path) {
  place p;
  if (path.empty()) {
    for (const auto& v : key_values) {
      if (v.holds_nothing()) continue;
      if (const auto* s = v.get_if<crdt::or_set>(); s && !p.set) p = place{&s->store(), nullptr, &s->context()};
      if (const auto* m = v.get_if<crdt::or_map>(); m && !p.set && !p.map) p = place{nullptr, &m->store(), &m->context(), m};
    }
    for (const auto& v : key_values)
      if (!p.set && !p.map && !v.holds_nothing())
        return mismatch("the key holds a " + std::string(crdt::to_string(v.type())) + ", not an or_set or or_map");
    return p;
  }
  const crdt::or_map* root = root_map(key_values);
  if (!root) {
    if (holds_other_than_map(key_values))
      return mismatch("the key does not hold an or_map, so it has no fields");
    return p;
  }
  const map_store* m = map_at(&root->store(), std::span(path).first(path.size() - 1));
  if (!m) return p;
  bool named = false;  // some field has the name
  for (auto it = first_named(*m, path.back()); it != m->entries().end() && it->first.name == path.back(); ++it) {
    named = true;
    const auto& v = it->second.variant();
    if (const auto* s = std::get_if<set_store>(&v)) return place{s, nullptr, &root->context()};
    if (const auto* nm = std::get_if<map_store>(&v); nm && !p.map) p = place{nullptr, nm, &root->context()};
  }
  if (named && !p.map) return mismatch("the field is neither an or_set nor an or_map");
  return p;
}

client::key_value field_entry(const field_key& f, const crdt::nested_store& s, const crdt::dot_context& ctx) {
  crdt::value v = crdt::value_of(s, ctx);
  client::key_value kv{f.name, crdt::encode(v), {}};
  if (const auto* mv = v.get_if<crdt::mv_register>()) kv.context = crdt::encode_context(mv->read_context());
  return kv;
}

}  // namespace

std::vector<crdt::value> values_at(const std::vector<crdt::value>& key_values, const std::vector<std::string>& path) {
  std::vector<crdt::value> out;
  if (path.empty()) {
    for (const auto& v : key_values)
      if (!v.holds_nothing()) out.push_back(v);
    return out;
  }
  const crdt::or_map* root = root_map(key_values);
  if (!root) return out;
  const map_store* m = map_at(&root->store(), std::span(path).first(path.size() - 1));
  if (!m) return out;
  for (auto it = first_named(*m, path.back()); it != m->entries().end() && it->first.name == path.back(); ++it)
    out.push_back(crdt::value_of(it->second, root->context()));
  return out;
}

status check_view(const client::get& g) {
  if (g.view == client::view_kind::page && (g.limit == 0 || g.limit > client::max_page_limit))
    return error{errc::invalid_argument,
                 "a page limit must be 1.." + std::to_string(client::max_page_limit) + ", not " + std::to_string(g.limit)};
  return {};
}

result<client::collection_view> view_of(const std::vector<crdt::value>& key_values, const client::get& g) {
  if (auto ok = check_view(g); !ok) return ok.err();
  auto p = locate(key_values, g.path);
  if (!p) return p.err();
  client::collection_view out;
  if (p->set) {
    const auto& entries = p->set->entries();
    out.type = type_tag::or_set;
    out.size = entries.size();
    if (g.view == client::view_kind::member) out.contains = entries.find(g.member) != entries.end();
    if (g.view == client::view_kind::page) {
      auto it = g.after ? entries.upper_bound(*g.after) : entries.begin();
      for (; it != entries.end() && out.members.size() < g.limit; ++it) out.members.push_back(it->first);
      out.more = it != entries.end();
    }
  } else if (p->map) {
    const auto& entries = p->map->entries();
    out.type = type_tag::or_map;
    out.size = p->key_map ? p->key_map->size() : entries.size();
    if (g.view == client::view_kind::member) {
      auto it = first_named(*p->map, g.member);
      out.contains = it != entries.end() && it->first.name == g.member;
    }
    if (g.view == client::view_kind::page) {
      auto it = entries.begin();
      if (g.after) {
        it = first_named(*p->map, *g.after);
        while (it != entries.end() && it->first.name == *g.after) ++it;
      }
      // A page ends between names, never between the types of one name.
      for (; it != entries.end(); ++it) {
        if (out.fields.size() >= g.limit && it->first.name != out.fields.back().key) break;
        out.fields.push_back(field_entry(it->first, it->second, *p->ctx));
      }
      out.more = it != entries.end();
    }
  }
  return out;
}

outcome_probe::outcome_probe(const client::update& u, crdt::type_tag leaf_type)
    : op_(u.op), leaf_type_(leaf_type), path_(u.path), members_(u.members) {
  std::sort(members_.begin(), members_.end());
  members_.erase(std::unique(members_.begin(), members_.end()), members_.end());
}

outcome_probe::seen outcome_probe::observe(const crdt::value& v) const {
  seen s;
  const bool set_op = op_ == client::op_kind::set_add || op_ == client::op_kind::set_remove;
  if (path_.empty()) {
    if (set_op) {
      if (const auto* set = v.get_if<crdt::or_set>()) {
        s.size = set->size();
        for (const auto& m : members_) s.present += set->contains(m) ? 1 : 0;
      }
    } else if (op_ == client::op_kind::remove_key) {
      s.present = v.holds_nothing() ? 0 : 1;
    }
    return s;
  }
  const auto* root = v.get_if<crdt::or_map>();
  if (!root) return s;
  const map_store* m = map_at(&root->store(), std::span(path_).first(path_.size() - 1));
  if (!m) return s;
  const crdt::nested_store* f = m->find(field_key{path_.back(), leaf_type_});
  if (set_op) {
    if (!f) return s;
    const auto& set = std::get<set_store>(f->variant());
    s.size = set.size();
    for (const auto& member : members_) s.present += set.find(member) ? 1 : 0;
  } else {
    // At the top a window's size (or_map::window) counts the fields it did not load.
    s.size = path_.size() == 1 ? root->size() : m->size();
    s.present = f ? 1 : 0;
  }
  return s;
}

client::update_outcome outcome_probe::after(const crdt::value& key_value) const {
  const bool scalar = path_.empty() && op_ != client::op_kind::set_add && op_ != client::op_kind::set_remove &&
                      op_ != client::op_kind::remove_key;
  if (scalar) return {};
  seen now = observe(key_value);
  uint64_t changed = now.present > before_.present ? now.present - before_.present : before_.present - now.present;
  return client::update_outcome{changed, now.size};
}

}  // namespace rumor::actors
