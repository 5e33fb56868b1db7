// replica, deletion tombstones (PROTOCOL.md, "Key deletion").
//
// Contract of this part:
// - A deleted key stays stored as an empty value with its context and key vector, listed by the
//   meta marker t/<storage key> (write_value keeps the markers). collect_tombstones() erases
//   listed keys (at most 4096 per round) once causally stable: the value holds nothing, every
//   voting member has applied every update in its key vector (`stable_everywhere`, from
//   maybe_truncate), and every origin in that vector is a known or reaped member. The value,
//   its index entry and marker are erased and its bucket digest updated in the open batch;
//   erased_ hides the key from reads until the batch commits. Keys an uncommitted batch wrote
//   or erased are left for a later round.
// - The dead-dot rule (dead_dots, kill; declared in replica_internal.hpp) tells which dots of a
//   state are dead by the word of a replica that had applied a given vector. join_state,
//   finish_read and retire_dead drop such dots, so a collected deletion does not come back.
// - stored_tombstones() counts the markers (committed state).

#include "replication/replica.hpp"

#include "replication/replica_internal.hpp"
#include "replication/value_layout.hpp"

namespace rumor::replication {

namespace detail {

namespace {

std::set<crdt::dot> store_dots(const crdt::value& v) {
  std::set<crdt::dot> out;
  std::visit([&](const auto& x) { x.store().for_each_dot([&](const crdt::dot& d) { out.insert(d); }); }, v.variant());
  return out;
}

}  // namespace

std::vector<crdt::dot> dead_dots(const crdt::value& v, const version_vector& kv, const version_vector& authority,
                                 const crdt::value* theirs) {
  std::set<crdt::dot> held;
  if (theirs) held = store_dots(*theirs);
  std::vector<crdt::dot> dead;
  for (const crdt::dot& d : store_dots(v)) {
    uint64_t k = kv.get(d.node);
    if (k == 0 || k > authority.get(d.node)) continue;  // possibly made by an update it lacks
    if (!held.count(d)) dead.push_back(d);
  }
  return dead;
}

bool kill(crdt::value& v, const std::vector<crdt::dot>& dead) {
  if (dead.empty()) return false;
  (void)v.join(crdt::value::empty_of(v.type(), crdt::dot_context::of(dead)));
  return true;
}

}  // namespace detail

using namespace detail;

void replica::collect_tombstones(const version_vector& stable_everywhere) {
  // Most rounds of a node without deletions find nothing: the scan (which orders the newest
  // write-behind layer's meta records) is skipped until a marker may exist.
  if (!tombstones_maybe_) return;
  std::vector<std::string> listed;
  auto st = store_.scan_meta(persistence::key_range::with_prefix(meta_tombstone),
                             [&](std::string_view name, std::string_view) {
                               listed.emplace_back(name.substr(meta_tombstone.size()));
                               return listed.size() < 4096;
                             });
  if (!st) return;
  if (listed.empty() && marker_batch_ <= committed_through_) tombstones_maybe_ = false;
  for (const std::string& skey : listed) {
    if (dirty_.count(skey) || erased_.count(skey)) continue;  // changed since; look again next round
    auto old = load(skey);
    if (!old || !*old) continue;
    // Collectable once every voting member has applied every update that touched the key: no
    // replica then holds what the deletion removed, and no such delta is applied again anywhere.
    if (!(*old)->value.holds_nothing() || !(*old)->kv.leq(stable_everywhere)) continue;
    // Every origin that touched the key must be a member this node knows (or one reaped): a node
    // that wrote to it but that this node has not heard of may still hold what was removed.
    bool origins_known = true;
    for (const auto& [origin, c] : (*old)->kv.entries())
      origins_known = origins_known && (origin == self_ || members_->find(origin) || reaped_.get(origin) != 0);
    if (!origins_known) continue;
    uint32_t bucket = digests_.apply(skey, bucket_digests::value_hash((*old)->record), std::nullopt);
    if (value_records_ > 0) --value_records_;  // the erase goes into the batch when it closes
    cur_.put_meta(std::string(meta_digest) + be32(bucket), le64(digests_.digest(bucket)));
    cur_.erase_meta(std::string(meta_tombstone) + skey);
    // Until the erase commits, reads must not see the stored tombstone (a write based on it would
    // skip the t/ marker and remove its hash from the digest twice).
    erased_[skey] = next_batch_id_;
    forget_decoded(skey);
    batch_keys_.push_back(skey);
    ++stats_.tombstones_collected;
  }
}

result<uint64_t> replica::stored_tombstones() const {
  if (!tombstones_maybe_) return uint64_t{0};  // none stored, none in an uncommitted batch
  uint64_t n = 0;
  auto st = store_.scan_meta(persistence::key_range::with_prefix(meta_tombstone), [&](std::string_view, std::string_view) {
    ++n;
    return true;
  });
  if (!st) return st.err();
  return n;
}

}  // namespace rumor::replication
