// replica, repair of big sets and maps by their elements (PROTOCOL.md, "Repair of big sets and
// maps by their elements"): within a reconciliation session, a key both replicas hold in different
// versions is fetched whole (replica_repair.cpp) — unless it is an or_set or or_map that travels in
// pages here (in_pages: set_recon_min_elements elements (fields) or more, or element records that
// pass set_recon_page_bytes in all). Such a collection is compared by its elements, so that one
// changed element of a collection of millions costs bytes in proportion to the difference.
// An or_map's elements are its top-level fields (map_records.hpp): a field is an element whose
// "dots" are every dot of its nested store. Every step below is written once, over the element kind
// (set_elements, map_elements); what is said of a set holds of a map with "field" for "element".
//
//   requester R                                  responder P
//   set_recon_request: IBLT of R's (element id,  ->
//     element hash) pairs (element_table)
//                                                <- set_recon_answer: the ids that differ, and P's
//                                                   elements with those ids + P's context (one
//                                                   snapshot of P), or undecoded (R asks again
//                                                   with 4x the cells), or too_big (those
//                                                   elements pass set_recon_max_answer_bytes:
//                                                   R fetches pages), or absent
//   joins them into its elements with those ids
//   (join_elements), then set_recon_answer        ->  P joins them likewise
//     (session 0): R's elements with those ids,
//     with R's context when it built its table
//     (not sent if they pass set_recon_max_answer_
//     bytes: P's own anti-entropy fetches them)
//
// Why joining only those elements is the whole join: every element outside the ids was equal in
// R's table and P's snapshot, so the or_set join leaves it as it is on both sides (dots of it are
// held by both). R takes P's whole context: P's snapshot holds each element live there, so a dot
// of P's context that R lacks is either of an element with a differing id (sent) or of one P no
// longer holds. P takes only the context R had when it built its table (plus the dots of the
// elements sent): R's elements may have gained dots since, from elsewhere, that P's answer did not
// cover. Both directions apply join_state's dead-dot rules to the elements they join.
//
// A table that still does not decode at set_recon_max_cells (default iblt_cells_for(
// full_sync_threshold)) cells gives way to pages (set_page): the responder's elements in member-key
// order, about set_recon_page_bytes at a time, each joined into our elements of the same key range
// with the page's context deciding removals, but our context gaining only the dots of the elements
// joined — it also covers elements of later pages, which must still be accepted. After the last
// page the set takes the first page's context and key vector: each dot in it is of an element the
// responder held then (brought by its page, if still held when that page was read) or had removed;
// then a table settles what changed here meanwhile (at most three rounds of pages).
// The requester adopts the responder's vector at the end, so it applies the removals it counts:
// join_elements(since) also joins our elements that gained dots after the table (late add
// deltas) which the answer's context covers.
// A request in flight is sent again after a gossip interval without an answer (tick) — a table
// as it was (an answer names the size of the table it answers; only the one in flight counts,
// with the context kept for it). A session
// ends (finish_repair) once its state_push is answered and every set is done; a step that fails to
// read the store abandons the session without finishing it (finishing claims everything the peer
// held).

// Why the argument holds for maps: a field's nested store is a dot store too (every nested type's
// store is a set of dots, each with a fixed payload, joined by dot presence against the shared
// context), so "an element equal on both sides stays as it is" and the dead-dot rules carry over.
// Loading a map window reads every type of the names it loads (load_map); the joins here restrict
// it to exactly the fields they join (restrict_window), as a set window holds exactly its members.

#include "replication/replica.hpp"

#include <algorithm>

#include "crdt/codec.hpp"
#include "replication/element_kinds.hpp"
#include "replication/map_records.hpp"
#include "replication/replica_internal.hpp"
#include "replication/set_records.hpp"
#include "replication/storage_key.hpp"
#include "replication/stored_value.hpp"

