// lmdb_store's write path (FORMAT.md, "Write-ahead log" and "Write-behind"):
//  - commit appends the group to the write-ahead log (one small sequential transaction in wal.mdb,
//    fsynced in durable mode) and applies it to the active in-memory layer; it is then done.
//  - the materializer thread freezes the active layer and writes it into data.mdb's B-trees in one
//    key-sorted transaction together with the checkpoint (meta log_applied), then drops it; the
//    next commit erases the log records up to the checkpoint.
//  - open replays the log records past the checkpoint into the active layer.
// Lock order: commit_mu → ov_mu → remap_mu; wb_mu → ov_mu; write_mu → remap_mu.
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "persistence/lmdb_store_impl.hpp"
#include "persistence/wal_record.hpp"

namespace rumor::persistence {

namespace {

uint64_t steady_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

// ---- visibility and counts -----------------------------------------------------------------
// Commits do not count: a layer's effect on the record counts is worked out by overlay::count
// when stats() asks or the materializer is about to write the layer, each record once.

uint64_t lmdb_store::impl::last_delta_seq(MDB_txn* txn, uint64_t origin) const {
  lmdb::cursor_guard cur;
  if (mdb_cursor_open(txn, deltas, cur.out()) != 0) return UINT64_MAX;  // unknown: look each one up
  const auto past = delta_key(origin, UINT64_MAX);
  MDB_val k = lmdb::to_val(as_view(past)), v{};
  int rc = mdb_cursor_get(cur.get(), &k, &v, MDB_SET_RANGE);
  if (rc == 0 && lmdb::to_view(k) == as_view(past)) return UINT64_MAX;
  rc = rc == 0 ? mdb_cursor_get(cur.get(), &k, &v, MDB_PREV) : mdb_cursor_get(cur.get(), &k, &v, MDB_LAST);
  if (rc == MDB_NOTFOUND) return 0;
  if (rc != 0 || k.mv_size != delta_key_bytes) return UINT64_MAX;
  return delta_key_origin(lmdb::to_view(k)) == origin ? delta_key_seq(lmdb::to_view(k)) : 0;
}

bool lmdb_store::impl::visible_in(MDB_txn* txn, layer_stack below, record_kind kind, std::string_view key,
                                  uint64_t origin, uint64_t seq, last_seqs* last) const {
  for (const layer* l : below)
    if (const auto a = ask(l->o, kind, key, origin, seq); a.s != overlay::state::unknown)
      return a.s == overlay::state::present;
  if (kind == record_kind::value && !present.may_hold(key)) return false;
  if (kind == record_kind::delta && last != nullptr) {
    auto it = last->find(origin);
    if (it == last->end()) it = last->emplace(origin, last_delta_seq(txn, origin)).first;
    if (seq > it->second) return false;
  }
  const auto dk = delta_key(origin, seq);
  MDB_val k = lmdb::to_val(kind == record_kind::delta ? as_view(dk) : key);
  MDB_val v{};
  return mdb_get(txn, dbi_of(kind), &k, &v) == 0;
}

int64_t lmdb_store::impl::visible_deltas_in(MDB_txn* txn, layer_stack below, uint64_t origin, uint64_t up_to) const {
  int64_t n = 0;
  std::set<uint64_t> seen;  // seqs a newer layer decided
  trunc_bound hidden;       // the newer layers' truncation bound
  for (const layer* l : below) {
    const auto& m = l->o.deltas();
    // Entries at or below a newer layer's bound are hidden: start above it.
    auto from = m.lower_bound({origin, hidden ? (*hidden == UINT64_MAX ? *hidden : *hidden + 1) : 0});
    if (hidden && *hidden == UINT64_MAX) from = m.end();
    for (auto it = from; it != m.end() && it->first.first == origin && it->first.second <= up_to; ++it) {
      if (!hides(hidden, it->first.second) && seen.insert(it->first.second).second) ++n;
    }
    hidden = max_bound(hidden, l->o.truncated(origin));
  }
  if (hides(hidden, up_to)) return n;
  lmdb::cursor_guard cur;
  if (mdb_cursor_open(txn, deltas, cur.out()) != 0) return n;
  const auto start = delta_key(origin, hidden ? *hidden + 1 : 0);
  MDB_val k = lmdb::to_val(as_view(start));
  MDB_val v{};
  for (int rc = mdb_cursor_get(cur.get(), &k, &v, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cur.get(), &k, &v, MDB_NEXT)) {
    const std::string_view key = lmdb::to_view(k);
    if (key.size() != delta_key_bytes || delta_key_origin(key) != origin || delta_key_seq(key) > up_to) break;
    if (seen.count(delta_key_seq(key)) == 0) ++n;
  }
  return n;
}

// What count() asks about the state below a layer: `layers` (newest first), then the B-trees.
struct lmdb_store::impl::below_view {
  const impl& d;
  MDB_txn* txn;
  layer_stack layers;
  mutable last_seqs last{};  // per origin, for txn
  bool visible(overlay::family f, std::string_view key, uint64_t origin, uint64_t seq) const {
    const record_kind kind = f == overlay::family::value  ? record_kind::value
                             : f == overlay::family::meta ? record_kind::meta
                                                          : record_kind::delta;
    return d.visible_in(txn, layers, kind, key, origin, seq, &last);
  }
  int64_t deltas_upto(uint64_t origin, uint64_t bound) const { return d.visible_deltas_in(txn, layers, origin, bound); }
};

void lmdb_store::impl::counts::add(const overlay::effect& e) {
  values += e.values;
  deltas += e.deltas;
  meta += e.meta;
}

result<lmdb_store::impl::counts> lmdb_store::impl::current_counts(bool values_only) const {
  std::lock_guard cl(count_mu);
  if (std::shared_lock ol(ov_mu); active->o.unasked() > count_under_lock) {
    // Too many records to count while commits wait: count them as a sealed layer, unlocked.
    ol.unlock();
    std::unique_lock xl(ov_mu);
    if (active->o.unasked() > count_under_lock) seal_active();
  }
  std::vector<std::shared_ptr<const layer>> layers;  // oldest first
  counts base;
  counts sum;
  std::shared_lock<std::shared_mutex> remap;
  lmdb::txn_guard txn;
  {
    // One point in time — the layers, the B-trees' counts and a read transaction — taken under
    // ov_mu, which the materializer holds to drop the layers it wrote and set disk_counts. The
    // active layer is counted here, with commits held off.
    std::shared_lock ol(ov_mu);
    layers = sealed;
    base = disk_counts;
    remap = std::shared_lock(remap_mu);
    if (const int rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, txn.out()); rc != 0)
      return lmdb_error(rc, "begin read transaction");
    std::vector<const layer*> below;
    for (auto it = layers.rbegin(); it != layers.rend(); ++it) below.push_back(it->get());
    sum.add(active->o.count(below_view{*this, txn.get(), below}, values_only));
  }
  // The sealed layers, unlocked. The counts telescope: disk_counts is the state below the
  // oldest layer, each layer adds its effect on the state below it. A layer the materializer is
  // writing was normally counted before it began (materialize_once); if it was not (nobody had
  // asked for counts lately), the B-trees may hold part of it: then the base is this
  // transaction's B-tree counts and the layers being written are counted afresh against it
  // (never remembered). Either way a lookup made for a layer not being written is answered by
  // a layer being written before it reaches the B-trees, so those answers stay true.
  bool fresh = false;
  for (const auto& l : layers) fresh = fresh || (l->in_flight.load() && !l->o.counted());
  if (fresh) base = count_disk(txn.get());
  sum.values += base.values;
  if (!values_only) {
    sum.deltas += base.deltas;
    sum.meta += base.meta;
  }
  std::vector<const layer*> below;  // newest first
  for (std::size_t i = 0; i < layers.size(); ++i) {
    below.clear();
    for (std::size_t j = i; j-- > 0;) below.push_back(layers[j].get());
    const below_view view{*this, txn.get(), below};
    const overlay& o = layers[i]->o;
    sum.add(fresh && layers[i]->in_flight.load() ? o.recount(view, values_only) : o.count(view, values_only));
  }
  return sum;
}

void lmdb_store::impl::apply_to_active(const write_op& op) {
  active->o.apply(op);
  if (q_size.load() == 0) return;
  // A rewritten or erased record is no longer the corrupt one that was reported.
  std::lock_guard lk(q_mu);
  switch (op.kind) {
    case op_kind::put_value:
    case op_kind::erase_value:
      q.erase(quarantine_key(record_kind::value, op.key));
      break;
    case op_kind::put_meta:
    case op_kind::erase_meta:
      q.erase(quarantine_key(record_kind::meta, op.key));
      break;
    case op_kind::append_delta:
      q.erase(quarantine_key(record_kind::delta, as_view(delta_key(op.origin, op.seq))));
      break;
    case op_kind::truncate_deltas:
      for (auto it = q.begin(); it != q.end();) {
        const auto& e = it->second;
        if (e.kind == record_kind::delta && e.origin == op.origin && e.seq <= op.seq) it = q.erase(it);
        else ++it;
      }
      break;
  }
  q_size.store(q.size());
}

lmdb_store::impl::counts lmdb_store::impl::count_disk(MDB_txn* txn) const {
  counts c;
  MDB_stat st{};
  if (mdb_stat(txn, values, &st) == 0) c.values = static_cast<int64_t>(st.ms_entries);
  if (mdb_stat(txn, deltas, &st) == 0) c.deltas = static_cast<int64_t>(st.ms_entries);
  if (mdb_stat(txn, meta, &st) == 0) c.meta = static_cast<int64_t>(st.ms_entries);
  for (std::string_view reserved : {meta_format_version, meta_node_id, meta_log_applied}) {
    MDB_val k = lmdb::to_val(reserved);
    MDB_val v{};
    if (mdb_get(txn, meta, &k, &v) == 0 && c.meta > 0) --c.meta;
  }
  return c;
}

// ---- commit --------------------------------------------------------------------------------

status lmdb_store::commit(std::span<const write_batch> group) {
  impl& d = *impl_;
  if (d.opts.read_only) {
    return error{errc::invalid_argument, "store '" + d.dir() + "' is open read-only"};
  }
  if (auto s = validate(group); !s) return s;
  std::size_t ops = 0;
  for (const write_batch& b : group) ops += b.size();
  if (ops == 0) return {};
  std::lock_guard cl(d.commit_mu);
  if (d.layer_bytes.load() >= d.opts.write_behind_bytes) {
    // Back-pressure: wait for the materializer to make room, or report why it cannot.
    std::unique_lock wl(d.wb_mu);
    while (d.layer_bytes.load() >= d.opts.write_behind_bytes) {
      if (d.wb_error) {
        return error{d.wb_error->code, "the write-behind backlog of '" + d.dir() + "' is full (" +
                                           std::to_string(d.layer_bytes.load()) +
                                           " bytes, options.write_behind_bytes) and materializing it fails: " +
                                           d.wb_error->message + "; the store is unchanged"};
      }
      const uint64_t round = d.materializations;
      d.flush_wanted = true;
      d.wake.notify_one();
      d.room.wait(wl, [&] { return d.materializations != round; });
    }
  }
  encode_wal_record(group, d.log_buf);
  uint64_t erase = 0;
  uint64_t lsn = 0;
  {
    std::shared_lock ol(d.ov_mu);
    lsn = d.last_lsn + 1;
    if (d.checkpoint_lsn > d.log_erased) erase = d.checkpoint_lsn;
  }
  if (auto s = d.log->append(lsn, d.log_buf, erase); !s) return s;
  if (erase != 0) d.log_erased = erase;
  uint64_t active_bytes = 0;
  {
    std::unique_lock ol(d.ov_mu);
    // Each operation's index slot is prefetched a few operations ahead of its apply.
    constexpr std::size_t ahead = 8;
    for (const write_batch& b : group) {
      for (std::size_t i = 0; i < std::min(ahead, b.size()); ++i) d.active->o.prefetch(b.op(i));
      for (std::size_t i = 0; i < b.size(); ++i) {
        if (i + ahead < b.size()) d.active->o.prefetch(b.op(i + ahead));
        d.apply_to_active(b.op(i));
      }
    }
    d.last_lsn = lsn;
    d.active->lsn = lsn;
    d.update_layer_bytes();
    active_bytes = d.active->o.bytes();
  }
  if (active_bytes >= d.opts.materialize_bytes) {
    std::lock_guard wl(d.wb_mu);
    d.wake.notify_one();
  }
  return {};
}

// ---- materializer --------------------------------------------------------------------------

void lmdb_store::impl::seal_active() const {
  // The next layer starts at the size of this one (bounded, so that one burst does not pin a
  // big index for good).
  auto next = std::make_shared<layer>(active->o, std::size_t{1} << 18);
  next->lsn = active->lsn;
  sealed.push_back(std::move(active));
  active = std::move(next);
}

status lmdb_store::impl::materialize_once() {
  std::vector<std::shared_ptr<const layer>> todo;
  std::vector<bool> retried;
  {
    std::unique_lock ol(ov_mu);
    if (!active->o.empty()) seal_active();
    if (sealed.empty()) return {};
    todo = sealed;
    for (const auto& l : todo) {
      // A layer already in flight was partly written by a failed round: never counted now.
      retried.push_back(l->in_flight.load());
      l->in_flight.store(true);
    }
    update_layer_bytes();
  }
  {
    // Finish counting the layers before any of them reaches the B-trees, so that a stats()
    // during the writing can add their effects to disk_counts — when little is left to count
    // (stats() counts the active layer as it goes, so a node whose counts are read often has
    // little left). Otherwise the work is skipped: counts nobody reads cost nothing, and a
    // stats() that comes while the layers are written counts them afresh (current_counts).
    // Never the layers a failed round partly wrote: for the others, the B-trees differ from the
    // state below them only in records those layers hold, which answer first.
    std::lock_guard cl(count_mu);
    std::size_t unasked = 0;
    for (std::size_t i = 0; i < todo.size(); ++i)
      if (!retried[i]) unasked += todo[i]->o.unasked();
    status st;
    if (unasked <= precount_limit) {
      st = read([&](MDB_txn* txn) -> status {
        std::vector<const layer*> below;  // newest first
        for (std::size_t i = 0; i < todo.size(); ++i) {
          if (retried[i]) continue;
          below.clear();
          for (std::size_t j = i; j-- > 0;) below.push_back(todo[j].get());
          (void)todo[i]->o.count(below_view{*this, txn, below});
        }
        return {};
      });
    }
    if (!st) return st;
  }
  // Sealed layers never change, so they are read without the lock; the plan's views into them
  // live as long as `todo`.
  const std::vector<write_op> plan = plan_materialization(todo);
  const uint64_t checkpoint = todo.back()->lsn;
  const uint64_t start = steady_ms();
  if (auto s = commit_main(plan, checkpoint); !s) return s;
  if (opts.mode == durability::relaxed) {
    // The log records up to the checkpoint are erased next: the B-trees must be on disk first.
    std::shared_lock lk(remap_mu);
    if (const int rc = mdb_env_sync(env, 1); rc != 0) return lmdb_error(rc, "sync the materialized state");
  }
  auto c = read([&](MDB_txn* txn) -> result<counts> { return count_disk(txn); });
  if (!c) return c.err();
  {
    std::unique_lock ol(ov_mu);
    // Scans may have sealed newer layers meanwhile; ours are the oldest.
    sealed.erase(sealed.begin(), sealed.begin() + static_cast<std::ptrdiff_t>(todo.size()));
    disk_counts = *c;
    checkpoint_lsn = checkpoint;
    update_layer_bytes();
  }
  // The layers written out die with `todo` (here, outside every lock). Once the backlog is
  // nearly empty, hand their pages back to the OS so that a node's resident memory follows its
  // backlog down. While writes keep coming (a round then ends with megabytes of new commits),
  // keep them: the next layers reuse them instead of faulting fresh pages in at every round.
  todo.clear();
  if (active_bytes.load() < opts.materialize_bytes / 64) ::malloc_trim(0);
  // Either way, the first idle round trims again: what the other threads freed after this one
  // (commits finishing, replies sent) goes back too.
  trim_pending.store(true);
  std::lock_guard wl(wb_mu);
  last_materialize_ms = steady_ms() - start;
  return {};
}

void lmdb_store::impl::build_presence() {
  constexpr std::size_t keys_per_txn = std::size_t{1} << 16;
  std::string resume;  // where the next transaction starts: the first key not added yet
  for (bool first = true;; first = false) {
    {
      std::lock_guard wl(wb_mu);
      if (stopping) return;
    }
    bool done = false;
    const status st = read([&](MDB_txn* txn) -> status {
      lmdb::cursor_guard cur;
      if (const int rc = mdb_cursor_open(txn, values, cur.out()); rc != 0) return lmdb_error(rc, "open cursor");
      MDB_val k = lmdb::to_val(resume), v{};
      int rc = mdb_cursor_get(cur.get(), &k, &v, first ? MDB_FIRST : MDB_SET_RANGE);
      std::size_t n = 0;
      for (; rc == 0 && n < keys_per_txn; rc = mdb_cursor_get(cur.get(), &k, &v, MDB_NEXT), ++n)
        present.add(lmdb::to_view(k));
      if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "scan value keys");
      done = rc == MDB_NOTFOUND;
      if (!done) resume = std::string{lmdb::to_view(k)};
      return {};
    });
    if (!st) return;
    if (done) break;
  }
  present.mark_built();
}

