#include "actors/node.hpp"

#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "client/host_port.hpp"
#include "client/render.hpp"
#include "actors/actor_messages.hpp"
#include "actors/replica_actor.hpp"
#include "actors/storage_actor.hpp"
#include "actors/transport.hpp"
#include "crdt/codec.hpp"
#include "http/http_server.hpp"
#include "persistence/lmdb_store.hpp"
#include "replication/value_layout.hpp"
#include "security/tokens.hpp"

namespace rumor::actors {

std::string_view to_string(readiness r) noexcept {
  switch (r) {
    case readiness::loading: return "loading";
    case readiness::joining: return "joining";
    case readiness::ready: return "ready";
    case readiness::stopping: return "stopping";
    case readiness::stopped: return "stopped";
    case readiness::failed: return "failed";
  }
  return "unknown";
}

namespace op {
operation increment(int64_t by) {
  operation o;
  o.op = client::op_kind::counter_add;
  o.type = crdt::type_tag::pn_counter;
  o.amount = by;
  return o;
}
operation decrement(int64_t by) { return increment(-by); }
operation grow(uint64_t by) {
  operation o = increment(static_cast<int64_t>(by));
  o.type = crdt::type_tag::g_counter;
  return o;
}
operation set(std::string value) {
  operation o;
  o.op = client::op_kind::register_set;
  o.type = crdt::type_tag::lww_register;
  o.value = std::move(value);
  return o;
}
operation mv_put(std::string value, std::optional<std::string> context, bool conditional) {
  operation o;
  o.op = client::op_kind::mv_put;
  o.type = crdt::type_tag::mv_register;
  o.value = std::move(value);
  o.context = std::move(context);
  o.conditional = conditional;
  return o;
}
operation add(std::vector<std::string> members) {
  operation o;
  o.op = client::op_kind::set_add;
  o.type = crdt::type_tag::or_set;
  o.members = std::move(members);
  return o;
}
operation remove(std::vector<std::string> members) {
  operation o = add(std::move(members));
  o.op = client::op_kind::set_remove;
  return o;
}
operation flag(bool on) {
  operation o;
  o.op = client::op_kind::flag_set;
  o.type = crdt::type_tag::ew_flag;
  o.flag = on;
  return o;
}
operation splice(uint64_t pos, uint64_t del, std::string text, std::optional<std::string> context, bool conditional) {
  operation o;
  o.op = client::op_kind::splice;
  o.type = crdt::type_tag::text;
  o.position = pos;
  o.delete_count = del;
  o.value = std::move(text);
  o.context = std::move(context);
  o.conditional = conditional;
  return o;
}
operation del() {
  operation o;
  o.op = client::op_kind::remove_key;
  return o;
}
operation in_map(std::vector<std::string> path, operation inner) {
  path.insert(path.end(), inner.path.begin(), inner.path.end());
  inner.path = std::move(path);
  return inner;
}
operation map_remove(std::vector<std::string> path, crdt::type_tag field_type) {
  operation o;
  o.op = client::op_kind::remove_key;
  o.type = field_type;
  o.path = std::move(path);
  return o;
}
}  // namespace op

namespace {

struct system_config : caf::actor_system_config {
  explicit system_config(size_t threads) {
    load<caf::io::middleman>();
    set("scheduler.max-threads", std::max<size_t>(threads, 1));
    // One shared job queue whose idle workers block on a condition variable. CAF's default
    // work-stealing workers poll and nanosleep (50 µs) while idle, which on a node with a few
    // busy actors and a handful of its own threads (storage, materializer, multiplexer) takes
    // CPU from them: `rumor bench replicate` went from ~35k to ~49k updates/s on 2 cores.
    set("scheduler.policy", caf::atom("sharing"));
    set("logger.verbosity", caf::atom("quiet"));
  }
};

result<std::pair<std::string, uint16_t>> split_address(const std::string& a) {
  auto colon = a.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return error{errc::invalid_argument, "address '" + a + "' is not HOST:PORT"};
  std::string host = a.substr(0, colon);
  std::string port = a.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) > 65535)
    return error{errc::invalid_argument, "address '" + a + "' has no valid port (0..65535)"};
  return std::pair{host, static_cast<uint16_t>(std::stoul(port))};
}

