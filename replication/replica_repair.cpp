// replica, repair (PROTOCOL.md, "Delta log truncation and repair"): brings this replica up to a
// peer's state when the deltas it lacks are gone from the peer's log, or when it has no state yet
// (bootstrap). Each repair is a recon_session in repairs_, under an id not reused after a restart.
//
// Contract of this part:
// - start_repair() chooses reconciliation or a full transfer. Reconciliation: an IBLT of our
//   bucket digests sized for the expected differences (recon_request); the responder lists the
//   buckets that differ (on_recon_request, describe_bucket: key hashes, or full keys when two
//   share a key hash); a table that does not decode is doubled, up to full_sync_threshold
//   (beyond, a full transfer). The requester compares (on_recon_buckets, compare_bucket,
//   compare_hashed_bucket), sends the states the responder lacks and fetches those that differ
//   (a state_push asking for keys or key hashes, answered by answer_wanted); on_state_push
//   joins the answer and sends back what the responder still lacks. A big set or map (in_pages)
//   never travels whole: asked for, it is answered with its header, whose elements the requester
//   fetches in pages within the session; one the other side lacks or holds in less is left to
//   that side's own anti-entropy, which fetches it so (sendable). Full transfer (not
//   bootstrapped, empty vector, or too many differences): the responder streams its keyspace
//   in value-key order (value_layout.hpp), in bounded chunks (on_full_sync_request,
//   on_full_sync_chunk); a big set or map travels as its header, its elements fetched in pages
//   within the session (in_pages, fetch_set_in_pages; replica_element_repair.cpp), which
//   finishes after them.
// - Retirement: a key the responder does not hold although it had applied every update of it
//   was collected there; our dots of it are dead and dropped (retire_dead, retire_uncarried).
//   A key it lacks otherwise is sent to it.
// - Answers count only from the session's peer, once (compared, streamed_to). finish_repair()
//   raises our vector to the peer's vector at the start (the missing log entries recorded as
//   truncated), marks the replica bootstrapped after a full transfer and drops reorder_ entries
//   now covered.
// - bucket_contents() lists a bucket's keys and value hashes: one range scan of the value table
//   (value_layout.hpp), plus this replica's uncommitted writes.

#include "replication/replica.hpp"

#include <algorithm>

#include "replication/element_kinds.hpp"
#include "replication/replica_internal.hpp"
#include "replication/storage_key.hpp"
#include "replication/map_records.hpp"
#include "replication/set_records.hpp"
#include "replication/value_layout.hpp"