void lmdb_store::impl::run_materializer() {
  std::unique_lock wl(wb_mu);
  for (;;) {
    const uint64_t wait_ms = wb_error ? std::max<uint64_t>(opts.materialize_interval_ms, 1000)
                                      : std::max<uint64_t>(opts.materialize_interval_ms, 1);
    wake.wait_for(wl, std::chrono::milliseconds(wait_ms), [&] {
      return stopping || flush_wanted || (!wb_error && active_bytes.load() >= opts.materialize_bytes);
    });
    const bool stop_now = stopping;
    flush_wanted = false;
    if (layer_bytes.load() == 0 && active_bytes.load() == 0) {
      bool empty = false;
      {
        std::shared_lock ol(ov_mu);
        empty = active->o.empty() && sealed.empty();
      }
      if (empty) {
        if (trim_pending.exchange(false)) {
          // Idle now (see materialize_once): an empty active layer gives up the capacity it was
          // given for a busy store's next layer, and the freed memory goes back to the OS.
          {
            std::unique_lock ol(ov_mu);
            if (active->o.empty()) {
              auto fresh = std::make_shared<layer>();
              fresh->lsn = active->lsn;
              active = std::move(fresh);
            }
          }
          ::malloc_trim(0);
          wl.unlock();
          shrink_log();
          wl.lock();
        }
        ++materializations;  // a round with nothing to do still answers flush() and waiting writers
        room.notify_all();
        if (stop_now) return;
        continue;
      }
    }
    wl.unlock();
    status st = materialize_once();
    wl.lock();
    ++materializations;
    if (st) wb_error.reset();
    else wb_error = st.err();
    room.notify_all();
    if (stop_now && !st) return;  // what is left stays in the log, replayed at the next open
  }
}