// The context a later write passes back: for mv-registers exactly the siblings' dots (what a
// conditional put checks), otherwise the value's whole causal context.
std::string context_of(const crdt::value& v) {
  if (const auto* mv = v.get_if<crdt::mv_register>()) return crdt::encode_context(mv->read_context());
  return crdt::encode_context(v.context());
}

// `key_type`: the type the update's key holds (the empty value's, when the response has none).
result<entry> entry_of(const std::string& key, const client::response& r, crdt::type_tag key_type) {
  if (r.code != errc::ok) return error{r.code, r.message};
  client::update_outcome outcome = r.outcome.value_or(client::update_outcome{});
  if (r.values.empty()) return entry{key, crdt::value::empty_of(key_type), {}, outcome};
  auto v = crdt::decode(r.values.front().value);
  if (!v) return v.err();
  std::string ctx = context_of(*v);
  return entry{key, std::move(*v), std::move(ctx), outcome};
}

crdt::type_tag key_type_of(const client::update& u) { return u.path.empty() ? u.type : crdt::type_tag::or_map; }

// The transport's credentials from the config's files (TLS context, client tokens).
result<actors::transport_credentials> load_credentials(const node_config& cfg,
                                                       const std::shared_ptr<spdlog::logger>& log) {
  actors::transport_credentials c;
  if (cfg.tls.enabled()) {
    if (cfg.tls.cert.empty())
      return error{errc::invalid_argument, "TLS on a node needs its certificate and key (--tls-cert, --tls-key)"};
    auto ctx = security::tls_context::load(cfg.tls);
    if (!ctx) return ctx.err();
    const auto& own = (*ctx)->own();
    if (own.role() != security::cert_role::node)
      log->warn("the certificate {} is not a node certificate ({}): peers will refuse this node", cfg.tls.cert,
                own.describe());
    if (int64_t left = own.seconds_left(); left <= 0)
      log->error("the certificate {} has expired: peers and clients will refuse this node (renew it, then SIGHUP)",
                 cfg.tls.cert);
    else if (left < 14 * 86400)
      log->warn("the certificate {} expires in {} days (renew it, then SIGHUP)", cfg.tls.cert, left / 86400);
    c.tls = std::move(*ctx);
  }
  if (!cfg.client_token_file.empty()) {
    auto t = security::load_tokens(cfg.client_token_file);
    if (!t) return t.err();
    c.client_tokens = std::move(*t);
    if (!c.tls) log->warn("client tokens without TLS travel in plaintext: use them with --tls-ca");
  }
  return c;
}

// True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost).
bool is_loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

}  // namespace

struct node::impl {
  node_config cfg;
  std::shared_ptr<spdlog::logger> log;
  std::shared_ptr<persistence::store> store;
  std::unique_ptr<system_config> sys_cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor replica;
  caf::actor transport;
  caf::actor storage;
  std::shared_ptr<std::atomic<uint8_t>> readiness = std::make_shared<std::atomic<uint8_t>>(0);
  std::string address;
  uint64_t id = 0;
  std::atomic<uint64_t> next_id{1};
  uint64_t session = 1;  // the embedding API's session for watches
  std::mutex stop_mutex;
  bool stopped = false;
  std::unique_ptr<http::server> http;  // stopped first: it calls into the node
  std::string security;  // actors::security_mode of the credentials it started with

  void send_call(client::request req, std::function<void(client::response)> reply,
                 std::function<void(client::event)> on_event = {}) {
    if (req.id == 0) req.id = next_id++;
    if (stopped || !replica) {
      reply(client::response{req.id, errc::unavailable, "the node is stopped", {}, {}, {}, {}});
      return;
    }
    caf::anon_send(replica, actors::call{session, std::move(req), std::move(reply), std::move(on_event)});
  }

