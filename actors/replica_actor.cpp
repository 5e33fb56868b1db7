#include "actors/replica_actor.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <deque>
#include <map>
#include <tuple>
#include <unordered_map>

#include "actors/actor_messages.hpp"
#include "actors/cas_lane.hpp"
#include "actors/client_ops.hpp"
#include "actors/collection_view.hpp"
#include "actors/metric_families.hpp"
#include "actors/node.hpp"
#include "actors/watch_events.hpp"
#include "client/client_codec.hpp"
#include "client/render.hpp"
#include "crdt/codec.hpp"
#include "http/metrics.hpp"

namespace rumor::actors {

uint64_t wall_clock_ms() {
  using namespace std::chrono;
  return static_cast<uint64_t>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

namespace {

using replication::replica;

// Where a response goes: a callback (embedded callers, the transport's internal requests), or,
// for a request of a client_burst, the output of the current step for its connection (sent as
// one client_out message per connection per step: flush_outs).
struct reply_to {
  std::function<void(client::response)> fn;
  uint64_t session = 0;
  caf::actor transport;  // set (and fn empty): the connection `session` of this transport
};

// A call waiting for the replica's reply (keyed by the replica request id the actor assigned).
struct waiting_call {
  uint64_t client_id;
  std::string key;
  reply_to to;
  int64_t arrived_us = 0;  // updates: when the request arrived (rumor_sync_change_seconds)
  response_plan plan;      // how the reply becomes the response (client_ops.hpp)
};

int64_t steady_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Peer message kinds, by variant index, for the message counters of /metrics.
using replication::message_kinds;
using replication::message_kind_names;

// Deltas a peer message carries (pushes and sync answers), for rumor_sync_transfer_seconds.
const std::vector<replication::delta_entry>* deltas_of(const replication::message& m) {
  if (auto* p = std::get_if<replication::push>(&m)) return &p->deltas;
  if (auto* s = std::get_if<replication::sync_response>(&m)) return &s->deltas;
  return nullptr;
}

// The frames of one step for one client connection.
struct client_out {
  caf::actor transport;
  std::string frames;
};

// A key listing done off the actor's thread (list_keys_elsewhere), back for its answer.
struct keys_listed {
  uint64_t client_id = 0;
  reply_to to;
  result<std::vector<std::pair<std::string, crdt::type_tag>>> found;
};

}  // namespace
}  // namespace rumor::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rumor::actors::keys_listed)

namespace rumor::actors {
namespace {

struct watch_entry {
  std::string prefix;
  std::function<void(client::event)> on_event;
  bool set_changes = false;    // client::watch::set_changes
  bool field_changes = false;  // client::watch::field_changes