void lmdb_store::impl::shrink_log() {
  // Only while no commit runs (the log's writer is the committer); a commit waiting for room
  // holds commit_mu while it waits for this thread, so never wait for it here.
  std::unique_lock cl(commit_mu, std::try_to_lock);
  if (!cl.owns_lock() || !log) return;
  uint64_t through = 0;
  {
    std::shared_lock ol(ov_mu);
    if (!active->o.empty() || !sealed.empty() || checkpoint_lsn != last_lsn) return;
    through = checkpoint_lsn;
  }
  auto done = log->recreate_if_larger(opts.log_shrink_bytes, through);
  if (!done) {
    std::lock_guard wl(wb_mu);
    wb_error = done.err();
    return;
  }
  if (*done) log_erased = through;
}

void lmdb_store::impl::start_materializer() {
  if (opts.read_only || !log) return;
  materializer = std::thread([this] { run_materializer(); });
}

void lmdb_store::impl::start_presence_build() {
  if (opts.read_only || !log) return;
  presence_builder = std::thread([this] { build_presence(); });
}

void lmdb_store::impl::stop_materializer() {
  if (!materializer.joinable() && !presence_builder.joinable()) return;
  {
    std::lock_guard wl(wb_mu);
    stopping = true;
  }
  wake.notify_all();
  if (materializer.joinable()) materializer.join();
  if (presence_builder.joinable()) presence_builder.join();
}

