// The public embedding API (include/rumor/node.hpp): a thin adapter over the node runtime
// (actors/node.hpp). It converts configuration, operations and values between the public plain
// types and the runtime's own; it adds no behaviour of its own.

#include <rumor/node.hpp>

#include <mutex>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "actors/node.hpp"
#include "api/operation_spec.hpp"
#include "api/value_view.hpp"
#include "crdt/codec.hpp"

namespace rumor {

// The public enums repeat the runtime's (the public headers may not include them); the casts in
// this file rely on equal numbers, which these checks keep true.
static_assert(static_cast<int>(readiness::loading) == static_cast<int>(actors::readiness::loading) &&
              static_cast<int>(readiness::joining) == static_cast<int>(actors::readiness::joining) &&
              static_cast<int>(readiness::ready) == static_cast<int>(actors::readiness::ready) &&
              static_cast<int>(readiness::stopping) == static_cast<int>(actors::readiness::stopping) &&
              static_cast<int>(readiness::stopped) == static_cast<int>(actors::readiness::stopped) &&
              static_cast<int>(readiness::failed) == static_cast<int>(actors::readiness::failed));
static_assert(static_cast<int>(consistency::local) == static_cast<int>(client::consistency::local) &&
              static_cast<int>(consistency::majority) == static_cast<int>(client::consistency::majority) &&
              static_cast<int>(consistency::all) == static_cast<int>(client::consistency::all));

std::string_view to_string(readiness r) noexcept { return actors::to_string(static_cast<actors::readiness>(r)); }

// ---- operations ----

namespace op {
namespace {
operation wrap(client::update u) { return operation{std::make_shared<const operation::spec>(operation::spec{std::move(u)})}; }
}  // namespace

operation increment(int64_t by) { return wrap(actors::op::increment(by)); }
operation decrement(int64_t by) { return wrap(actors::op::decrement(by)); }
operation grow(uint64_t by) { return wrap(actors::op::grow(by)); }
operation set(std::string value) { return wrap(actors::op::set(std::move(value))); }
operation mv_put(std::string value, std::optional<std::string> context, bool conditional) {
  return wrap(actors::op::mv_put(std::move(value), std::move(context), conditional));
}
operation add(std::vector<std::string> members) { return wrap(actors::op::add(std::move(members))); }
operation remove(std::vector<std::string> members) { return wrap(actors::op::remove(std::move(members))); }
operation flag(bool on) { return wrap(actors::op::flag(on)); }
operation splice(uint64_t pos, uint64_t del, std::string text, std::optional<std::string> context, bool conditional) {
  return wrap(actors::op::splice(pos, del, std::move(text), std::move(context), conditional));
}
operation del() { return wrap(actors::op::del()); }
operation in_map(std::vector<std::string> path, operation inner) {
  return wrap(actors::op::in_map(std::move(path), inner.get().update));
}
operation map_remove(std::vector<std::string> path, value_type field_type) {
  return wrap(actors::op::map_remove(std::move(path), api::to_internal(field_type)));
}
}  // namespace op

// ---- configuration and logging ----

namespace {

spdlog::level::level_enum to_spdlog(log_level l) {
  switch (l) {
    case log_level::trace: return spdlog::level::trace;
    case log_level::debug: return spdlog::level::debug;
    case log_level::info: return spdlog::level::info;
    case log_level::warn: return spdlog::level::warn;
    case log_level::error: return spdlog::level::err;
    case log_level::off: return spdlog::level::off;
  }
  return spdlog::level::info;
}

log_level from_spdlog(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace: return log_level::trace;
    case spdlog::level::debug: return log_level::debug;
    case spdlog::level::info: return log_level::info;
    case spdlog::level::warn: return log_level::warn;
    case spdlog::level::err:
    case spdlog::level::critical: return log_level::error;
    default: return log_level::off;
  }
}

// Hands each formatted message (without the trailing newline) to the application's function.
class function_sink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit function_sink(std::function<void(log_level, std::string_view)> fn) : fn_(std::move(fn)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    std::string_view text(buf.data(), buf.size());
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    fn_(from_spdlog(msg.level), text);
  }
  void flush_() override {}

 private:
  std::function<void(log_level, std::string_view)> fn_;
};