  // Whether this watch is told what `step` did to a collection's elements (instead of, for a big
  // one, its whole value): set changes for sets, field changes for maps.
  bool reports_changes(const key_step& step) const {
    return step.type == crdt::type_tag::or_map ? field_changes : set_changes;
  }
};

struct replica_actor_state {
  replica_actor_config cfg;
  // The clocks read once for a whole client burst (its requests share them), not per request.
  struct burst_clock {
    uint64_t wall_ms = 0;
    int64_t steady_us = 0;
  };
  std::optional<burst_clock> burst_time;
  std::shared_ptr<replica> rep;
  caf::actor transport;
  caf::actor storage;
  std::unordered_map<uint64_t, waiting_call> calls;
  std::unordered_map<uint64_t, client_out> outs;  // session -> this step's frames (flush_outs)
  std::map<std::pair<uint64_t, uint64_t>, watch_entry> watches;  // (session, request id)
  uint64_t next_request = 1;
  size_t listings = 0;               // key listings running in threads of their own
  uint64_t last_batch_sent = 0;      // highest batch id handed to the storage actor
  uint64_t last_batch_reported = 0;  // highest batch id reported to the replica (or skipped)
  uint64_t batch_base = 0;           // storage batch id = replica batch id + batch_base (a rebuilt
                                     // replica numbers its batches from 1 again)
  uint64_t generation = 1;           // of the replica: storage_batches::generation (recover)
  // The store is full (a commit failed with map_full): client writes are refused at once, data
  // from peers is dropped (anti-entropy brings it again), the replica's own batches (membership)
  // are parked here, and every second a probe asks whether the store takes writes again.
  std::optional<error> full;
  uint64_t full_since_ms = 0;
  uint64_t next_probe_ms = 0;
  bool probing = false;
  std::vector<replication::pending_batch> parked;
  bool clock_refused = false;        // the replica refuses local writes for a clock ahead (logged)
  std::unique_ptr<cas_lane> cas;     // the compare-and-set lane (disabled without voters)
  uint64_t tick_ms = 20;
  std::map<uint64_t, std::pair<replication::member_status, std::string>> known_members;  // for logs
  bool drain_scheduled = false;      // a drain_atom to ourselves is in the mailbox
  http::node_metrics metrics;        // /metrics: sync-time histograms (message counters below)
  std::array<uint64_t, message_kinds> received_by_kind{};  // by variant index (no map on the hot path)
  std::array<uint64_t, message_kinds> sent_by_kind{};
  // Deltas applied from peers and not yet in a batch handed to storage: (arrival, count); then
  // the same with the id of the batch that holds them, until it is committed.
  std::vector<std::pair<int64_t, uint64_t>> applied_unsent;
  std::deque<std::tuple<uint64_t, int64_t, uint64_t>> applied_in_batch;
  std::deque<std::pair<uint64_t, int64_t>> batches_sent;  // (batch id, when) until committed
  bool started = false;
  bool stopping = false;
  bool handing_off = false;          // a graceful stop waits for peers to hold our updates
  uint64_t handoff_started_ms = 0;
  uint64_t handoff_asked_ms = 0;
  bool stop_sent = false;
  caf::response_promise stop_promise;
  static inline const char* name = "rumor.replica";
};

using self_ptr = caf::stateful_actor<replica_actor_state>*;

uint64_t now_ms(const replica_actor_state& st) { return st.cfg.clock ? st.cfg.clock() : wall_clock_ms(); }

void set_readiness(replica_actor_state& st, readiness r) { st.cfg.readiness->store(static_cast<uint8_t>(r)); }

// Appends a client frame to the step's output for connection `session` of `transport`.
void post_frame(replica_actor_state& st, uint64_t session, const caf::actor& transport, const client::client_message& m) {
  auto& o = st.outs[session];
  if (!o.transport) o.transport = transport;
  const std::size_t before = o.frames.size();
  try {
    client::encode_client_into(m, o.frames);
  } catch (const std::exception& e) {
    o.frames.resize(before);  // no partial frame
    st.cfg.log->error("cannot encode a client frame: {}", e.what());
  }
  const auto* r = std::get_if<client::response>(&m);
  if (r && o.frames.size() - before > st.cfg.max_response_bytes) {
    const size_t bytes = o.frames.size() - before;
    o.frames.resize(before);
    std::string why = "the answer is " + std::to_string(bytes) + " bytes, over the " +
                      std::to_string(st.cfg.max_response_bytes) + "-byte frame limit";
    if (r->code == errc::ok && r->outcome) {
      // An update that was carried out: its answer must say so. Only the value it asked for is
      // left out.
      client::response applied = *r;
      applied.values.clear();
      applied.message = why + ": the value after the update is left out (read it in pages)";
      client::encode_client_into(client::client_message{std::move(applied)}, o.frames);
    } else {
      client::encode_client_into(
          client::client_message{error_response(r->id, error{errc::too_large, why + ": read the collection in pages"})},
          o.frames);
    }
  }
}

void respond(replica_actor_state& st, reply_to& to, client::response r) {
  if (to.fn) return to.fn(std::move(r));
  if (to.transport) post_frame(st, to.session, to.transport, client::client_message{std::move(r)});
}

// Sends every connection's frames of this step to the transport: one message per connection.
void flush_outs(self_ptr self) {
  auto& st = self->state;
  for (auto& [session, o] : st.outs)
    if (!o.frames.empty()) self->send(o.transport, client_out_atom::value, session, std::move(o.frames));
  st.outs.clear();
}

void update_readiness(replica_actor_state& st) {
  if (st.stopping || st.handing_off || !st.rep) return;
  if (st.rep->failed()) return set_readiness(st, readiness::failed);
  set_readiness(st, st.rep->bootstrapped() ? readiness::ready : readiness::joining);
}

void notify_watchers(replica_actor_state& st, const std::vector<replication::change>& changes) {
  if (st.watches.empty() || changes.empty()) return;
  for (auto& step : merge_step(changes)) {
    bool wanted = false, value_wanted = false;
    for (const auto& [id, w] : st.watches) {
      if (!step.key.starts_with(w.prefix)) continue;
      wanted = true;
      value_wanted = value_wanted || event_carries_value(step, w.reports_changes(step));
    }
    if (!wanted) continue;
    std::string value;  // read only when some watch is sent it: a big set is not assembled
    if (value_wanted)
      if (auto vs = st.rep->get(step.key))
        for (const auto& v : *vs)
          if (v.type() == step.type && !v.holds_nothing()) value = crdt::encode(v);
    for (const auto& [id, w] : st.watches) {
      if (!step.key.starts_with(w.prefix)) continue;
      client::event e{id.second, step.key, {}, step.origin, std::nullopt, false};
      if (event_carries_value(step, w.reports_changes(step))) e.value = value;
      else e.value_omitted = true;
      if (w.reports_changes(step)) e.set = step.set;
      w.on_event(std::move(e));
    }
  }
}

// Logs members that appeared or changed status since the last call (operators' view of SWIM).
void log_membership(replica_actor_state& st) {
  for (const auto& m : st.rep->members().snapshot()) {
    if (m.id == st.rep->id()) continue;
    auto it = st.known_members.find(m.id);
    if (it != st.known_members.end() && it->second.first == m.status) continue;
    auto level = m.status == replication::member_status::alive ? spdlog::level::info : spdlog::level::warn;
    st.cfg.log->log(level, "member {:016x} at {} is {}", m.id, m.address, client::member_status_name(static_cast<uint8_t>(m.status)));
    st.known_members[m.id] = {m.status, m.address};
  }
}

// Carries out everything the compare-and-set lane asked for in its last steps.
void drain_cas(self_ptr self) {
  auto& st = self->state;
  if (!st.cas || !st.rep) return;
  auto fx = st.cas->take_effects(st.rep->members());
  if (!fx.batches.empty()) self->send(st.storage, storage_batches{std::move(fx.batches), 1, st.cas->generation()});
  if (!fx.messages.empty()) self->send(st.transport, send_atom::value, cas_outbox_msg{std::move(fx.messages)});
  flush_outs(self);
}

// Carries out everything the replica asked for in its last steps.
void drain(self_ptr self) {
  auto& st = self->state;
  if (!st.rep) return;
  st.rep->push_now(now_ms(st));  // deltas leave with the burst that brought them, not at a tick
  auto r = st.rep->take_ready();
  if (!r.batches.empty()) {
    for (auto& b : r.batches) b.id += st.batch_base;
    st.last_batch_sent = r.batches.back().id;
    for (const auto& [at, n] : st.applied_unsent) st.applied_in_batch.emplace_back(st.last_batch_sent, at, n);
    st.applied_unsent.clear();
    st.batches_sent.emplace_back(st.last_batch_sent, steady_us());
    if (st.full && !st.stopping) {
      for (auto& b : r.batches) st.parked.push_back(std::move(b));
    } else {
      self->send(st.storage, storage_batches{std::move(r.batches), 0, st.generation});
    }
  }
  if (!r.messages.empty()) {
    for (auto& m : r.messages) {
      if (m.address.empty() && m.to != 0) m.address = st.rep->members().address_of(m.to);
      ++st.sent_by_kind[m.msg.index()];
    }
    self->send(st.transport, send_atom::value, outbox_msg{std::move(r.messages)});
  }
  const int64_t replied_us = r.replies.empty() ? 0 : steady_us();
  for (auto& rp : r.replies) {
    auto it = st.calls.find(rp.request);
    if (it == st.calls.end()) continue;
    auto resp = to_response(it->second.client_id, rp, it->second.plan);
    for (auto& kv : resp.values) kv.key = it->second.key;
    auto to = std::move(it->second.to);
    if (it->second.arrived_us != 0 && resp.code == errc::ok)
      st.metrics.sync_change.observe(static_cast<double>(replied_us - it->second.arrived_us) / 1e6);
    st.calls.erase(it);
    respond(st, to, std::move(resp));
  }
  notify_watchers(st, r.changes);
  update_readiness(st);
  flush_outs(self);
}

// Drains once the messages already in the mailbox are handled: a burst of client calls or peer
// messages becomes one write batch (group commit) and one outbox, not one per input.
void schedule_drain(self_ptr self) {
  auto& st = self->state;
  if (st.drain_scheduled) return;
  st.drain_scheduled = true;
  self->send(self, drain_atom::value);
}

client::node_status make_status(replica_actor_state& st) {
  client::node_status s;
  s.node = st.rep->id();
  s.address = st.cfg.address;
  s.cluster = st.cfg.replica.cluster;
  s.readiness = std::string(to_string(static_cast<readiness>(st.cfg.readiness->load())));
  s.keys = st.rep->value_records();
  if (auto stats = st.cfg.store->stats_uncounted()) {
    s.write_behind_bytes = stats->write_behind_bytes;
    s.log_backlog = stats->log_lsn - std::min(stats->log_lsn, stats->checkpoint_lsn);
    s.checkpoint = stats->checkpoint_lsn;
    s.last_materialize_ms = stats->last_materialize_ms;
    s.write_behind_error = stats->write_behind_error;
  }
  if (st.full) s.storage_error = "writes refused since the store is full: " + st.full->message;
  s.delta_log = st.rep->delta_log_size();
  s.local_updates = st.rep->stats().local_updates;
  s.remote_applied = st.rep->stats().remote_applied;
  if (auto t = st.rep->stored_tombstones()) s.tombstones = *t;
  s.tombstones_collected = st.rep->stats().tombstones_collected;
  s.clock_drift_refusals = st.rep->stats().clock_drift_refusals;
  const uint64_t now = now_ms(st);
  if (auto c = st.rep->clock_problem(now)) s.clock_error = *c;
  s.security = st.cfg.security;
  if (st.cas) s.cas_voters = static_cast<uint32_t>(st.cas->voter_count());
  for (const auto& m : st.rep->members().live_peers()) {
    client::peer_lag lag{m.id, 0, 0};
    auto it = st.rep->peer_vvs().find(m.id);
    const replication::version_vector none;
    const auto& have = it == st.rep->peer_vvs().end() ? none : it->second;
    for (const auto& [origin, c] : st.rep->vv().entries()) lag.behind += c - std::min(c, have.get(origin));
    if (lag.behind > 0) {
      if (auto oldest = st.rep->oldest_lacking_ms(have)) lag.lag_ms = now - std::min(now, *oldest);
    }
    s.peers.push_back(lag);
  }
  return s;
}

// The replica actor's figures for /metrics (actors/metric_families.hpp builds them).
http::node_metrics gather_metrics(replica_actor_state& st) {
  http::node_metrics m = st.metrics;
  std::optional<persistence::store_stats> store;
  if (auto s = st.cfg.store->stats_uncounted()) store = std::move(*s);
  add_replica_families(st.received_by_kind, st.sent_by_kind, st.rep ? &st.rep->stats() : nullptr,
                       st.cas ? &st.cas->stats() : nullptr, store, m.families);
  return m;
}
// A key listing reads every stored value (they are in hash order: value_layout.hpp), which takes
// about a second per million keys: it runs in a thread of its own over the store (whose reads are
// thread-safe) and a copy of the replica's uncommitted keys, so the replica goes on meanwhile.
// Like Redis's SCAN, a key written or deleted while it runs may or may not be listed; every key
// present throughout is. At most max_listings run at once (each is a thread); more are refused
// with `unavailable`.
constexpr size_t max_listings = 4;

// What a listing thread needs: the store, a copy of the replica's uncommitted keys, and where the
// answer goes.
struct listing_job {
  std::shared_ptr<persistence::store> store;
  caf::actor back;  // the replica actor
  uint64_t client_id = 0;
  reply_to to;
  replica::uncommitted_keys mine;
  std::string prefix;
  uint32_t limit = 0;
};

// The listing thread: lists, sends the answer back, quits. The job is a spawn argument, not a
// lambda capture: CAF 0.17 dereferences a null argument tuple when a function actor is spawned
// with no arguments (caf/detail/init_fun_factory.hpp; UBSan: reference binding to null pointer).
caf::behavior key_lister(caf::event_based_actor* w, listing_job job) {
  auto found = replica::list_keys(*job.store, job.prefix, job.limit, job.mine);
  w->send(job.back, keys_listed{job.client_id, std::move(job.to), std::move(found)});
  w->quit();
  return caf::behavior{};
}

void list_keys_elsewhere(self_ptr self, uint64_t client_id, const client::keys& k, reply_to to) {
  auto& st = self->state;
  if (st.listings >= max_listings)
    return respond(st, to, error_response(client_id, error{errc::unavailable, "too many key listings running; try again"}));
  ++st.listings;
  listing_job job{st.cfg.store, caf::actor_cast<caf::actor>(self), client_id, std::move(to),
                  st.rep->uncommitted_under(k.prefix), k.prefix, k.limit};
  self->home_system().spawn<caf::detached>(key_lister, std::move(job));
}

void on_keys_listed(self_ptr self, keys_listed& l) {
  auto& st = self->state;
  --st.listings;
  if (!l.found) {
    respond(st, l.to, error_response(l.client_id, l.found.err()));
  } else {
    client::response r;
    r.id = l.client_id;
    for (auto& [key, type] : *l.found) r.key_list.push_back(client::key_type{std::move(key), type});
    respond(st, l.to, std::move(r));
  }
  flush_outs(self);
}

void handle_update(self_ptr self, const client::request& req, reply_to& to, const client::update& u) {
  auto& st = self->state;
  if (st.full)
    return respond(st, to, error_response(req.id, error{errc::map_full, "the store is full (" + st.full->message +
                                                                             "); writes are refused until space returns"}));
  crdt::type_tag delete_type = u.type;
  if (u.op == client::op_kind::remove_key && u.path.empty()) {
    auto existing = st.rep->get(u.key);
    if (!existing) return respond(st, to, error_response(req.id, existing.err()));
    if (existing->empty()) {
      client::response r = error_response(req.id, error{errc::ok, ""});
      r.outcome = client::update_outcome{};
      return respond(st, to, std::move(r));
    }
    delete_type = existing->front().type();
  }
  auto plan = plan_update(u, delete_type);
  if (!plan) return respond(st, to, error_response(req.id, plan.err()));
  uint64_t rid = st.next_request++;
  const bool reply_value = plan->response.update_value;  // the response is moved into the call
  st.calls.emplace(rid, waiting_call{req.id, u.key, std::move(to), st.burst_time ? st.burst_time->steady_us : steady_us(),
                                     std::move(plan->response)});
  st.rep->update(rid, u.key, plan->key_type, plan->mutate, to_replication(req.level), req.timeout_ms,
                 st.burst_time ? st.burst_time->wall_ms : now_ms(st), plan->touches ? &*plan->touches : nullptr,
                 reply_value);
}

// Handles one request of `session`; its response goes to `to`, a watch's events to `on_event`.
void handle_request(self_ptr self, uint64_t session, client::request& req, reply_to to,
                    std::function<void(client::event)> on_event) {
  auto& st = self->state;
  auto ok_response = [&] {
    client::response r;
    r.id = req.id;
    return r;
  };
  if (!st.rep || st.stopping || st.handing_off)
    return respond(st, to, error_response(req.id, error{errc::unavailable, "the node is stopping"}));
  auto& body = req.body;
  if (auto* u = std::get_if<client::update>(&body)) {
    handle_update(self, req, to, *u);
  } else if (auto* g = std::get_if<client::get>(&body)) {
    if (auto ok = check_view(*g); !ok) return respond(st, to, error_response(req.id, ok.err()));
    uint64_t rid = st.next_request++;
    st.calls.emplace(rid, waiting_call{req.id, g->key, std::move(to), 0, plan_read(*g)});
    auto view = set_view_of(*g);
    st.rep->read(rid, g->key, to_replication(req.level), req.timeout_ms, now_ms(st), view ? &*view : nullptr);
  } else if (auto* k = std::get_if<client::keys>(&body)) {
    list_keys_elsewhere(self, req.id, *k, std::move(to));
  } else if (auto* w = std::get_if<client::watch>(&body)) {
    if (!on_event) return respond(st, to, error_response(req.id, error{errc::invalid_argument, "watch without a receiver"}));
    st.watches[{session, req.id}] = watch_entry{w->prefix, std::move(on_event), w->set_changes, w->field_changes};
    respond(st, to, ok_response());
  } else if (auto* uw = std::get_if<client::unwatch>(&body)) {
    st.watches.erase({session, uw->watch_id});
    respond(st, to, ok_response());
  } else if (std::holds_alternative<client::members>(body)) {
    client::response r = ok_response();
    for (const auto& m : st.rep->members().snapshot())
      r.member_list.push_back(client::member_info{m.id, m.address, static_cast<uint8_t>(m.status), m.incarnation});
    respond(st, to, std::move(r));
  } else if (std::holds_alternative<client::cas>(body) || std::holds_alternative<client::lget>(body)) {
    if (!st.cas) return respond(st, to, error_response(req.id, error{errc::unavailable, "the node is starting"}));
    std::function<void(client::response)> fn = std::move(to.fn);
    if (!fn) fn = [self, to](client::response r) mutable { respond(self->state, to, std::move(r)); };
    st.cas->submit(req, std::move(fn), now_ms(st));
    drain_cas(self);
  } else if (std::holds_alternative<client::status>(body)) {
    client::response r = ok_response();
    r.node = make_status(st);
    respond(st, to, std::move(r));
  }
  schedule_drain(self);
}

void handle_call(self_ptr self, call& c) {
  reply_to to;
  to.fn = c.reply ? std::move(c.reply) : [](client::response) {};
  handle_request(self, c.session, c.req, std::move(to), std::move(c.on_event));
}

// A client connection's burst: each request in order; the answers of this step leave together.
void handle_burst(self_ptr self, client_burst& b) {
  self->state.burst_time = replica_actor_state::burst_clock{now_ms(self->state), steady_us()};
  struct forget {  // however this ends: a later request reads the clocks again
    replica_actor_state& st;
    ~forget() { st.burst_time.reset(); }
  } forget_clock{self->state};
  for (auto& req : b.requests) {
    reply_to to;
    to.session = b.session;
    to.transport = b.transport;
    std::function<void(client::event)> on_event;
    if (std::holds_alternative<client::watch>(req.body)) {
      // Events are produced inside the actor's steps (notify_watchers), flushed with their step.
      on_event = [self, session = b.session, transport = b.transport](client::event e) {
        post_frame(self->state, session, transport, client::client_message{std::move(e)});
      };
    }
    handle_request(self, b.session, req, std::move(to), std::move(on_event));
  }
  flush_outs(self);
}

// A commit failed: fail what waited on the lost state and rebuild the replica from the store.
void recover(self_ptr self, const error& e) {
  auto& st = self->state;
  st.cfg.log->error("storage commit failed: {}; rebuilding the replica from the store", e.describe());
  for (auto& [rid, w] : st.calls)
    respond(st, w.to, error_response(w.client_id, error{e.code == errc::map_full ? errc::map_full : errc::unavailable,
                                                        "storage failure, not acknowledged: " + e.message}));
  st.calls.clear();
  ++st.generation;    // batches of the old replica still on their way are never committed
  st.parked.clear();  // ... nor those parked while the store was full
  if (e.code == errc::map_full) {
    if (!st.full) {
      st.cfg.log->error("the store is full: writes are refused until space returns (probing every second)");
      st.full_since_ms = now_ms(st);
    }
    st.full = e;
    st.next_probe_ms = now_ms(st) + 1000;
  }
  auto fresh = std::make_shared<replica>(*st.cfg.store, st.cfg.address, st.cfg.replica, st.cfg.rng_seed + 1);
  if (auto ok = fresh->load(now_ms(st)); !ok) {
    st.cfg.log->critical("cannot reload the replica: {}", ok.err().describe());
    set_readiness(st, readiness::failed);
    st.rep.reset();
    return;
  }
  fresh->start(st.cfg.seeds, now_ms(st));
  st.rep = std::move(fresh);
  // Batches the old replica had in flight are being committed or failed by the storage actor;
  // their results must not reach the new replica, whose batch ids start at 1 again.
  st.last_batch_reported = st.last_batch_sent;
  st.batch_base = st.last_batch_sent;
}

void finish_stop(self_ptr self) {
  auto& st = self->state;
  if (st.stop_sent) return;
  st.stop_sent = true;
  if (st.transport) self->send(st.transport, stop_atom::value);
  if (!st.storage) {
    set_readiness(st, readiness::stopped);
    st.stop_promise.deliver(caf::ok_atom::value);
    self->quit();
    return;
  }
  self->request(st.storage, std::chrono::seconds(30), stop_atom::value)
      .then([=](caf::atom_value) mutable {
              set_readiness(self->state, readiness::stopped);
              self->state.stop_promise.deliver(caf::ok_atom::value);
              self->quit();
            },
            [=](caf::error&) mutable {
              set_readiness(self->state, readiness::stopped);
              self->state.stop_promise.deliver(caf::ok_atom::value);
              self->quit();
            });
}

// Hands the batches parked while the store was full to the storage actor (in order).
void send_parked(self_ptr self) {
  auto& st = self->state;
  if (st.parked.empty()) return;
  self->send(st.storage, storage_batches{std::move(st.parked), 0, st.generation});
  st.parked.clear();
}

// While the store is full: once a second, asks the storage actor whether it takes writes again;
// when it does, writes are accepted again and the parked batches go to storage.
void probe_space(self_ptr self) {
  auto& st = self->state;
  if (!st.full || st.probing || now_ms(st) < st.next_probe_ms) return;
  st.probing = true;
  self->request(st.storage, std::chrono::seconds(30), probe_atom::value)
      .then(
          [=](caf::atom_value) {
            auto& s = self->state;
            s.probing = false;
            if (!s.full) return;
            s.cfg.log->info("the store takes writes again after {} ms; writes are accepted", now_ms(s) - s.full_since_ms);
            s.full.reset();
            send_parked(self);
          },
          [=](caf::error& e) {
            auto& s = self->state;
            s.probing = false;
            s.next_probe_ms = now_ms(s) + 1000;
            s.cfg.log->debug("the store is still full: {}", self->system().render(e));
          });
}

// Stops after the hand-off (or at once): leaves the membership when `leave`, hands the open batch
// (and any parked ones) to storage, fails the calls still waiting, and finishes once storage has
// reported every batch.
void complete_stop(self_ptr self, bool leave) {
  auto& st = self->state;
  st.handing_off = false;
  if (st.rep && st.started && leave) st.rep->leave(now_ms(st));
  if (st.started) drain(self);  // also hands a batch still open (schedule_drain) to storage
  st.stopping = true;
  send_parked(self);
  set_readiness(st, readiness::stopping);
  for (auto& [rid, w] : st.calls)
    respond(st, w.to, error_response(w.client_id, error{errc::unavailable, "the node stopped before the request completed (an update may still have been applied)"}));
  st.calls.clear();
  flush_outs(self);
  if (st.cas) st.cas->stop();
  if (!st.started || st.last_batch_reported >= st.last_batch_sent) {
    finish_stop(self);
  } else {
    // Bounded: stop anyway if the storage actor does not report in time.
    self->delayed_send(self, std::chrono::seconds(10), flush_atom::value);
  }
}

// One step of a graceful stop's hand-off (on the stop request, then each tick): asks the peers
// that lack our updates for their vectors at most every 100 ms; completes the stop once none
// lacks them, or when the hand-off time is up.
void continue_handoff(self_ptr self) {
  auto& st = self->state;
  uint64_t now = now_ms(st);
  bool ask = st.handoff_asked_ms == 0 || now - st.handoff_asked_ms >= 100;
  if (ask) st.handoff_asked_ms = now;
  size_t lacking = st.rep->hand_off(now, ask);
  drain(self);
  uint64_t spent = now - std::min(now, st.handoff_started_ms);
  if (lacking > 0 && spent < st.cfg.leave_handoff_ms) return;
  if (lacking > 0)
    st.cfg.log->warn("leaving although {} live peer(s) are not known to hold all of this node's updates "
                     "after {} ms; they reach the cluster when this node returns", lacking, spent);
  else if (spent > 0)
    st.cfg.log->info("hand-off: every live peer holds this node's updates ({} ms)", spent);
  complete_stop(self, true);
}

caf::behavior replica_actor(self_ptr self, replica_actor_config cfg) {
  self->state.cfg = std::move(cfg);
  auto gossip = self->state.cfg.replica.gossip_interval_ms;
  self->state.tick_ms = std::clamp<uint64_t>(gossip / 4, 5, 50);
  return {
      [=](keys_listed& l) { on_keys_listed(self, l); },
      [=](replica_init& init) {
        auto& st = self->state;
        st.rep = std::move(init.rep);
        st.transport = std::move(init.transport);
        st.storage = std::move(init.storage);
        st.cfg.address = std::move(init.address);
        st.rep->start(st.cfg.seeds, now_ms(st));
        st.started = true;
        st.cas = std::make_unique<cas_lane>(*st.cfg.store, st.cfg.cas_voters, st.cfg.cas, st.cfg.rng_seed ^ 0xCA5);
        if (auto ok = st.cas->load(); !ok) {
          st.cfg.log->error("compare-and-set lane: cannot load its state: {}; the lane is disabled",
                            ok.err().describe());
          st.cas = std::make_unique<cas_lane>(*st.cfg.store, std::vector<std::string>{}, st.cfg.cas, 0);
        }
        if (auto v = st.cas->resolve(st.rep->members(), st.rep->id(), st.cfg.address))
          st.cfg.log->info("compare-and-set lane voters: {}", *v);
        drain(self);
        self->delayed_send(self, std::chrono::milliseconds(st.tick_ms), tick_atom::value);
      },
      [=](call& c) { handle_call(self, c); },
      [=](client_burst& b) { handle_burst(self, b); },
      [=](peer_message& m) {
        auto& st = self->state;
        if (!st.rep) return;
        if (st.full && !replication::is_membership_message(m.msg)) return;  // nowhere to store it
        ++st.received_by_kind[m.msg.index()];
        const uint64_t applied_before = st.rep->stats().remote_applied;
        if (const auto* ds = deltas_of(m.msg)) {
          const uint64_t wall = now_ms(st);
          for (const auto& e : *ds) {
            if (e.seq <= st.rep->vv().get(e.origin)) continue;  // had it: not this delta's first arrival
            const uint64_t origin_ms = crdt::hlc_timestamp{e.record.hlc}.physical_ms();
            st.metrics.sync_transfer.observe(static_cast<double>(wall - std::min(wall, origin_ms)) / 1e3);
          }
        }
        st.rep->receive(m.from, m.msg, now_ms(st));
        if (const uint64_t applied = st.rep->stats().remote_applied - applied_before; applied > 0)
          st.applied_unsent.emplace_back(steady_us(), applied);
        // A chunk of a streamed pull with more to come is its own batch: its commit overlaps the
        // apply of the chunks behind it, and its request for more leaves once it is durable
        // rather than after the whole window (PROTOCOL.md, "Streamed pull").
        if (const auto* r = std::get_if<replication::sync_response>(&m.msg); r != nullptr && r->more) drain(self);
        else schedule_drain(self);
      },
      [=](cas_peer_message& m) {
        auto& st = self->state;
        if (!st.cas || st.stopping) return;
        st.cas->receive(m.from, m.msg, now_ms(st));
        drain_cas(self);
      },
      [=](storage_result& r) {
        auto& st = self->state;
        if (r.lane == 1) {
          if (!st.cas) return;
          st.cas->committed(r.last_committed);
          if (r.failure) {
            st.cfg.log->error("compare-and-set lane: storage commit failed: {}; rebuilding the lane from the store",
                              r.failure->describe());
            if (auto ok = st.cas->commit_failed(r.failed_batch, *r.failure, now_ms(st)); !ok)
              st.cfg.log->critical("compare-and-set lane: cannot reload: {}", ok.err().describe());
          }
          drain_cas(self);
          return;
        }
        if (!st.rep || r.lane != 0) return;
        ++st.metrics.commits;
        {
          const int64_t now = steady_us();
          while (!st.batches_sent.empty() && st.batches_sent.front().first <= r.last_committed) {
            st.metrics.commit.observe(static_cast<double>(now - st.batches_sent.front().second) / 1e6);
            st.batches_sent.pop_front();
          }
          while (!st.applied_in_batch.empty() && std::get<0>(st.applied_in_batch.front()) <= r.last_committed) {
            const auto& [batch, at, n] = st.applied_in_batch.front();
            st.metrics.sync_apply.observe(static_cast<double>(now - at) / 1e6, n);
            st.applied_in_batch.pop_front();
          }
        }
        // Results for batches of a replica that was replaced are ignored (ids <= reported).
        while (st.last_batch_reported < r.last_committed) {
          ++st.last_batch_reported;
          if (st.last_batch_reported > st.batch_base) st.rep->committed(st.last_batch_reported - st.batch_base);
        }
        if (r.failure && r.failed_batch > st.last_batch_reported) {
          st.rep->commit_failed(r.failed_batch - st.batch_base, *r.failure);
          recover(self, *r.failure);
        }
        drain(self);
        if (st.stopping && st.last_batch_reported >= st.last_batch_sent) finish_stop(self);
      },
      [=](tick_atom) {
        auto& st = self->state;
        if (st.stopping) return;
        if (st.rep) {
          st.rep->tick(now_ms(st));
          drain(self);
          probe_space(self);
          auto clock = st.rep->clock_problem(now_ms(st));
          if (clock && !st.clock_refused) st.cfg.log->error("{}", *clock);
          if (!clock && st.clock_refused) st.cfg.log->info("this node's clock agrees with its peers again; local writes are accepted");
          st.clock_refused = clock.has_value();
          log_membership(st);
          if (st.cas) {
            if (auto v = st.cas->resolve(st.rep->members(), st.rep->id(), st.cfg.address))
              st.cfg.log->info("compare-and-set lane voters: {}", *v);
            st.cas->tick(now_ms(st));
            drain_cas(self);
          }
          if (st.handing_off) continue_handoff(self);
        }
        if (!st.stopping) self->delayed_send(self, std::chrono::milliseconds(st.tick_ms), tick_atom::value);
      },
      [=](stop_atom, bool leave) -> caf::response_promise {
        auto& st = self->state;
        auto rp = self->make_response_promise();
        if (st.stopping || st.handing_off) {
          rp.deliver(caf::ok_atom::value);
          return rp;
        }
        st.stop_promise = rp;
        if (st.rep && st.started && leave) {
          // Hand our own updates to the live peers first (ticks go on; clients are refused).
          st.handing_off = true;
          st.handoff_started_ms = now_ms(st);
          set_readiness(st, readiness::stopping);
          drain(self);  // the open batch goes to storage now: it can be handed off once committed
          continue_handoff(self);
          return rp;
        }
        complete_stop(self, false);
        return rp;
      },
      [=](flush_atom) { finish_stop(self); },
      [=](metrics_atom) -> http::node_metrics { return gather_metrics(self->state); },
      [=](drain_atom) {
        self->state.drain_scheduled = false;
        drain(self);
      },
  };
}

}  // namespace

caf::actor spawn_replica_actor(caf::actor_system& sys, replica_actor_config cfg) {
  return sys.spawn(replica_actor, std::move(cfg));
}

}  // namespace rumor::actors