status lmdb_store::impl::flush() {
  if (!materializer.joinable()) return {};
  uint64_t target = 0;
  {
    std::shared_lock ol(ov_mu);
    target = last_lsn;
    if (checkpoint_lsn >= target) return {};
  }
  std::unique_lock wl(wb_mu);
  for (;;) {
    const uint64_t round = materializations;
    flush_wanted = true;
    wake.notify_one();
    room.wait(wl, [&] { return materializations != round; });
    {
      std::shared_lock ol(ov_mu);
      if (checkpoint_lsn >= target) return {};
    }
    if (wb_error) return *wb_error;
  }
}

// ---- replay --------------------------------------------------------------------------------

status lmdb_store::impl::replay() {
  last_lsn = checkpoint_lsn;
  active->lsn = checkpoint_lsn;
  std::unique_lock ol(ov_mu);
  auto c = read([&](MDB_txn* txn) -> result<counts> { return count_disk(txn); });
  if (!c) return c.err();
  disk_counts = *c;
  if (!log) return {};
  status inner;
  status scanned = log->scan(checkpoint_lsn, [&](uint64_t lsn, std::string_view payload) {
    // Applied as decoded (no copy into a write_batch): a record that does not decode fails the
    // open, and the layer it was partly applied to goes with it.
    if (auto s = visit_wal_record(payload, [&](const write_op& op) { apply_to_active(op); }); !s) {
      inner = error{errc::corrupt, "write-ahead log record " + std::to_string(lsn) + " of '" + dir() +
                                       "' cannot be decoded (" + s.err().message +
                                       "); the updates it holds cannot be replayed"};
      return false;
    }
    last_lsn = lsn;
    active->lsn = lsn;
    return true;
  });
  if (!scanned) return scanned;
  if (!inner) return inner;
  if (auto l = log->last_lsn(); l && *l > last_lsn) last_lsn = *l;
  active->lsn = last_lsn;
  update_layer_bytes();
  return {};
}