namespace rumor::replication {

using namespace detail;

// ---------------------------------------------------------------------------------------------
// repair: reconciliation of stored bucket digests, or a full transfer

void replica::start_repair(node_id peer, const version_vector& peer_vv, uint64_t estimate, uint64_t now_ms) {
  ++stats_.repairs_started;
  // A key that differs changes one bucket digest on each side: two IBLT pairs per difference.
  uint64_t pairs = estimate > config_.full_sync_threshold ? config_.full_sync_threshold : estimate;
  recon_session s{next_session_++, peer, peer_vv, iblt_cells_for(2 * std::max<uint64_t>(pairs, 1)),
                  false, now_ms, false, {}, {}};
  if (!bootstrapped_ || vv_.empty() || estimate > config_.full_sync_threshold) {
    s.full = true;
    ++stats_.full_transfers;
    send(peer, full_sync_request{s.id, {}});
  } else {
    send(peer, recon_request{s.id, digests_.to_iblt(s.cells).cells()});
  }
  repairs_.emplace(s.id, s);
}

result<std::map<std::string, uint64_t>> replica::bucket_contents(uint32_t bucket) const {
  // One range of the value table (value_layout.hpp). A record that fails verification is left out,
  // as every scan leaves it out (it is quarantined).
  std::map<std::string, uint64_t> out;
  auto st = store_.scan_values(bucket_range(bucket, config_.bucket_bits), [&](std::string_view k, std::string_view v) {
    out[std::string(storage_key_of(k))] = bucket_digests::value_hash(v);
    return true;
  });
  if (!st) return st.err();
  // Uncommitted collections and writes of this replica.
  for (auto& [skey, batch] : erased_)
    if (bucket_digests::bucket_of(skey, config_.bucket_bits) == bucket) out.erase(skey);
  for (auto& [skey, entry] : dirty_)
    if (bucket_digests::bucket_of(skey, config_.bucket_bits) == bucket)
      out[skey] = bucket_digests::value_hash(entry.first);
  return out;
}

std::optional<std::set<uint32_t>> replica::differing_buckets(const std::vector<iblt_cell>& cells) const {
  auto theirs = iblt::from_cells(cells);
  if (!theirs) return std::nullopt;
  iblt mine = digests_.to_iblt(cells.size());
  mine.subtract(*theirs);
  auto diff = mine.decode();
  if (!diff) return std::nullopt;
  std::set<uint32_t> buckets;
  for (auto& [b, d] : diff->only_here)
    if (b < digests_.bucket_count()) buckets.insert(b);
  for (auto& [b, d] : diff->only_there)
    if (b < digests_.bucket_count()) buckets.insert(b);
  return buckets;
}

bool replica::describe_bucket(uint32_t bucket, recon_buckets& out) const {
  auto contents = bucket_contents(bucket);
  if (!contents) return false;
  std::vector<hashed_key> hashed;
  std::set<uint64_t> seen;
  for (auto& [k, h] : *contents) {
    uint64_t kh = bucket_digests::key_hash(k);
    if (!seen.insert(kh).second) {
      // Two keys share a key hash: the requester could not tell them apart.
      bucket_keys bk{bucket, {}};
      for (auto& [k2, h2] : *contents) bk.keys.push_back(key_hash{k2, h2});
      out.buckets.push_back(std::move(bk));
      return true;
    }
    hashed.push_back(hashed_key{kh, h});
  }
  out.hashed_buckets.push_back(bucket);
  out.hashed.insert(out.hashed.end(), hashed.begin(), hashed.end());
  return true;
}

void replica::on_recon_request(node_id from, const recon_request& r) {
  recon_buckets out{r.session, false, {}, {}, {}};
  if (auto buckets = differing_buckets(r.cells)) {
    out.decoded = true;
    for (uint32_t b : *buckets) {
      if (!describe_bucket(b, out)) {
        out = recon_buckets{r.session, false, {}, {}, {}};
        break;
      }
    }
  }
  send(from, std::move(out));
}

bool replica::compare_bucket(const std::map<std::string, uint64_t>& mine,
                             const std::map<std::string, uint64_t>& theirs, recon_session& s, state_push& out) {
  for (auto& [k, h] : theirs) {
    auto m = mine.find(k);
    if (m != mine.end() && m->second != h && compare_by_elements(k, s)) continue;  // a big set
    if (m == mine.end() || m->second != h) out.wanted.push_back(k);
    if (m != mine.end() && m->second != h) s.asked.insert(k);
  }
  for (auto& [k, h] : mine) {
    // Keys the responder lacks go over now (unless it had applied every update we hold of them:
    // then it collected them, and ours are dead); keys both hold in different versions are
    // fetched first and sent back only if our join still differs from theirs (on_state_push).
    if (theirs.count(k)) continue;
    if (auto v = retire_dead(k, s.peer_vv)) out.states.push_back(key_state{k, std::move(*v)});
  }
  return true;
}

bool replica::compare_hashed_bucket(const std::map<std::string, uint64_t>& mine,
                                    const std::map<uint64_t, uint64_t>& theirs, recon_session& s, state_push& out) {
  struct ours {
    uint64_t value_hash = 0;
    size_t keys = 0;  // our keys with this key hash (more than one: about 2^-64)
    const std::string* key = nullptr;
  };
  std::map<uint64_t, ours> by_hash;
  for (auto& [k, h] : mine) {
    ours& o = by_hash[bucket_digests::key_hash(k)];
    o.value_hash = h;
    o.key = &k;
    ++o.keys;
  }
  for (auto& [kh, h] : theirs) {
    auto m = by_hash.find(kh);
    if (m != by_hash.end() && m->second.keys == 1 && m->second.value_hash != h && compare_by_elements(*m->second.key, s))
      continue;  // a big set
    if (m == by_hash.end() || m->second.keys != 1 || m->second.value_hash != h) out.wanted_hashes.push_back(kh);
  }
  for (auto& [k, h] : mine) {
    // As in compare_bucket: what the peer lacks goes over now (or is retired); keys both hold are
    // fetched first. Keys sharing a key hash cannot be compared by hash: they go over, and the
    // peer's is fetched.
    uint64_t kh = bucket_digests::key_hash(k);
    auto t = theirs.find(kh);
    if (t != theirs.end() && by_hash[kh].keys == 1) {
      if (t->second != h && !s.sets.count(k)) s.asked.insert(k);
      continue;
    }
    if (t == theirs.end()) {
      if (auto v = retire_dead(k, s.peer_vv)) out.states.push_back(key_state{k, std::move(*v)});
      continue;
    }
    auto v = sendable(k);
    if (!v) return false;
    if (*v) out.states.push_back(key_state{k, std::move(**v)});
  }
  return true;
}

void replica::on_recon_buckets(node_id from, const recon_buckets& r, uint64_t now_ms) {
  auto it = repairs_.find(r.session);
  if (it == repairs_.end() || it->second.peer != from) return;
  recon_session& s = it->second;
  s.last_progress_ms = now_ms;
  if (!r.decoded) {
    s.cells *= 2;  // the difference was bigger than estimated
    if (s.cells > iblt_cells_for(config_.full_sync_threshold)) {
      s.full = true;
      send(from, full_sync_request{s.id, {}});
    } else {
      send(from, recon_request{s.id, digests_.to_iblt(s.cells).cells()});
    }
    return;
  }
  // One comparison per session: a duplicated answer must not send a second request, whose
  // answer could be taken for the answer of the first (keys missing from it are retired).
  if (s.compared) return;
  s.compared = true;
  state_push out{s.id, {}, {}, {}};
  for (const auto& bk : r.buckets) {
    if (bk.bucket >= digests_.bucket_count()) continue;
    auto mine = bucket_contents(bk.bucket);
    if (!mine) return;
    std::map<std::string, uint64_t> theirs;
    for (auto& kh : bk.keys) theirs[kh.key] = kh.value_hash;
    if (!compare_bucket(*mine, theirs, s, out)) return;
  }
  std::map<uint32_t, std::map<uint64_t, uint64_t>> hashed;  // bucket -> key hash -> value hash
  for (uint32_t b : r.hashed_buckets)
    if (b < digests_.bucket_count()) hashed[b];
  for (const auto& hk : r.hashed) {
    auto it = hashed.find(bucket_digests::bucket_of_hash(hk.key_hash, digests_.bucket_bits()));
    if (it != hashed.end()) it->second[hk.key_hash] = hk.value_hash;  // else not a listed bucket
  }
  for (const auto& [b, theirs] : hashed) {
    auto mine = bucket_contents(b);
    if (!mine) return;
    if (!compare_hashed_bucket(*mine, theirs, s, out)) return;
  }
  // Big sets and maps both hold in different versions are compared by their elements
  // (replica_element_repair.cpp).
  for (const auto& [k, r] : s.sets) {
    if (!send_set_recon(s, k)) {
      repairs_.erase(it);
      return;
    }
  }
  if (out.wanted.empty() && out.wanted_hashes.empty()) {
    // Nothing to fetch: our states go out (if any) and the repair is complete once the sets are.
    // They go without the session: a state_push that carries a session and asks for nothing is a
    // repair answer.
    out.session = 0;
    if (!out.states.empty()) send(from, std::move(out));
    maybe_finish_repair(it);
    return;
  }
  s.states_asked = true;
  send(from, std::move(out));
}

void replica::on_state_push(node_id from, const state_push& r, uint64_t now_ms) {
  auto session = r.session ? repairs_.find(r.session) : repairs_.end();
  bool asks = !r.wanted.empty() || !r.wanted_hashes.empty();
  bool repair_answer = session != repairs_.end() && session->second.peer == from && !asks && session->second.states_asked;
  std::vector<key_state> send_back;
  std::set<std::string> answered;
  for (const auto& s : r.states) {
    if (set_records::is_decomposed(s.value)) {
      // A big set's or map's header (answer_wanted): its elements are fetched in pages within
      // the session. Only a repair answer carries one; one that comes late (its session over)
      // holds nothing to join.
      if (repair_answer && is_collection(s.key)) {
        answered.insert(s.key);
        fetch_set_in_pages(session->second, s.key);
      }
      continue;
    }
    join_state(s, repair_answer ? &session->second.peer_vv : nullptr);
    if (!repair_answer) continue;
    answered.insert(s.key);
    // Both sides held this key: if our join has more than theirs, they need it too.
    auto mine = sendable(s.key);
    if (mine && *mine && **mine != s.value) send_back.push_back(key_state{s.key, std::move(**mine)});
  }
  if (!send_back.empty() && !repair_answer) send(from, state_push{0, std::move(send_back), {}, {}});
  if (asks) {
    send(from, answer_wanted(r));
    return;
  }
  if (!repair_answer) return;
  // Keys we asked for that the responder no longer holds: it collected them since it listed them.
  for (const auto& k : session->second.asked)
    if (!answered.count(k))
      if (auto v = retire_dead(k, session->second.peer_vv)) send_back.push_back(key_state{k, std::move(*v)});
  if (!send_back.empty()) send(from, state_push{0, std::move(send_back), {}, {}});
  recon_session& s = session->second;
  s.last_progress_ms = now_ms;
  s.asked.clear();
  s.states_asked = false;
  maybe_finish_repair(session);
}

state_push replica::answer_wanted(const state_push& r) const {
  state_push answer{r.session, {}, {}, {}};
  for (const auto& k : r.wanted) {
    auto v = answer_state(k);
    if (v && *v) answer.states.push_back(key_state{k, std::move(**v)});
  }
  std::map<uint32_t, std::map<uint64_t, std::vector<std::string>>> by_bucket;  // bucket -> hash -> keys
  for (uint64_t h : r.wanted_hashes) {
    uint32_t b = bucket_digests::bucket_of_hash(h, digests_.bucket_bits());
    auto [it, fresh] = by_bucket.try_emplace(b);
    if (fresh) {
      auto contents = bucket_contents(b);
      if (!contents) continue;
      for (auto& [k, vh] : *contents) it->second[bucket_digests::key_hash(k)].push_back(k);
    }
    auto keys = it->second.find(h);
    if (keys == it->second.end()) continue;  // no longer here
    for (const auto& k : keys->second) {
      auto v = answer_state(k);
      if (v && *v) answer.states.push_back(key_state{k, std::move(**v)});
    }
    it->second.erase(keys);  // a hash asked twice is answered once
  }
  return answer;
}

bool replica::is_collection(const std::string& skey) {
  auto p = parse_storage_key(skey);
  return p && (p->type == crdt::type_tag::or_set || p->type == crdt::type_tag::or_map);
}

result<bool> replica::in_pages(const std::string& skey, const std::string& raw, bool committed) const {
  if (!set_records::is_decomposed(raw) || !is_collection(skey)) return false;
  auto h = set_records::decode_header(raw);
  if (!h) return h.err();
  if (h->count >= config_.set_recon_min_elements) return true;
  // A few big elements (fields) make a big record too. Their records' bytes decide, summed
  // without decoding or assembling anything; the scan stops once they pass a page.
  size_t element_bytes = 0;
  auto st = scan_meta_range(persistence::key_range::with_prefix(set_records::element_prefix(set_records::set_id(skey))),
                            [&](std::string_view, std::string_view rec) {
                              element_bytes += rec.size();
                              return element_bytes <= config_.set_recon_page_bytes;
                            },
                            committed);
  if (!st) return st.err();
  return element_bytes > config_.set_recon_page_bytes;
}

result<std::optional<std::string>> replica::answer_state(const std::string& skey) const {
  auto raw = read_raw(skey);
  if (!raw || !*raw) return raw;
  auto paged = in_pages(skey, **raw);
  if (!paged) return paged.err();
  if (*paged) return raw;  // the header: the requester fetches the elements in pages
  auto whole = whole_record(skey, std::move(**raw));
  if (!whole) return whole.err();
  return std::optional<std::string>{std::move(*whole)};
}

result<std::optional<std::string>> replica::sendable(const std::string& skey) const {
  auto v = answer_state(skey);
  if (v && *v && set_records::is_decomposed(**v)) return std::optional<std::string>{};  // fetched in pages
  return v;
}

void replica::on_full_sync_request(node_id from, const full_sync_request& r) {
  full_sync_chunk out{r.session, {}, true};
  size_t bytes = 0;
  // In value-key order (value_layout.hpp); the request names the last storage key it has.
  auto range = r.after_key.empty() ? persistence::key_range::all()
                                   : persistence::key_range::starting_at(value_key(r.after_key) + std::string(1, '\0'));
  auto st = store_.scan_values(range, [&](std::string_view k, std::string_view v) {
    if (bytes >= config_.max_message_bytes) {
      out.done = false;
      return false;
    }
    bytes += k.size() + v.size();
    out.states.push_back(key_state{std::string(storage_key_of(k)), std::string(v)});
    return true;
  });
  if (!st) return;
  // A set's or map's header travels as its whole record (read after the scan: it reads more
  // records; from the committed state, as the scan) — unless it travels in pages (in_pages:
  // set_recon_min_elements elements or more, or element records that pass set_recon_page_bytes):
  // then as its header, and the requester fetches its elements in pages
  // (replica_element_repair.cpp). The chunk ends where the whole records pass the message
  // budget; the next request goes on from there.
  bytes = 0;
  for (size_t i = 0; i < out.states.size(); ++i) {
    auto& s = out.states[i];
    if (set_records::is_decomposed(s.value)) {
      auto paged = in_pages(s.key, s.value, true);
      if (!paged) return;
      if (!*paged) {
        auto whole = whole_record(s.key, std::move(s.value), true);
        if (!whole) return;
        s.value = std::move(*whole);
      }
    }
    bytes += s.key.size() + s.value.size();
    if (bytes >= config_.max_message_bytes && i + 1 < out.states.size()) {
      out.states.resize(i + 1);
      out.done = false;
      break;
    }
  }
  send(from, std::move(out));
}

void replica::on_full_sync_chunk(node_id from, const full_sync_chunk& r, uint64_t now_ms) {
  auto it = repairs_.find(r.session);
  if (it == repairs_.end() || it->second.peer != from) return;
  recon_session& session = it->second;
  // Chunks carry the responder's keys in value-key order, each one continuing after the last key of
  // the one before (the request says where). One that does not is a duplicate of an earlier chunk.
  if (!r.states.empty() && session.streamed_to && value_key(r.states.front().key) <= value_key(*session.streamed_to)) return;
  session.last_progress_ms = now_ms;
  std::set<std::string> carried;
  for (const auto& s : r.states) {
    carried.insert(s.key);
    if (set_records::is_decomposed(s.value) && is_collection(s.key)) {
      fetch_set_in_pages(session, s.key);  // a big set or map: its header only, the elements in pages
      continue;
    }
    join_state(s, &session.peer_vv);
  }
  // The chunk covers the key space from after the previous chunk's last key to its own last key
  // (to the end, for the last chunk), read after the repair began. Our keys there that it does not
  // carry the responder did not hold: it collected those whose updates it had all applied
  // (retire_dead); the rest it lacks, and pulls from us by its own anti-entropy.
  bool last = r.done || r.states.empty();
  persistence::key_range covered = session.streamed_to
                                       ? persistence::key_range::starting_at(value_key(*session.streamed_to) + '\0')
                                       : persistence::key_range::all();
  if (!last) covered.to = value_key(r.states.back().key) + '\0';
  retire_uncarried(covered, carried, session.peer_vv);
  if (!last) {
    session.streamed_to = r.states.back().key;
    send(from, full_sync_request{r.session, r.states.back().key});
    return;
  }
  session.streamed_all = true;
  maybe_finish_repair(it);  // once the sets fetched in pages are done too
}

void replica::retire_uncarried(const persistence::key_range& range, const std::set<std::string>& carried,
                               const version_vector& peer_vv) {
  // `range` is of value keys; everything else here names storage keys.
  std::vector<std::string> absent;
  (void)store_.scan_values(range, [&](std::string_view k, std::string_view) {
    std::string skey(storage_key_of(k));
    if (!carried.count(skey)) absent.push_back(std::move(skey));
    return true;
  });
  for (const auto& [skey, entry] : dirty_)
    if (range.contains(value_key(skey)) && !carried.count(skey)) absent.push_back(skey);
  std::sort(absent.begin(), absent.end());
  absent.erase(std::unique(absent.begin(), absent.end()), absent.end());
  for (const auto& k : absent) (void)retire_dead(k, peer_vv);
}

std::optional<std::string> replica::retire_dead(const std::string& skey, const version_vector& peer_vv) {
  auto raw = read_raw(skey);
  if (!raw || !*raw) return std::nullopt;
  if (set_records::is_decomposed(**raw)) {
    auto h = set_records::decode_header(**raw);
    if (!h) return std::nullopt;
    // A dot of origin o can be dead only if the peer applied every update of o to the key.
    bool some_dead = false;
    for (const auto& [origin, seq] : h->kv.entries())
      if (seq != 0 && seq <= peer_vv.get(origin)) some_dead = true;
    if (some_dead && !(map_records::is_header(**raw) ? retire_dead_elements<map_elements>(skey, **raw, peer_vv)
                                                     : retire_dead_elements<set_elements>(skey, **raw, peer_vv)))
      return std::nullopt;
    if (h->kv.leq(peer_vv)) return std::nullopt;  // it has every update of the key: nothing to send
    auto now = sendable(skey);
    if (!now) return std::nullopt;
    return std::move(*now);
  }
  auto old = load(skey);
  if (!old || !*old) return std::nullopt;
  loaded& l = **old;
  crdt::value v = l.value;
  bool was_empty = v.holds_nothing();
  if (kill(v, dead_dots(v, l.kv, peer_vv, nullptr))) {
    ++stats_.stale_states;
    std::optional<set_diff> diff;
    write_value(skey, v, l.kv, l.record, was_empty, &diff);
    if (auto p = parse_storage_key(skey)) ready_.changes.push_back(change{std::string(p->user_key), p->type, 0, std::move(diff)});
  }
  if (l.kv.leq(peer_vv)) return std::nullopt;  // it has every update of the key: nothing to send
  auto now = sendable(skey);
  if (!now) return std::nullopt;
  return std::move(*now);
}

template <class K>
bool replica::retire_dead_elements(const std::string& skey, const std::string& raw, const version_vector& peer_vv) {
  const std::vector<std::string> none;
  auto w = K::load(*this, skey, raw, &none);
  if (!w) return false;
  typename K::value_type& v = K::value(*w);
  // The dots of the header's context that can be dead: those of the origins whose updates in the
  // key vector the peer had all applied. The window reads the elements holding any of them.
  auto dead_origin = [&](node_id o) {
    uint64_t seq = w->kv.get(o);
    return seq != 0 && seq <= peer_vv.get(o);
  };
  version_vector reach_vv;
  std::vector<crdt::dot> reach_cloud;
  for (const auto& [o, c] : v.context().compact_part().entries())
    if (dead_origin(o)) reach_vv.set(o, c);
  for (const crdt::dot& d : v.context().cloud())
    if (dead_origin(d.node)) reach_cloud.push_back(d);
  auto reach = crdt::dot_context::from_parts(std::move(reach_vv), std::move(reach_cloud));
  if (!K::load_dots(*this, *w, reach)) return false;
  auto dead = dead_dots(crdt::value{v}, w->kv, peer_vv, nullptr);
  if (dead.empty()) return true;
  v.join(typename K::value_type{typename K::value_type::store_type{}, crdt::dot_context::of(dead)});
  set_diff diff = K::write(*this, skey, *w, w->kv);
  ++stats_.stale_states;
  if (auto p = parse_storage_key(skey)) ready_.changes.push_back(change{std::string(p->user_key), p->type, 0, std::move(diff)});
  return true;
}

void replica::finish_repair(recon_session& s) {
  // Our values now contain everything the peer held when the repair began, so we hold every
  // delta its vector covered. Their log entries are missing here: record them as truncated.
  ++stats_.repairs_finished;
  for (const auto& [origin, c] : s.peer_vv.entries()) {
    if (c <= vv_.get(origin)) continue;
    vv_.set(origin, c);
    truncated_.raise(origin, c);
    vv_dirty_ = true;
  }
  cur_.put_meta(meta_truncated, encode_vv(truncated_));
  if (!bootstrapped_ && s.full) {
    bootstrapped_ = true;
    cur_.put_meta(meta_bootstrapped, "1");
  }
  for (auto it = reorder_.begin(); it != reorder_.end();)
    it = it->first.second <= vv_.get(it->first.first) ? reorder_.erase(it) : std::next(it);
}

}  // namespace rumor::replication