actors::node_config to_runtime(node_config c) {
  actors::node_config r;
  r.data_dir = std::move(c.data_dir);
  r.listen = std::move(c.listen);
  r.advertise = std::move(c.advertise);
  r.seeds = std::move(c.seeds);
  r.cluster = std::move(c.cluster);
  r.durability = c.durability == durability::durable ? persistence::durability::durable
                                                     : persistence::durability::relaxed;
  r.write_behind_bytes = c.write_behind_bytes;
  r.gossip_interval_ms = c.gossip_interval_ms;
  r.fanout = c.fanout;
  r.threads = c.threads;
  r.leave_handoff_ms = c.leave_handoff_ms;
  r.cas_voters = std::move(c.cas_voters);
  r.cas.timeout_ms = c.cas_timeout_ms;
  r.replica.collect_tombstones = c.collect_tombstones;
  r.replica.max_drift_ms = c.max_clock_drift_ms;
  r.tls = security::tls_files{std::move(c.tls_ca), std::move(c.tls_cert), std::move(c.tls_key)};
  r.client_token_file = std::move(c.client_token_file);
  std::shared_ptr<spdlog::logger> log;
  if (c.log_sink) {
    auto sink = std::make_shared<function_sink>(std::move(c.log_sink));
    sink->set_pattern("%v");
    log = std::make_shared<spdlog::logger>("rumor", std::move(sink));
  } else {
    log = std::make_shared<spdlog::logger>("rumor", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  }
  log->set_level(to_spdlog(c.log_level));
  r.log = std::move(log);
  return r;
}

entry to_public(actors::entry e) {
  return entry{std::move(e.key), api::to_public(e.value), std::move(e.context),
               update_outcome{e.outcome.changed, e.outcome.size}};
}

result<entry> to_public(result<actors::entry> r) {
  if (!r) return r.err();
  return to_public(std::move(*r));
}

result<std::optional<entry>> to_public(result<std::optional<actors::entry>> r) {
  if (!r) return r.err();
  if (!*r) return std::optional<entry>{};
  return std::optional<entry>{to_public(std::move(**r))};
}

// A promise of the public result, fulfilled with the runtime's result converted (on the node's
// replica actor). A real promise, not std::async(deferred): wait_for() on its future waits.
template <class Public>
struct converting {
  std::shared_ptr<std::promise<Public>> p = std::make_shared<std::promise<Public>>();
  template <class Internal>
  void operator()(Internal r) const {
    p->set_value(to_public(std::move(r)));
  }
};

}  // namespace

// ---- the node ----

struct node::impl {
  std::unique_ptr<actors::node> runtime;
};