std::vector<write_op> lmdb_store::impl::plan_materialization(const std::vector<std::shared_ptr<const layer>>& todo) {
  std::vector<write_op> plan;
  std::size_t upper = 0;  // every record of every layer: the plan holds at most that many
  for (const auto& l : todo) upper += l->o.records() + l->o.truncations().size();
  plan.reserve(upper);
  // Truncations: per origin the highest bound of any layer, applied first.
  std::map<uint64_t, uint64_t> bounds;
  for (const auto& l : todo)
    for (const auto& [origin, bound] : l->o.truncations()) {
      auto [it, fresh] = bounds.try_emplace(origin, bound);
      if (!fresh) it->second = std::max(it->second, bound);
    }
  for (const auto& [origin, bound] : bounds) plan.push_back(write_op{op_kind::truncate_deltas, {}, {}, origin, bound});
  // Deltas: as the layers say, oldest to newest (a layer's truncation hides the older layers'
  // deltas at or below its bound; its own are appended after it).
  if (todo.size() == 1) {
    for (const auto& [k, d] : todo.front()->o.deltas()) plan.push_back(write_op{op_kind::append_delta, {}, d.data, k.first, k.second});
  } else {
    std::map<std::pair<uint64_t, uint64_t>, std::string_view> deltas;
    for (const auto& l : todo) {
      for (const auto& [origin, bound] : l->o.truncations())
        deltas.erase(deltas.lower_bound({origin, 0}), deltas.upper_bound({origin, bound}));
      for (const auto& [k, d] : l->o.deltas()) deltas[k] = d.data;
    }
    for (const auto& [k, data] : deltas) plan.push_back(write_op{op_kind::append_delta, {}, data, k.first, k.second});
  }
  // Values, then meta: the layers' key orders merged, the newest layer deciding each key.
  auto merge = [&](bool is_meta) {
    struct head {
      overlay::keyed::ordered records;
      std::size_t at = 0;
    };
    std::vector<head> heads;  // newest first
    for (auto it = todo.rbegin(); it != todo.rend(); ++it)
      heads.push_back(head{is_meta ? (*it)->o.metas() : (*it)->o.values()});
    for (;;) {
      const overlay::entry* best = nullptr;
      for (const auto& h : heads)
        if (h.at < h.records.size() && (best == nullptr || overlay::key_less(h.records[h.at], *best))) best = &h.records[h.at];
      if (best == nullptr) return;
      const std::string_view key = best->key;
      if (best->present)
        plan.push_back(write_op{is_meta ? op_kind::put_meta : op_kind::put_value, key, best->bytes()});
      else
        plan.push_back(write_op{is_meta ? op_kind::erase_meta : op_kind::erase_value, key, {}});
      for (auto& h : heads) {
        if (h.at >= h.records.size()) continue;
        const overlay::entry& e = h.records[h.at];
        if (&e == best || (e.prefix == best->prefix && e.key == key)) ++h.at;
      }
    }
  };
  merge(false);
  merge(true);
  return plan;
}

