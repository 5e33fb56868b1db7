// lmdb_store's scans through the write-behind layers (FORMAT.md, "Write-behind"). A scan takes
// its snapshot under ov_mu — the active layer's records in range copied (or, beyond copy_limit,
// the active layer sealed), the sealed layers pinned, a data.mdb read transaction begun — and
// then merges them without the lock, so a slow visitor never blocks a commit, and the scan sees
// one point in time: the layers it pinned are dropped only after their records are in data.mdb
// transactions newer than its own, which it does not read. A delta scan goes in pages instead of
// sealing: a page ends after copy_limit of the active layer's deltas, and the next page is a
// new snapshot from the seq after it (so a long delta scan may see commits made meanwhile).
#include "persistence/lmdb_store_impl.hpp"

namespace rumor::persistence {

bool lmdb_store::impl::snapshot_keyed(record_kind kind, const key_range& range, bool may_seal,
                                      keyed_snapshot& out) const {
  const overlay::keyed& am = kind == record_kind::meta ? active->o.meta_records() : active->o.value_records();
  auto past_end = [&](std::string_view key) { return range.past_end(key); };
  if (!am.collect(range.from, past_end, copy_limit, out.copied)) {
    if (!may_seal) return false;
    out.copied.clear();
    seal_active();
  }
  out.layers.assign(sealed.rbegin(), sealed.rend());
  return true;
}

void lmdb_store::impl::snapshot_deltas(uint64_t origin, uint64_t from_seq, delta_snapshot& out) const {
  const auto& am = active->o.deltas();
  out.copied_truncated = active->o.truncated(origin);
  for (auto it = am.lower_bound({origin, from_seq}); it != am.end() && it->first.first == origin; ++it) {
    if (out.copied.size() == copy_limit) {
      // More than a page: this scan's page ends at the last delta copied.
      out.page_end = out.copied.back().first;
      break;
    }
    out.copied.emplace_back(it->first.second, std::string{it->second.data});
  }
  out.layers.assign(sealed.rbegin(), sealed.rend());
}

namespace {

// Takes a snapshot with `take(may_seal)` under ov_mu (shared; exclusive when the active layer
// must be sealed) and begins a read transaction of `env` before the lock is released.
template <class Take>
int begin_snapshot(std::shared_mutex& ov_mu, std::shared_mutex& remap_mu, MDB_env* env,
                   std::shared_lock<std::shared_mutex>& remap, lmdb::txn_guard& txn, Take&& take) {
  {
    std::shared_lock ol(ov_mu);
    if (take(false)) {
      remap = std::shared_lock(remap_mu);
      return mdb_txn_begin(env, nullptr, MDB_RDONLY, txn.out());
    }
  }
  std::unique_lock xl(ov_mu);
  take(true);
  remap = std::shared_lock(remap_mu);
  return mdb_txn_begin(env, nullptr, MDB_RDONLY, txn.out());
}

}  // namespace

status lmdb_store::impl::scan_keyed(record_kind kind, const key_range& range, const record_visitor& visit) const {
  keyed_snapshot snap;
  std::shared_lock<std::shared_mutex> remap;
  lmdb::txn_guard txn;
  int rc = begin_snapshot(ov_mu, remap_mu, env, remap, txn, [&](bool may_seal) {
    snap = {};
    return snapshot_keyed(kind, range, may_seal, snap);
  });
  if (rc != 0) return lmdb_error(rc, "begin read transaction");

  // Layer sources, newest first: the copied records of the active layer, then the sealed layers.
  struct source {
    overlay::keyed::ordered records;
    std::size_t at, end;
    bool done() const { return at == end; }
    const overlay::entry& cur() const { return records[at]; }
  };
  std::size_t ci = 0;  // position in snap.copied
  std::vector<source> layers;
  for (const auto& l : snap.layers) {
    const auto m = kind == record_kind::meta ? l->o.metas() : l->o.values();
    layers.push_back(source{m, m.lower_bound(range.from), range.to ? m.lower_bound(*range.to) : m.size()});
  }

  lmdb::cursor_guard cur;
  if ((rc = mdb_cursor_open(txn.get(), dbi_of(kind), cur.out())) != 0) return lmdb_error(rc, "open cursor");
  MDB_val k{};
  MDB_val v{};
  if (range.from.empty()) {
    rc = mdb_cursor_get(cur.get(), &k, &v, MDB_FIRST);
  } else {
    // LMDB rejects over-long search keys; a prefix of the bound finds the same position, and
    // settle() skips keys still below `from`.
    const std::string_view from = std::string_view{range.from}.substr(0, lmdb_max_key);
    k = lmdb::to_val(from);
    rc = mdb_cursor_get(cur.get(), &k, &v, MDB_SET_RANGE);
  }
  auto settle = [&] {
    for (; rc == 0; rc = mdb_cursor_get(cur.get(), &k, &v, MDB_NEXT)) {
      const std::string_view key = lmdb::to_view(k);
      if (range.past_end(key)) {
        rc = MDB_NOTFOUND;
        return;
      }
      if (key < std::string_view{range.from}) continue;
      if (kind == record_kind::meta && is_reserved_meta_name(key)) continue;
      return;
    }
  };
  settle();
  for (;;) {
    // The smallest key among the sources; the newest source holding it decides.
    bool any = false;
    std::string_view next;
    auto consider = [&](std::string_view key) {
      if (!any || key < next) next = key;
      any = true;
    };
    if (ci < snap.copied.size()) consider(snap.copied[ci].first);
    for (const auto& s : layers)
      if (!s.done()) consider(s.cur().key);
    const bool disk_ok = rc == 0;
    if (disk_ok) consider(lmdb::to_view(k));
    if (!any) break;
    // The newest source holding `next` decides: present with these bytes, or erased.
    bool decided = false;
    std::optional<std::string_view> decided_bytes;
    std::string_view decided_key;
    if (ci < snap.copied.size() && snap.copied[ci].first == next) {
      decided = true;
      if (snap.copied[ci].second) decided_bytes = *snap.copied[ci].second;
      decided_key = snap.copied[ci].first;
      ++ci;
    }
    for (auto& s : layers) {
      if (!s.done() && s.cur().key == next) {
        if (!decided) {
          decided = true;
          if (s.cur().present) decided_bytes = s.cur().bytes();
          decided_key = s.cur().key;
        }
        ++s.at;
      }
    }
    if (disk_ok && lmdb::to_view(k) == next) {
      // Views into a read transaction's pages stay valid until it ends.
      const std::string_view key = lmdb::to_view(k);
      const std::string_view raw = lmdb::to_view(v);
      rc = mdb_cursor_get(cur.get(), &k, &v, MDB_NEXT);
      settle();
      if (!decided) {
        auto payload = unframe_record(key, raw);
        if (!payload) {
          note_corrupt(quarantine_entry{kind, std::string{key}, 0, 0, payload.err().message}, key);
        } else if (!visit(key, *payload)) {
          return {};
        }
        continue;
      }
    }
    if (decided_bytes && !visit(decided_key, *decided_bytes)) return {};
  }
  if (rc != MDB_NOTFOUND && rc != 0) return lmdb_error(rc, "scan");
  return {};
}

status lmdb_store::impl::scan_delta_range(uint64_t origin, uint64_t from_seq, const delta_visitor& visit) const {
  // Page by page: each page is one point in time and ends where the active layer's copied
  // deltas end (if it had more), so a scan never seals the active layer.
  for (std::optional<uint64_t> next_page = from_seq; next_page;) {
    const uint64_t page_from = *next_page;
    next_page.reset();
    if (auto st = scan_delta_page(origin, page_from, visit, next_page); !st) return st;
  }
  return {};
}

status lmdb_store::impl::scan_delta_page(uint64_t origin, uint64_t from_seq, const delta_visitor& visit,
                                         std::optional<uint64_t>& next_page) const {
  delta_snapshot snap;
  std::shared_lock<std::shared_mutex> remap;
  lmdb::txn_guard txn;
  int rc = begin_snapshot(ov_mu, remap_mu, env, remap, txn, [&](bool) {
    snap = {};
    snapshot_deltas(origin, from_seq, snap);
    return true;  // never seals: a page ends where the copy does
  });
  if (rc != 0) return lmdb_error(rc, "begin read transaction");

  // Sources newest first; each hides, in every older source, the seqs up to its truncation bound.
  struct source {
    overlay::delta_map::const_iterator it, end;
    trunc_bound hidden;  // the newer sources' truncation bound
  };
  std::size_t ci = 0;
  trunc_bound hidden = snap.copied_truncated;
  std::vector<source> layers;
  for (const auto& l : snap.layers) {
    const auto& m = l->o.deltas();
    layers.push_back(source{m.lower_bound({origin, from_seq}), m.upper_bound({origin, UINT64_MAX}), hidden});
    hidden = max_bound(hidden, l->o.truncated(origin));
  }
  const trunc_bound disk_hidden = hidden;

  lmdb::cursor_guard cur;
  if ((rc = mdb_cursor_open(txn.get(), deltas, cur.out())) != 0) return lmdb_error(rc, "open cursor");
  MDB_val k{}, v{};
  const bool disk_done = disk_hidden && *disk_hidden == UINT64_MAX;
  const auto start = delta_key(origin, disk_hidden && !disk_done ? std::max(*disk_hidden + 1, from_seq) : from_seq);
  k = lmdb::to_val(as_view(start));
  rc = disk_done ? MDB_NOTFOUND : mdb_cursor_get(cur.get(), &k, &v, MDB_SET_RANGE);
  auto disk_seq = [&]() -> std::optional<uint64_t> {
    if (rc != 0) return std::nullopt;
    const std::string_view key = lmdb::to_view(k);
    if (key.size() != delta_key_bytes || delta_key_origin(key) != origin) return std::nullopt;
    return delta_key_seq(key);
  };
  for (;;) {
    for (auto& s : layers)
      while (s.it != s.end && hides(s.hidden, s.it->first.second)) ++s.it;  // truncated by a newer layer
    bool any = false;
    uint64_t next = 0;
    auto consider = [&](uint64_t seq) {
      if (!any || seq < next) next = seq;
      any = true;
    };
    if (ci < snap.copied.size()) consider(snap.copied[ci].first);
    for (const auto& s : layers)
      if (s.it != s.end) consider(s.it->first.second);
    const auto dseq = disk_seq();
    if (dseq) consider(*dseq);
    if (!any || (snap.page_end && next > *snap.page_end)) {
      if (snap.page_end) next_page = *snap.page_end + 1;  // the rest in a new snapshot
      break;
    }
    std::optional<std::string_view> decided;
    if (ci < snap.copied.size() && snap.copied[ci].first == next) decided = snap.copied[ci++].second;
    for (auto& s : layers) {
      if (s.it != s.end && s.it->first.second == next) {
        if (!decided) decided = s.it->second.data;
        ++s.it;
      }
    }
    if (dseq && *dseq == next) {
      const std::string_view key = lmdb::to_view(k);
      const std::string_view raw = lmdb::to_view(v);
      rc = mdb_cursor_get(cur.get(), &k, &v, MDB_NEXT);
      if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "scan deltas");
      if (!decided) {
        auto payload = unframe_record(key, raw);
        if (!payload) {
          note_corrupt(quarantine_entry{record_kind::delta, {}, origin, next, payload.err().message}, key);
        } else if (!visit(next, *payload)) {
          return {};
        }
        continue;
      }
    }
    if (decided && !visit(next, *decided)) return {};
  }
  if (rc != MDB_NOTFOUND && rc != 0) return lmdb_error(rc, "scan deltas");
  return {};
}

}  // namespace rumor::persistence