namespace rumor::replication {

using namespace detail;

namespace {

// The first table of a set: room for a few differing elements (2 pairs each), ~1 KB.
constexpr size_t first_set_pairs = 16;

// The key vector and context of a set or map record (a header, or an older build's whole record).
struct set_meta {
  version_vector kv;
  crdt::dot_context ctx;
};

template <class K>
result<set_meta> meta_of(const std::string& raw) {
  if (set_records::is_decomposed(raw)) {
    auto h = set_records::decode_header(raw);
    if (!h) return h.err();
    return set_meta{std::move(h->kv), std::move(h->ctx)};
  }
  auto whole = K::decode_whole(raw);
  if (!whole) return whole.err();
  return set_meta{std::move(whole->first), whole->second.context()};
}

}  // namespace

bool replica::compare_by_elements(const std::string& skey, recon_session& s) {
  auto raw = read_raw(skey);
  if (!raw || !*raw) return false;
  auto paged = in_pages(skey, **raw);  // false for anything but a set or map stored decomposed
  if (!paged || !*paged) return false;
  s.sets.emplace(skey, set_repair{iblt_cells_for(first_set_pairs), {}, {}});
  return true;
}

void replica::fetch_set_in_pages(recon_session& s, const std::string& skey) {
  auto [r, fresh] = s.sets.emplace(skey, set_repair{iblt_cells_for(first_set_pairs), {}, {}});
  if (!fresh) return;
  r->second.paged = true;
  r->second.create = true;
  ++stats_.sets_transferred_in_pages;
  (void)send_set_recon(s, skey);  // a page request: always sent
}

template <class K>
result<iblt> replica::element_table(const std::string& skey, const std::string& raw, size_t cells) const {
  iblt t(cells);
  if (!K::is_header(raw)) {
    auto whole = K::decode_whole(raw);
    if (!whole) return whole.err();
    for (const auto& [k, e] : whole->second.store().entries())
      t.insert(set_records::element_id(K::key_bytes(k)), set_records::element_hash(K::encode(k, e)));
    return t;
  }
  // The element records as stored: no decoding.
  auto st = scan_meta_range(persistence::key_range::with_prefix(set_records::element_prefix(set_records::set_id(skey))),
                            [&](std::string_view name, std::string_view bytes) {
                              t.insert(set_records::element_id(set_records::member_key_of(name)),
                                       set_records::element_hash(bytes));
                              return true;
                            });
  if (!st) return st.err();
  return t;
}

template <class K>
result<std::optional<std::string>> replica::elements_state(const std::string& skey, const std::string& raw,
                                                           const std::set<uint32_t>& ids,
                                                           const std::set<typename K::key_type>& named,
                                                           const version_vector& kv, crdt::dot_context ctx) const {
  using out = std::optional<std::string>;
  typename K::store_type chosen;
  size_t bytes = 0;  // the chosen element records'
  auto take = [&](typename K::key_type k, typename K::elem_type e) {
    e.for_each_dot([&](const crdt::dot& d) { ctx.insert(d); });
    chosen.set(std::move(k), std::move(e));
  };
  if (!K::is_header(raw)) {
    // An older build's whole record: it travels whole anyway (set_page reads it too).
    auto whole = K::decode_whole(raw);
    if (!whole) return whole.err();
    for (const auto& [k, e] : whole->second.store().entries())
      if (named.count(k) || ids.count(set_records::element_id(K::key_bytes(k)))) take(k, e);
  } else if (!ids.empty()) {
    // One pass over the element names; only the chosen records are decoded, and none once they
    // pass set_recon_max_answer_bytes.
    std::optional<error> bad;
    auto st = scan_meta_range(
        persistence::key_range::with_prefix(set_records::element_prefix(set_records::set_id(skey))),
        [&](std::string_view name, std::string_view bytes_of) {
          if (!ids.count(set_records::element_id(set_records::member_key_of(name)))) return true;
          bytes += bytes_of.size();
          if (bytes > config_.set_recon_max_answer_bytes) return false;
          auto el = K::decode(bytes_of);
          if (!el) {
            bad = el.err();
            return false;
          }
          take(std::move(el->first), std::move(el->second));
          return true;
        });
    if (!st) return st.err();
    if (bad) return *bad;
  }
  if (K::is_header(raw)) {
    const std::string id = set_records::set_id(skey);
    for (const auto& k : named) {
      if (bytes > config_.set_recon_max_answer_bytes) break;
      if (chosen.find(k)) continue;
      auto rec = read_meta(set_records::element_name(id, K::key_bytes(k)));
      if (!rec) return rec.err();
      if (!*rec) continue;
      bytes += (*rec)->size();
      auto el = K::decode(**rec);
      if (!el) return el.err();
      if (el->first == k) take(std::move(el->first), std::move(el->second));
    }
  }
  if (bytes > config_.set_recon_max_answer_bytes) return out{};
  return out{encode_stored(kv, crdt::encode(crdt::value{K::window(std::move(chosen), std::move(ctx), 0)}))};
}

bool detail::element_choice::chooses(std::string_view member_key) const {
  if (page) return member_key > after && (!last || member_key <= *last);
  return ids && ids->count(set_records::element_id(member_key));
}

template <class K>
result<replica::grown_elements<K>> replica::grown_since(const std::string& id, const typename K::value_type& answer,
                                                        const crdt::dot_context& since,
                                                        const element_choice& ours) const {
  // Such an element was equal to the responder's when the table was built, so the responder held
  // only its dots within `since` — the others it had seen removed. (Its vector, which this repair
  // adopts, counts those removals as applied here: they must be.)
  const crdt::dot_context& cp = answer.context();
  std::set<std::string> keys;  // member keys of our elements holding a dot in cp, not in since
  for (const auto& [node, top] : cp.compact_part().entries()) {
    uint64_t from = since.compact_part().get(node) + 1;
    if (from > top) continue;
    auto range = persistence::key_range::between(set_records::dot_name(id, {node, from}),
                                                 set_records::dot_name(id, {node, top}) + '\0');
    auto st = scan_meta_range(range, [&](std::string_view name, std::string_view mk) {
      auto d = set_records::dot_of_name(name);
      if (d && !since.contains(*d)) keys.emplace(mk);
      return true;
    });
    if (!st) return st.err();
  }
  for (const auto& d : cp.cloud()) {
    if (since.contains(d)) continue;
    auto mk = read_meta(set_records::dot_name(id, d));
    if (!mk) return mk.err();
    if (*mk) keys.insert(std::move(**mk));
  }
  grown_elements<K> out;
  typename K::store_type theirs = answer.store();
  bool added = false;
  for (const auto& mk : keys) {
    if (ours.chooses(mk)) continue;  // compared element by element already
    auto rec = read_meta(set_records::element_name(id, mk));
    if (!rec) return rec.err();
    if (!*rec) continue;
    auto el = K::decode(**rec);
    if (!el || theirs.find(el->first)) continue;
    typename K::elem_type then = K::within(el->second, since);
    out.keys.push_back(el->first);
    if (!then.empty()) {
      theirs.set(el->first, std::move(then));
      added = true;
    }
  }
  if (added) out.incoming = K::window(std::move(theirs), cp, 0);
  return out;
}

template <class K>
void replica::join_elements(const std::string& skey, const std::string& state, const element_choice& ours,
                            const version_vector* sender_vv, bool merge_context, const crdt::dot_context* since) {
  using value_type = typename K::value_type;
  using store_type = typename K::store_type;
  auto parsed = parse_storage_key(skey);
  if (!parsed || parsed->type != K::tag) return;
  auto raw = read_raw(skey);
  if (!raw || (!*raw && !ours.create)) return;
  const bool header = *raw && K::is_header(**raw);
  auto in = decode_record(state);
  if (!in || !in->value.template get_if<value_type>()) {
    ++stats_.bad_deltas;
    return;
  }
  const value_type& answer = *in->value.template get_if<value_type>();
  // Our elements `ours` chooses, and those the state names.
  std::set<typename K::key_type> keys;
  for (const auto& [k, e] : answer.store().entries()) keys.insert(k);
  if (header && (ours.page || (ours.ids && !ours.ids->empty()))) {
    const std::string id = set_records::set_id(skey);
    auto range = persistence::key_range::with_prefix(set_records::element_prefix(id));
    if (ours.page && !ours.after.empty()) range.from = set_records::element_name(id, ours.after) + '\0';
    if (ours.page && ours.last) range.to = set_records::element_name(id, *ours.last) + '\0';
    auto st = scan_meta_range(range, [&](std::string_view name, std::string_view bytes) {
      if (!ours.chooses(set_records::member_key_of(name))) return true;
      if (auto el = K::decode(bytes)) keys.insert(std::move(el->first));
      return true;  // a corrupt record fails the load below
    });
    if (!st) return;
  }
  // Our elements that gained dots after our table (from deltas) which the responder's context
  // covers: joined with what the responder held of them then (grown_since).
  crdt::value incoming = in->value;
  if (since && header) {
    auto grown = grown_since<K>(set_records::set_id(skey), answer, *since, ours);
    if (!grown) return;
    for (auto& k : grown->keys) keys.insert(std::move(k));
    if (grown->incoming) incoming = crdt::value{std::move(*grown->incoming)};
  }
  const std::vector<std::string> names = K::names(keys);
  auto w = K::load(*this, skey, *raw, &names);  // absent: an empty set (ours.create)
  if (!w) return;
  value_type& v = K::value(*w);
  // An older build's whole record loads whole: join only those elements, as a window of it.
  std::optional<value_type> whole;
  if (w->stored_whole) {
    whole = std::move(v);
    store_type part;
    for (const auto& [k, e] : whole->store().entries())
      if (keys.count(k) || ours.chooses(K::key_bytes(k))) part.set(k, e);
    size_t loaded = part.entries().size();
    v = K::window(std::move(part), whole->context(), whole->size() - loaded);
  } else if (std::any_of(w->before.begin(), w->before.end(), [&](const auto& e) { return !keys.count(e.first); })) {
    // A map window holds every type of the names it loaded: exactly the fields joined are kept
    // (a field left out is not written, as one not loaded).
    for (auto it = w->before.begin(); it != w->before.end();)
      it = keys.count(it->first) ? std::next(it) : w->before.erase(it);
    store_type kept;
    for (const auto& [k, e] : w->before) kept.set(k, e);
    v = K::window(std::move(kept), v.context(), w->count - w->before.size());
  }
  // join_state's dead-dot rules, on the elements joined (the others are held alike on both sides).
  crdt::value mine{v};
  crdt::value theirs = std::move(incoming);
  auto dead_in = dead_dots(theirs, in->kv, vv_, &mine);
  if (sender_vv && kill(mine, dead_dots(mine, w->kv, *sender_vv, &theirs))) ++stats_.stale_states;
  if (kill(theirs, dead_in)) ++stats_.stale_states;
  const value_type before = v;
  v = std::move(*mine.template get_if<value_type>());
  v.join(*theirs.template get_if<value_type>());
  if (!merge_context) {
    // A page: the context it came with covers elements of other pages, which are still to come.
    crdt::dot_context ctx = before.context();
    v.store().for_each_dot([&](const crdt::dot& d) { ctx.insert(d); });
    v = K::window(store_type(v.store()), std::move(ctx), v.hidden());
  }
  // The key vector covers every update whose dots the set holds (J1/J2 rely on it), so it takes a
  // page's too: a bigger key vector only makes those rules drop less.
  version_vector kv = w->kv;
  kv.merge(in->kv);
  bool changed = !(v == before);
  if (!changed && kv == w->kv && !w->stored_whole) return;
  if (whole) {
    // Back into the whole value, which the write migrates (every element written).
    store_type all;
    for (const auto& [k, e] : whole->store().entries())
      if (!before.store().find(k)) all.set(k, e);
    for (const auto& [k, e] : v.store().entries()) all.set(k, e);
    v = K::window(std::move(all), v.context(), 0);
  }
  auto diff = K::write(*this, skey, *w, kv);
  ++stats_.states_joined;
  if (changed) ready_.changes.push_back(change{std::string(parsed->user_key), parsed->type, 0, std::move(diff)});
}

template <class K>
result<set_recon_answer> replica::set_page(const std::string& skey, const std::string& raw,
                                           const std::string& after) const {
  auto meta = meta_of<K>(raw);
  if (!meta) return meta.err();
  set_recon_answer a;
  a.key = skey;
  a.page = true;
  a.after = after;
  typename K::store_type chosen;
  size_t bytes = 0;
  auto full = [&] { return bytes >= config_.set_recon_page_bytes && !chosen.empty(); };
  if (!K::is_header(raw)) {
    // An older build's whole record: its elements in member-key order.
    auto whole = K::decode_whole(raw);
    if (!whole) return whole.err();
    std::map<std::string, const std::pair<const typename K::key_type, typename K::elem_type>*> by_key;
    for (const auto& e : whole->second.store().entries()) {
      std::string mk = K::key_bytes(e.first);
      if (mk > after) by_key.emplace(std::move(mk), &e);
    }
    for (const auto& [mk, e] : by_key) {
      if (full()) {
        a.more = true;
        break;
      }
      bytes += K::encode(e->first, e->second).size() + mk.size();
      chosen.set(e->first, e->second);
      a.last = mk;
    }
  } else {
    const std::string id = set_records::set_id(skey);
    auto range = persistence::key_range::with_prefix(set_records::element_prefix(id));
    if (!after.empty()) range.from = set_records::element_name(id, after) + '\0';
    std::optional<error> bad;
    auto st = scan_meta_range(range, [&](std::string_view name, std::string_view rec) {
      if (full()) {
        a.more = true;
        return false;
      }
      auto el = K::decode(rec);
      if (!el) {
        bad = el.err();
        return false;
      }
      bytes += rec.size() + name.size();
      chosen.set(std::move(el->first), std::move(el->second));
      a.last = std::string(set_records::member_key_of(name));
      return true;
    });
    if (!st) return st.err();
    if (bad) return *bad;
  }
  if (!a.more) a.last.clear();
  // The set's whole context (it covers every element of the page's dots).
  a.state = encode_stored(meta->kv, crdt::encode(crdt::value{K::window(std::move(chosen), std::move(meta->ctx), 0)}));
  return a;
}

bool replica::send_set_recon(recon_session& s, const std::string& skey, bool rebuild) {
  auto r = s.sets.find(skey);
  if (r == s.sets.end()) return false;
  r->second.sent_ms = now_ms_;
  if (r->second.paged) {
    send(s.peer, set_recon_request{s.id, skey, {}, r->second.after});
    return true;
  }
  if (!rebuild && !r->second.table.empty()) {
    // The same table: an answer to either copy goes with the context kept for it.
    send(s.peer, set_recon_request{s.id, skey, r->second.table, {}});
    return true;
  }
  auto raw = read_raw(skey);
  if (!raw || !*raw) return false;
  auto p = parse_storage_key(skey);
  if (!p) return false;
  const bool map = p->type == crdt::type_tag::or_map;
  auto meta = map ? meta_of<map_elements>(**raw) : meta_of<set_elements>(**raw);
  if (!meta) return false;
  auto table = map ? element_table<map_elements>(skey, **raw, r->second.cells)
                   : element_table<set_elements>(skey, **raw, r->second.cells);
  if (!table) return false;
  r->second.ctx = std::move(meta->ctx);
  r->second.table = table->cells();
  send(s.peer, set_recon_request{s.id, skey, r->second.table, {}});
  return true;
}

void replica::maybe_finish_repair(std::map<uint64_t, recon_session>::iterator it) {
  const recon_session& s = it->second;
  if (s.states_asked || !s.sets.empty() || (s.full && !s.streamed_all)) return;
  finish_repair(it->second);
  repairs_.erase(it);
}

void replica::on_set_recon_request(node_id from, const set_recon_request& q) {
  auto parsed = parse_storage_key(q.key);
  if (parsed && parsed->type == crdt::type_tag::or_set) answer_element_recon<set_elements>(from, q);
  if (parsed && parsed->type == crdt::type_tag::or_map) answer_element_recon<map_elements>(from, q);
}

template <class K>
void replica::answer_element_recon(node_id from, const set_recon_request& q) {
  set_recon_answer a{q.session, q.key, set_recon_status::ok, {}, {}};
  a.page = q.cells.empty();
  a.cells = static_cast<uint32_t>(q.cells.size());
  auto raw = read_raw(q.key);
  if (!raw) return;  // the store failed: no answer (the requester's session times out)
  if (!*raw) {
    a.status = set_recon_status::absent;
    send(from, std::move(a));
    return;
  }
  if (q.cells.empty()) {
    auto page = set_page<K>(q.key, **raw, q.after);
    if (!page) return;
    page->session = q.session;
    send(from, std::move(*page));
    return;
  }
  auto theirs = iblt::from_cells(q.cells);
  if (!theirs) return;
  auto mine = element_table<K>(q.key, **raw, theirs->cells().size());
  if (!mine) return;
  mine->subtract(*theirs);
  auto diff = mine->decode();
  if (!diff) {
    a.status = set_recon_status::undecoded;
    send(from, std::move(a));
    return;
  }
  std::set<uint32_t> ids;
  for (const auto& [id, digest] : diff->only_here) ids.insert(id);
  for (const auto& [id, digest] : diff->only_there) ids.insert(id);
  auto meta = meta_of<K>(**raw);
  if (!meta) return;
  auto state = elements_state<K>(q.key, **raw, ids, {}, meta->kv, std::move(meta->ctx));
  if (!state) return;
  if (!*state) {
    a.status = set_recon_status::too_big;  // a few big elements differ: pages, not one answer
    send(from, std::move(a));
    return;
  }
  a.ids.assign(ids.begin(), ids.end());
  a.state = std::move(**state);
  send(from, std::move(a));
}

void replica::on_set_recon_answer(node_id from, const set_recon_answer& a, uint64_t now_ms) {
  auto parsed = parse_storage_key(a.key);
  if (parsed && parsed->type == crdt::type_tag::or_set) join_element_answer<set_elements>(from, a, now_ms);
  if (parsed && parsed->type == crdt::type_tag::or_map) join_element_answer<map_elements>(from, a, now_ms);
}

template <class K>
void replica::join_element_answer(node_id from, const set_recon_answer& a, uint64_t now_ms) {
  using value_type = typename K::value_type;
  const std::set<uint32_t> ids(a.ids.begin(), a.ids.end());
  if (a.session == 0) {  // the requester's last step
    // Its context is the requester's whole context, which only this node's answer (its elements
    // outside the ids equal the requester's) makes safe to join: a wiped node's new identity at
    // the same address would take removals of elements it never had (seed 17357097224348164554).
    if (a.status == set_recon_status::ok && !a.page && a.to == id())
      join_elements<K>(a.key, a.state, element_choice{&ids}, nullptr);
    return;
  }
  auto it = repairs_.find(a.session);
  if (it == repairs_.end() || it->second.peer != from) return;
  recon_session& s = it->second;
  auto r = s.sets.find(a.key);
  if (r == s.sets.end()) return;  // done (a duplicate answer)
  set_repair& sr = r->second;
  // An answer to an earlier request (duplicated or overtaken on the way) is left alone.
  if (a.status != set_recon_status::absent && a.page != sr.paged) return;
  // A page counts only for the request in flight: one of an earlier round of pages (a round starts
  // again from the first member) would seem to cover the member keys before its `after` too, and
  // its context would remove our elements there (seed 17285774663085275726).
  if (a.status != set_recon_status::absent && a.page && a.after != sr.after) return;
  // A table answer counts only for the table in flight (its context is the one kept).
  if (a.status != set_recon_status::absent && !a.page && a.cells != sr.table.size()) return;
  s.last_progress_ms = now_ms;
  switch (a.status) {
    case set_recon_status::undecoded: {
      sr.cells *= 4;
      size_t max_cells = config_.set_recon_max_cells ? config_.set_recon_max_cells
                                                     : iblt_cells_for(config_.full_sync_threshold);
      // Too different to compare by elements: fetched in pages.
      if (sr.cells > max_cells) sr.paged = true;
      if (!send_set_recon(s, a.key, true)) repairs_.erase(it);
      return;
    }
    case set_recon_status::too_big: {
      // The elements that differ pass set_recon_max_answer_bytes in all: fetched in pages, as a
      // table that does not decode is. After a round of pages we hold everything the responder
      // held, so what still differs is ours: the session ends unfinished (its joins stand), and
      // the responder's own anti-entropy fetches ours, rather than a second pass over the set.
      if (sr.rounds > 0) {
        repairs_.erase(it);
        return;
      }
      sr.paged = true;
      sr.after.clear();
      if (!send_set_recon(s, a.key)) repairs_.erase(it);
      return;
    }
    case set_recon_status::absent: {
      s.sets.erase(r);
      // As a key asked for and not answered (on_state_push): the responder collected it.
      if (auto v = retire_dead(a.key, s.peer_vv)) send(from, state_push{0, {key_state{a.key, std::move(*v)}}, {}, {}});
      break;
    }
    case set_recon_status::ok: {
      if (sr.paged) {
        auto in = decode_record(a.state);
        if (!in || !in->value.template get_if<value_type>()) {
          ++stats_.bad_deltas;
          repairs_.erase(it);
          return;
        }
        if (!sr.started) {
          sr.started = true;
          sr.first_kv = in->kv;
          sr.first_ctx = in->value.template get_if<value_type>()->context();
        }
        // A set fetched from its header (fetch_set_in_pages) is created if we do not hold it.
        element_choice page{nullptr, true, sr.after, std::nullopt, sr.create};
        if (a.more) page.last = a.last;
        join_elements<K>(a.key, a.state, page, &s.peer_vv, false);
        if (a.more) {
          sr.after = a.last;
          if (!send_set_recon(s, a.key)) repairs_.erase(it);
          return;
        }
        // The last page: the set takes the first page's context and key vector, which cover
        // only elements that page or a later one brought, or that the responder had removed.
        const std::set<uint32_t> none;
        std::string tail =
            encode_stored(sr.first_kv, crdt::encode(crdt::value{K::window({}, std::move(sr.first_ctx), 0)}));
        join_elements<K>(a.key, tail, element_choice{&none, false, {}, std::nullopt, sr.create}, &s.peer_vv);
        // Elements that gained dots from deltas while the pages came may hold dots the responder
        // had removed: a table settles them (its join looks at exactly those), unless the set
        // keeps changing too fast to settle — then the session ends unfinished.
        if (++sr.rounds > 3) {
          repairs_.erase(it);
          return;
        }
        sr.paged = false;
        sr.after.clear();
        sr.started = false;
        sr.table.clear();
        sr.cells = iblt_cells_for(first_set_pairs);
        if (!send_set_recon(s, a.key, true)) repairs_.erase(it);
        return;
      }
      ++stats_.sets_repaired_by_elements;
      join_elements<K>(a.key, a.state, element_choice{&ids}, &s.peer_vv, true, &sr.ctx);
      std::set<typename K::key_type> named;
      if (auto in = decode_record(a.state); in && in->value.template get_if<value_type>())
        for (const auto& [k, e] : in->value.template get_if<value_type>()->store().entries()) named.insert(k);
      auto raw = read_raw(a.key);
      if (!raw) {
        repairs_.erase(it);
        return;
      }
      if (*raw) {
        // Our elements now may hold dots of updates after our table (joined just now, or made
        // since): the key vector goes as it is now (J1/J2 rely on it covering them), the context
        // as it was then.
        auto now = meta_of<K>(**raw);
        if (!now) {
          repairs_.erase(it);
          return;
        }
        auto state = elements_state<K>(a.key, **raw, ids, named, now->kv, sr.ctx);
        if (!state) {
          repairs_.erase(it);
          return;
        }
        // Too big for one message: the responder's own anti-entropy fetches ours in pages.
        if (*state) {
          set_recon_answer last{0, a.key, set_recon_status::ok, a.ids, std::move(**state)};
          last.to = from;
          send(from, std::move(last));
        }
      }
      s.sets.erase(r);
      break;
    }
  }
  maybe_finish_repair(it);
}

}  // namespace rumor::replication