status lmdb_store::impl::commit_main(std::span<const write_op> plan, uint64_t checkpoint) {
  // In transactions of at most materialize_chunk operations, the checkpoint with the last: LMDB
  // keeps every page a transaction dirtied in a malloc'd cache for reuse until the environment
  // closes (its me_dpages list), so one transaction per layer would pin memory in proportion to
  // the layer (~115 B per key after a million counters), and a big enough layer would not fit
  // one transaction at all (MDB_TXN_FULL). A crash between chunks leaves the checkpoint where it
  // was: the replay writes the layer again, which is idempotent.
  for (std::size_t first = 0;; first += materialize_chunk) {
    const std::size_t last = std::min(plan.size(), first + materialize_chunk);
    const bool final_chunk = last >= plan.size();
    if (auto s = commit_chunk(plan.subspan(first, last - first), final_chunk ? std::optional<uint64_t>{checkpoint} : std::nullopt); !s)
      return s;
    if (final_chunk) return {};
  }
}

status lmdb_store::impl::commit_chunk(std::span<const write_op> ops, std::optional<uint64_t> checkpoint) {
  impl& d = *this;
  // Growth hint: the chunk's bytes plus per-record overhead.
  uint64_t hint = 0;
  for (const write_op& op : ops) hint += op.key.size() + op.data.size() + record_header_bytes + 32;
  std::lock_guard wl(d.write_mu);
  for (;;) {
    const auto snap = d.snapshot_quarantine();
    std::set<std::string> healed;
    const int rc = d.apply_ops(ops, snap, healed, checkpoint);
    if (rc == 0) {
      d.finish_quarantine(snap, healed);
      return {};
    }
    if (rc == MDB_MAP_FULL) {
      if (auto g = d.grow(hint, ops.size(), static_cast<std::size_t>(hint)); !g) return g;
      continue;  // retry the whole chunk in a new transaction
    }
    if (rc == MDB_TXN_FULL) {
      return error{errc::too_large, "materializing " + std::to_string(ops.size()) + " records in '" + d.dir() +
                                        "' exceeds one LMDB transaction"};
    }
    return d.lmdb_error(rc, "materialize " + std::to_string(ops.size()) + " records");
  }
}

}  // namespace rumor::persistence