  // Blocks for the response; bounded by the request timeout plus a margin.
  client::response call_sync(client::request req) {
    auto p = std::make_shared<std::promise<client::response>>();
    auto f = p->get_future();
    uint64_t timeout = req.timeout_ms;
    uint64_t id = req.id;
    send_call(std::move(req), [p](client::response r) { p->set_value(std::move(r)); });
    if (f.wait_for(std::chrono::milliseconds(timeout + 10'000)) != std::future_status::ready)
      return client::response{id, errc::timeout, "the node did not answer in time", {}, {}, {}, {}};
    return f.get();
  }

  void shutdown(bool leave = true) {
    // The HTTP endpoint first, without the lock: its handlers call into the node (metrics() takes
    // the lock) and stop() waits for them.
    if (http) http->stop();
    std::lock_guard<std::mutex> lock(stop_mutex);
    if (stopped) return;
    stopped = true;
    if (replica) {
      caf::scoped_actor self{*sys};
      self->request(replica, std::chrono::seconds(30), actors::stop_atom::value, leave)
          .receive([](caf::atom_value) {}, [this](caf::error& e) {
            log->warn("stop: the replica actor did not confirm: {}", caf::to_string(e));
          });
      self->wait_for(replica);
      // Storage and transport quit at the replica's request (finish_stop); should the replica
      // have quit without that (its request to storage timed out), they are stopped here so that
      // the actor system can end. An actor that has quit drops the message.
      if (storage) {
        self->send_exit(storage, caf::exit_reason::user_shutdown);
        self->wait_for(storage);
      }
    }
    if (transport) caf::anon_send(transport, actors::stop_atom::value);
    replica = nullptr;
    storage = nullptr;
    transport = nullptr;
    sys.reset();  // waits for every actor (transport and storage have quit)
    store.reset();
    readiness->store(static_cast<uint8_t>(readiness::stopped));
  }
};

node::node(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
node::~node() { stop(); }
void node::stop() { impl_->shutdown(); }
void node::stop_without_leaving() { impl_->shutdown(false); }

result<std::unique_ptr<node>> node::start(node_config cfg) {
  auto p = std::make_unique<impl>();
  p->log = cfg.log ? cfg.log
                   : std::make_shared<spdlog::logger>("rumor", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  if (cfg.data_dir.empty()) return error{errc::invalid_argument, "no data directory given"};
  auto listen = split_address(cfg.listen);
  if (!listen) return listen.err();
  if (cfg.cluster.empty()) return error{errc::invalid_argument, "the cluster name is empty"};
  if (cfg.gossip_interval_ms == 0) return error{errc::invalid_argument, "the gossip interval must be at least 1 ms"};
  if (cfg.fanout == 0) return error{errc::invalid_argument, "the fanout must be at least 1"};

  auto credentials = load_credentials(cfg, p->log);
  if (!credentials) return credentials.err();  // before the data directory is touched
  if (!credentials->tls && !is_loopback_host(listen->first))
    p->log->warn("listening on {} without TLS: anyone who reaches this port can join the cluster and read and "
                 "write every key (README \"Security\": --tls-ca, --tls-cert, --tls-key)",
                 cfg.listen);

  persistence::options opts;
  opts.dir = cfg.data_dir;
  opts.mode = cfg.durability;
  if (cfg.write_behind_bytes < (uint64_t{1} << 20))
    return error{errc::invalid_argument, "the write-behind memory must be at least 1 MiB"};
  opts.write_behind_bytes = cfg.write_behind_bytes;
  opts.materialize_bytes = std::min(opts.materialize_bytes, cfg.write_behind_bytes / 4);
  auto opened = persistence::lmdb_store::open(opts);
  if (!opened) return opened.err();
  p->store = std::shared_ptr<persistence::store>(std::move(*opened));
  p->id = p->store->node_id();

  replication::replica_config rcfg = cfg.replica;
  rcfg.cluster = cfg.cluster;
  rcfg.gossip_interval_ms = cfg.gossip_interval_ms;
  rcfg.fanout = cfg.fanout;

  p->sys_cfg = std::make_unique<system_config>(cfg.threads);
  p->sys = std::make_unique<caf::actor_system>(*p->sys_cfg);

  uint64_t seed = std::random_device{}() ^ (p->id * 0x9E3779B97F4A7C15ull);
  actors::replica_actor_config ac;
  ac.store = p->store;
  ac.replica = rcfg;
  ac.seeds = cfg.seeds;
  ac.cas_voters = cfg.cas_voters;
  ac.cas = cfg.cas;
  ac.rng_seed = seed;
  ac.leave_handoff_ms = cfg.leave_handoff_ms;
  ac.log = p->log;
  ac.readiness = p->readiness;
  ac.max_response_bytes = cfg.max_frame_bytes;
  ac.security = actors::security_mode(*credentials);
  p->security = ac.security;
  p->replica = actors::spawn_replica_actor(*p->sys, ac);

  actors::transport_config tc;
  tc.cluster = cfg.cluster;
  tc.self = p->id;
  tc.listen_host = listen->first;
  tc.listen_port = listen->second;
  tc.advertise = cfg.advertise;
  tc.max_frame_bytes = cfg.max_frame_bytes;
  tc.log = p->log;
  auto tls_ctx = credentials->tls;  // for the check of the announced host below
  tc.credentials = std::move(*credentials);
  auto t = actors::spawn_transport(*p->sys, tc, p->replica);
  if (!t) {
    p->shutdown();
    return t.err();
  }
  p->transport = t->broker;
  p->address = t->address;
  if (auto hp = client::parse_host_port(p->address); tls_ctx && hp) {
    const std::string& host = hp->host;
    if (!tls_ctx->own().names_host(host))
      p->log->warn("this node announces {}, and its certificate ({}) does not name {}: peers will refuse it (make "
                   "one with `rumor certs node --host {}`, or set --advertise to a host it names)",
                   p->address, tls_ctx->own().describe(), host, host);
  }

  // A data directory of an older build moves its values to layout 2 once (value_layout.hpp).
  auto upgraded = replication::upgrade_value_layout(*p->store, rcfg.bucket_bits, [&](uint64_t moved, uint64_t total) {
    p->log->info("upgrading the value layout of {}: {} of {} keys moved", cfg.data_dir, moved, total);
  });
  if (!upgraded) {
    p->shutdown();
    return error{upgraded.err().code, "upgrading the value layout of " + cfg.data_dir + ": " + upgraded.err().message};
  }
  auto rep = std::make_shared<replication::replica>(*p->store, p->address, rcfg, seed);
  if (auto ok = rep->load(actors::wall_clock_ms()); !ok) {
    p->shutdown();
    return error{ok.err().code, "loading " + cfg.data_dir + ": " + ok.err().message};
  }
  // Held by the node only (impl::storage): a handle left in this scope would keep the actor alive
  // while a failed start below stops the node, and its thread waits for that.
  p->storage = actors::spawn_storage(*p->sys, p->store, p->replica);
  p->cfg = std::move(cfg);
  auto n = std::unique_ptr<node>(new node(std::move(p)));
  // The HTTP endpoint binds before the replica starts: until replica_init, client requests (and
  // so a readiness probe) are answered `unavailable`, so a node that answers has every listener
  // it was asked for, and a busy --http port fails the start before the node serves anyone.
  if (!n->impl_->cfg.http.empty()) {
    if (auto h = split_address(n->impl_->cfg.http); h && !is_loopback_host(h->first))
      n->impl_->log->warn("the HTTP endpoint on {} has no TLS and no authentication: anyone who reaches it can read "
                          "and write every key (keep it on loopback, or behind a proxy that authenticates)",
                          n->impl_->cfg.http);
    node* self = n.get();
    http::backend b;
    b.submit = [self](client::request req, std::function<void(client::response)> reply) {
      self->impl_->send_call(std::move(req), std::move(reply));
    };
    b.watch = [self](std::string prefix, bool set_changes, bool field_changes,
                     std::function<void(const http::watch_event&)> fn) {
      auto each = [fn = std::move(fn)](const change& c) {
        fn(http::watch_event{c.key, c.value, c.origin, c.set, c.value_omitted});
      };
      return self->subscribe(std::move(prefix), std::move(each), set_changes, field_changes);
    };
    b.unwatch = [self](uint64_t id) { self->unsubscribe(id); };
    b.metrics = [self] { return self->metrics(); };
    auto s = http::server::start(http::server_config{n->impl_->cfg.http, 8, 4, 10'000, n->impl_->log}, std::move(b));
    if (!s) return s.err();  // the node stops as `n` goes
    n->impl_->http = std::move(*s);
  }
  auto& im = *n->impl_;
  caf::anon_send(im.replica, actors::replica_init{rep, im.transport, im.storage, im.address});
  im.log->info("node {:016x} listening on {} (cluster '{}', data {})", im.id, im.address, im.cfg.cluster,
               im.cfg.data_dir);
  return n;
}

namespace {

// The transport's figures as /metrics families (docs/http-api.md, "Metrics").
void add_transport_families(const actors::transport_stats& t, std::vector<http::family>& out) {
  using http::family;
  auto d = [](uint64_t v) { return static_cast<double>(v); };
  out.push_back(family{"rumor_connections", "gauge", "Open connections, by role (pending: before their hello).",
                       {{"role=\"peer\"", d(t.peer_connections)},
                        {"role=\"client\"", d(t.client_connections)},
                        {"role=\"pending\"", d(t.open_connections - std::min(t.open_connections,
                                                                                t.peer_connections + t.client_connections))}}});
  out.push_back(family::one("rumor_connections_accepted_total", "counter", "Connections accepted.", d(t.accepted)));
  out.push_back(family::one("rumor_connections_dialed_total", "counter", "Outgoing connections established.", d(t.dialed)));
  out.push_back(family::one("rumor_dial_failures_total", "counter", "Outgoing connection attempts that failed.",
                            d(t.dial_failures)));
  out.push_back(family::one("rumor_connections_refused_total", "counter",
                            "Connections closed for a bad hello, a bad frame or a timeout.", d(t.refused)));
  out.push_back(family::one("rumor_tls_failures_total", "counter",
                            "TLS handshakes or sessions that failed (untrusted or expired certificates, not TLS).",
                            d(t.tls_failures)));
  out.push_back(family::one("rumor_auth_refused_total", "counter",
                            "Hellos refused for their credentials (certificate role or host, client token).",
                            d(t.auth_refused)));
  out.push_back(family::one("rumor_handshakes_evicted_total", "counter",
                            "Pending handshakes closed to make room for newer ones (max pending handshakes).",
                            d(t.handshakes_evicted)));
  out.push_back(family::one("rumor_peer_messages_dropped_total", "counter",
                            "Peer messages not sent: the peer's backlog was full, it was not reachable, or no route.",
                            d(t.dropped)));
  out.push_back(family{"rumor_network_received_bytes_total", "counter", "Bytes of frames received, by connection role.",
                       {{"role=\"peer\"", d(t.peer_bytes_in)}, {"role=\"client\"", d(t.client_bytes_in)}}});
  out.push_back(family{"rumor_network_sent_bytes_total", "counter", "Bytes of frames written, by connection role.",
                       {{"role=\"peer\"", d(t.peer_bytes_out)}, {"role=\"client\"", d(t.client_bytes_out)}}});
  family in{"rumor_peer_received_bytes_total", "counter", "Bytes of peer messages received, by kind.", {}};
  family sent{"rumor_peer_sent_bytes_total", "counter",
              "Bytes of peer messages encoded for sending, by kind (dropped ones included).", {}};
  for (std::size_t k = 0; k < actors::transport_stats::peer_kinds; ++k) {
    const std::string label = std::string("kind=\"") + actors::peer_kind_name(k) + "\"";
    in.samples.emplace_back(label, d(t.received_bytes_by_kind[k]));
    sent.samples.emplace_back(label, d(t.sent_bytes_by_kind[k]));
  }
  out.push_back(std::move(in));
  out.push_back(std::move(sent));
}

}  // namespace

uint64_t node::id() const noexcept { return impl_->id; }
std::string node::address() const { return impl_->address; }
std::optional<http::node_metrics> node::metrics() {
  std::lock_guard<std::mutex> lock(impl_->stop_mutex);
  if (impl_->stopped || !impl_->replica) return std::nullopt;
  std::optional<http::node_metrics> out;
  caf::scoped_actor self{*impl_->sys};
  self->request(impl_->replica, std::chrono::seconds(2), actors::metrics_atom::value)
      .receive([&](http::node_metrics& m) { out = std::move(m); }, [](caf::error&) {});
  if (!out || !impl_->transport) return out;
  self->request(impl_->transport, std::chrono::seconds(2), caf::get_atom::value)
      .receive([&](const actors::transport_stats& t) { add_transport_families(t, out->families); },
               [](caf::error&) {});
  return out;
}

std::string node::http_address() const { return impl_->http ? impl_->http->address() : std::string{}; }
readiness node::state() const noexcept { return static_cast<readiness>(impl_->readiness->load()); }

bool node::wait_ready(std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (state() != readiness::ready) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

namespace {
client::request make_request(const op_options& o) {
  client::request r;
  r.level = o.level;
  r.timeout_ms = static_cast<uint32_t>(std::max<int64_t>(o.timeout.count(), 0));
  return r;
}

client::request update_request(std::string key, operation op, const op_options& o) {
  op.key = std::move(key);
  op.return_value = o.return_value;
  auto req = make_request(o);
  req.body = std::move(op);
  return req;
}
}  // namespace

std::future<result<entry>> node::apply_async(std::string key, operation op, op_options o) {
  auto p = std::make_shared<std::promise<result<entry>>>();
  auto f = p->get_future();
  apply_then(std::move(key), std::move(op), o, [p](result<entry> r) { p->set_value(std::move(r)); });
  return f;
}

void node::apply_then(std::string key, operation op, op_options o, std::function<void(result<entry>)> done) {
  auto type = key_type_of(op);
  auto req = update_request(key, std::move(op), o);
  impl_->send_call(std::move(req),
                   [done = std::move(done), key, type](client::response r) { done(entry_of(key, r, type)); });
}

result<entry> node::apply(std::string key, operation op, op_options o) {
  auto type = key_type_of(op);
  auto req = update_request(key, std::move(op), o);
  return entry_of(key, impl_->call_sync(std::move(req)), type);
}

result<client::collection_view> node::view(client::get g, op_options o) {
  auto req = make_request(o);
  req.body = std::move(g);
  auto r = impl_->call_sync(std::move(req));
  if (r.code != errc::ok) return error{r.code, r.message};
  if (!r.collection) return error{errc::decode_error, "the node answered a view without a collection"};
  return std::move(*r.collection);
}

result<std::vector<crdt::value>> node::get_at(client::get g, op_options o) {
  g.view = client::view_kind::value;
  auto req = make_request(o);
  req.body = std::move(g);
  auto r = impl_->call_sync(std::move(req));
  if (r.code != errc::ok) return error{r.code, r.message};
  std::vector<crdt::value> out;
  for (const auto& kv : r.values) {
    auto v = crdt::decode(kv.value);
    if (!v) return v.err();
    out.push_back(std::move(*v));
  }
  return out;
}

namespace {
result<std::optional<entry>> read_result(const std::string& key, const client::response& r) {
  if (r.code != errc::ok) return error{r.code, r.message};
  for (const auto& kv : r.values) {
    auto v = crdt::decode(kv.value);
    if (!v) return v.err();
    if (v->holds_nothing()) continue;  // deleted
    std::string ctx = context_of(*v);
    return std::optional<entry>{entry{key, std::move(*v), std::move(ctx)}};
  }
  return std::optional<entry>{};
}
}  // namespace

std::future<result<std::optional<entry>>> node::get_async(std::string key, op_options o) {
  auto p = std::make_shared<std::promise<result<std::optional<entry>>>>();
  auto f = p->get_future();
  get_then(std::move(key), o, [p](result<std::optional<entry>> r) { p->set_value(std::move(r)); });
  return f;
}

void node::get_then(std::string key, op_options o, std::function<void(result<std::optional<entry>>)> done) {
  auto req = make_request(o);
  req.body = client::get{key};
  impl_->send_call(std::move(req), [done = std::move(done), key](client::response r) { done(read_result(key, r)); });
}

result<node::cas_outcome> node::cas(std::string key, std::optional<std::string> expected,
                                    std::optional<std::string> desired, std::chrono::milliseconds timeout) {
  client::request req;
  req.timeout_ms = static_cast<uint32_t>(std::max<int64_t>(timeout.count(), 0));
  req.body = client::cas{std::move(key), std::move(expected), std::move(desired)};
  auto r = impl_->call_sync(std::move(req));
  if (r.code != errc::ok && r.code != errc::conflict) return error{r.code, r.message};
  cas_outcome out;
  out.applied = r.code == errc::ok;
  if (!r.values.empty()) out.current = std::move(r.values.front().value);
  return out;
}

result<std::optional<std::string>> node::lget(std::string key, std::chrono::milliseconds timeout) {
  client::request req;
  req.timeout_ms = static_cast<uint32_t>(std::max<int64_t>(timeout.count(), 0));
  req.body = client::lget{std::move(key)};
  auto r = impl_->call_sync(std::move(req));
  if (r.code != errc::ok) return error{r.code, r.message};
  if (r.values.empty()) return std::optional<std::string>{};
  return std::optional<std::string>{std::move(r.values.front().value)};
}

result<std::optional<entry>> node::get(std::string key, op_options o) {
  auto req = make_request(o);
  req.body = client::get{key};
  return read_result(key, impl_->call_sync(std::move(req)));
}

result<std::vector<std::pair<std::string, crdt::type_tag>>> node::keys(std::string prefix, uint32_t limit) {
  client::request req;
  req.body = client::keys{std::move(prefix), limit};
  auto r = impl_->call_sync(std::move(req));
  if (r.code != errc::ok) return error{r.code, r.message};
  std::vector<std::pair<std::string, crdt::type_tag>> out;
  for (auto& k : r.key_list) out.emplace_back(std::move(k.key), k.type);
  return out;
}

result<std::vector<member>> node::members() {
  client::request req;
  req.body = client::members{};
  auto r = impl_->call_sync(std::move(req));
  if (r.code != errc::ok) return error{r.code, r.message};
  std::vector<member> out;
  for (auto& m : r.member_list)
    out.push_back(member{m.id, m.address, client::member_status_name(m.status), m.incarnation});
  return out;
}

rumor::status node::reload_credentials() {
  auto c = load_credentials(impl_->cfg, impl_->log);
  if (!c) return c.err();
  if (actors::security_mode(*c) != impl_->security)
    return error{errc::invalid_argument, "turning TLS or client tokens on or off needs a restart"};
  if (impl_->stopped || !impl_->transport) return error{errc::unavailable, "the node is stopped"};
  caf::anon_send(impl_->transport, actors::reload_atom::value, std::move(*c));
  return {};
}

result<client::node_status> node::status() {
  client::request req;
  req.body = client::status{};
  auto r = impl_->call_sync(std::move(req));
  if (r.code != errc::ok) return error{r.code, r.message};
  if (!r.node) return error{errc::decode_error, "status response without status"};
  return *r.node;
}

uint64_t node::subscribe(std::string prefix, std::function<void(const change&)> fn, bool set_changes,
                         bool field_changes) {
  client::request req;
  req.id = impl_->next_id++;
  req.body = client::watch{std::move(prefix), set_changes, field_changes};
  auto on_event = [fn = std::move(fn)](client::event e) {
    change c{std::move(e.key), std::nullopt, e.origin, std::nullopt, e.value_omitted};
    if (!e.value.empty()) {
      if (auto v = crdt::decode(e.value)) c.value = std::move(*v);
    }
    c.set = std::move(e.set);
    fn(c);
  };
  uint64_t id = req.id;
  impl_->send_call(std::move(req), [](client::response) {}, std::move(on_event));
  return id;
}

void node::unsubscribe(uint64_t id) {
  client::request req;
  req.body = client::unwatch{id};
  impl_->send_call(std::move(req), [](client::response) {});
}

void node::submit(client::request req, std::function<void(client::response)> reply) {
  impl_->send_call(std::move(req), std::move(reply));
}

}  // namespace rumor::actors