node::node(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
node::~node() = default;  // the runtime's destructor stops it

result<std::unique_ptr<node>> node::start(node_config cfg) {
  auto started = actors::node::start(to_runtime(std::move(cfg)));
  if (!started) return started.err();
  return std::unique_ptr<node>(new node(std::make_unique<impl>(impl{std::move(*started)})));
}

void node::stop() { impl_->runtime->stop(); }
void node::stop_without_leaving() { impl_->runtime->stop_without_leaving(); }
uint64_t node::id() const noexcept { return impl_->runtime->id(); }
std::string node::address() const { return impl_->runtime->address(); }
readiness node::state() const noexcept { return static_cast<readiness>(impl_->runtime->state()); }
bool node::wait_ready(std::chrono::milliseconds timeout) const { return impl_->runtime->wait_ready(timeout); }

namespace {
actors::op_options to_runtime(op_options o) {
  return actors::op_options{static_cast<client::consistency>(o.level), o.timeout, o.return_value};
}

client::get view_request(place at, client::view_kind view) {
  client::get g;
  g.key = std::move(at.key);
  g.path = std::move(at.path);
  g.view = view;
  return g;
}
}  // namespace

std::future<result<entry>> node::apply_async(std::string key, operation op, op_options o) {
  converting<result<entry>> done;
  auto f = done.p->get_future();
  impl_->runtime->apply_then(std::move(key), op.get().update, to_runtime(o), done);
  return f;
}

result<entry> node::apply(std::string key, operation op, op_options o) {
  return to_public(impl_->runtime->apply(std::move(key), op.get().update, to_runtime(o)));
}

std::future<result<std::optional<entry>>> node::get_async(std::string key, op_options o) {
  converting<result<std::optional<entry>>> done;
  auto f = done.p->get_future();
  impl_->runtime->get_then(std::move(key), to_runtime(o), done);
  return f;
}

result<std::optional<entry>> node::get(std::string key, op_options o) {
  return to_public(impl_->runtime->get(std::move(key), to_runtime(o)));
}

result<bool> node::contains(place at, std::string member, op_options o) {
  auto g = view_request(std::move(at), client::view_kind::member);
  g.member = std::move(member);
  auto r = impl_->runtime->view(std::move(g), to_runtime(o));
  if (!r) return r.err();
  return r->contains;
}

result<uint64_t> node::size(place at, op_options o) {
  auto r = impl_->runtime->view(view_request(std::move(at), client::view_kind::size), to_runtime(o));
  if (!r) return r.err();
  return r->size;
}

result<collection_page> node::page(place at, std::optional<std::string> after, uint32_t limit, op_options o) {
  auto g = view_request(std::move(at), client::view_kind::page);
  g.after = std::move(after);
  g.limit = limit;
  auto r = impl_->runtime->view(std::move(g), to_runtime(o));
  if (!r) return r.err();
  collection_page out;
  if (r->type) out.type = api::to_public(*r->type);
  out.size = r->size;
  out.members = std::move(r->members);
  out.more = r->more;
  for (auto& f : r->fields) {
    auto v = crdt::decode(f.value);
    if (!v) return v.err();
    out.fields.push_back(map_field{std::move(f.key), api::to_public(*v)});
  }
  return out;
}

result<std::vector<map_field>> node::fields(place at, op_options o) {
  if (at.path.empty()) return error{errc::invalid_argument, "fields() needs a path (use get() for the key's value)"};
  std::string name = at.path.back();
  auto r = impl_->runtime->get_at(view_request(std::move(at), client::view_kind::value), to_runtime(o));
  if (!r) return r.err();
  std::vector<map_field> out;
  for (const auto& v : *r) out.push_back(map_field{name, api::to_public(v)});
  return out;
}

result<std::vector<key_info>> node::keys(std::string prefix, uint32_t limit) {
  auto r = impl_->runtime->keys(std::move(prefix), limit);
  if (!r) return r.err();
  std::vector<key_info> out;
  out.reserve(r->size());
  for (auto& [k, t] : *r) out.push_back(key_info{std::move(k), api::to_public(t)});
  return out;
}

result<std::vector<member>> node::members() {
  auto r = impl_->runtime->members();
  if (!r) return r.err();
  std::vector<member> out;
  out.reserve(r->size());
  for (auto& m : *r) out.push_back(member{m.id, std::move(m.address), std::move(m.status), m.incarnation});
  return out;
}

rumor::status node::reload_credentials() { return impl_->runtime->reload_credentials(); }

result<node_status> node::status() {
  auto r = impl_->runtime->status();
  if (!r) return r.err();
  node_status s;
  s.id = r->node;
  s.address = std::move(r->address);
  s.cluster = std::move(r->cluster);
  s.readiness = state();  // the status' readiness text is read from the same place
  s.keys = r->keys;
  s.delta_log = r->delta_log;
  s.local_updates = r->local_updates;
  s.remote_applied = r->remote_applied;
  for (const auto& p : r->peers) s.peers.push_back(node_status::peer_lag{p.id, p.behind, p.lag_ms});
  s.tombstones = r->tombstones;
  s.tombstones_collected = r->tombstones_collected;
  s.cas_voters = r->cas_voters;
  s.write_behind_bytes = r->write_behind_bytes;
  s.log_backlog = r->log_backlog;
  s.checkpoint = r->checkpoint;
  s.last_materialize_ms = r->last_materialize_ms;
  s.write_behind_error = std::move(r->write_behind_error);
  s.storage_error = std::move(r->storage_error);
  s.clock_drift_refusals = r->clock_drift_refusals;
  s.clock_error = std::move(r->clock_error);
  s.security = std::move(r->security);
  return s;
}

uint64_t node::subscribe(std::string prefix, std::function<void(const change&)> fn, subscribe_options opts) {
  auto each = [fn = std::move(fn)](const actors::change& c) {
    change out{c.key, std::nullopt, c.origin, std::nullopt, c.value_omitted};
    if (c.value && !c.value->holds_nothing()) out.value = api::to_public(*c.value);
    if (c.set)
      out.set = set_changes{c.set->size,     c.set->added,   c.set->removed,
                            c.set->complete, c.set->changed, api::to_public(c.set->type)};
    fn(out);
  };
  return impl_->runtime->subscribe(std::move(prefix), std::move(each), opts.set_changes, opts.set_changes);
}

void node::unsubscribe(uint64_t id) { impl_->runtime->unsubscribe(id); }

result<node::cas_outcome> node::cas(std::string key, std::optional<std::string> expected,
                                    std::optional<std::string> desired, std::chrono::milliseconds timeout) {
  auto r = impl_->runtime->cas(std::move(key), std::move(expected), std::move(desired), timeout);
  if (!r) return r.err();
  return cas_outcome{r->applied, std::move(r->current)};
}

result<std::optional<std::string>> node::lget(std::string key, std::chrono::milliseconds timeout) {
  return impl_->runtime->lget(std::move(key), timeout);
}

}  // namespace rumor
