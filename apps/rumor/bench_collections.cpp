// collections: what one update of a big set or map costs, as the collection grows. Two node
// processes A and B (B joined A; A serves /metrics). For each size N: one or_set key is preloaded
// with N members on A (adds of 10,000 members each) until B holds them all; then `ops` pipelined
// single-member adds of new members over one client connection, timed from the first send until
// B's size shows them all, and as many removes of them, timed likewise; then the disk bytes
// written per update and node (device_written_bytes below, after both nodes have materialized
// everything, halved: A and B do the same writes) and A's bytes sent to peers
// (rumor_network_sent_bytes_total{role="peer"}) per update over those adds and removes; then
// the latency of 100 single adds sent one at a time. The same for or_map keys of each
// --map-fields size (one counter field per update, removed by field). ../shared/peers/redis-sets.mjs measures
// Redis the same way (primary + replica, pipelined SADD/SREM of new members, until the replica's
// SCARD shows them). The goal: the figures at the largest size within 1.5x of those at 10^3.
// --collection-watch changes|whole keeps a watch of every collection open on B meanwhile (with set
// changes, or of whole values as older clients ask) and adds its event bytes per update.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>
#include <fstream>
#include <optional>

#include "bench_client.hpp"
#include "bench_node.hpp"
#include "bench_scenarios.hpp"
#include "client/host_port.hpp"

namespace rumor::cli::bench {

namespace {

constexpr uint64_t preload_batch = 10'000;
constexpr uint64_t latency_samples = 100;

std::string name_of(const char* prefix, uint64_t i) {
  char b[40];
  std::snprintf(b, sizeof b, "%s%09llu", prefix, static_cast<unsigned long long>(i));
  return b;
}

client::update set_update(const std::string& key, client::op_kind op, std::vector<std::string> members) {
  client::update u;
  u.key = key;
  u.op = op;
  u.type = crdt::type_tag::or_set;
  u.members = std::move(members);
  return u;
}

client::update field_incr(const std::string& key, std::string field) {
  client::update u = counter_incr(key);
  u.path = {std::move(field)};
  return u;
}

// The size of the set or map at `key` on the node behind `c` (0 while absent). A node applying a
// burst of updates of a big collection answers only after them: the wait is the scenario's.
uint64_t size_on(const context& ctx, client::connection& c, const std::string& key) {
  client::get g{key};
  g.view = client::view_kind::size;
  client::request req;
  req.body = g;
  auto r = c.call(std::move(req), static_cast<uint64_t>(std::max<int64_t>(ctx.left_ms(), 1'000)));
  if (!r) throw std::runtime_error("size of " + key + ": " + r.err().message);
  if (r->code != errc::ok || !r->collection) throw std::runtime_error("size of " + key + ": " + r->message);
  return r->collection->size;
}

// The bytes the block device holding `dir` has written so far (/sys/dev/block/MAJ:MIN/stat,
// sectors written x 512), after syncfs() of dir's file system so that every write made is on the
// device; nullopt when `dir` is on no block device (tmpfs, overlay) or the counter is unreadable.
// Not /proc/PID/io write_bytes: on kernels whose page cache holds large folios it counts a whole
// folio (up to 2 MiB) for each 4 KiB page rewritten — 146 MB counted for 0.44 MB the device wrote
// on this machine (Linux 6.18, ext4) — so it measured where LMDB's pages sat in the cache, not
// what was written. The device counter is machine-wide: other writers' bytes count too.
std::optional<uint64_t> device_written_bytes(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  bool ok = ::syncfs(fd) == 0 && ::fstat(fd, &st) == 0;
  ::close(fd);
  if (!ok || major(st.st_dev) == 0) return std::nullopt;
  std::ifstream f("/sys/dev/block/" + std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev)) +
                  "/stat");
  uint64_t field[7] = {};
  for (auto& v : field)
    if (!(f >> v)) return std::nullopt;
  return field[6] * 512;  // sectors written (always 512-byte units in this file)
}

// A's bytes sent to peers, from its /metrics.
uint64_t peer_sent_bytes(const std::string& http) {
  auto v = metric_value(metrics_text(http), "rumor_network_sent_bytes_total{role=\"peer\"}");
  if (!v) throw std::runtime_error("no rumor_network_sent_bytes_total{role=\"peer\"} in " + http + "/metrics");
  return static_cast<uint64_t>(*v);
}

// Waits until the node has materialized every acknowledged update (its disk writes are done).
void wait_materialized(const context& ctx, client::connection& c, const std::string& who) {
  wait_until(ctx, who + " materializing", [&] {
    auto s = status(c);
    return s.log_backlog == 0 && s.write_behind_bytes == 0;
  }, 20);
}

// A watch of every collection key on B, read by its own thread: counts the events' bytes.
class watcher {
 public:
  watcher(context& ctx, const std::string& address, bool set_changes) : conn_(connect(ctx, address)) {
    client::request req;
    req.body = client::watch{"", set_changes, set_changes};
    auto r = conn_.call(std::move(req), 10'000);
    if (!r || r->code != errc::ok) throw std::runtime_error("the watch on B was refused");
    thread_ = std::thread([this] {
      while (!stop_) {
        auto m = conn_.next(100);
        if (!m) return;  // the connection failed: the bytes so far stand
        if (*m)
          if (const auto* e = std::get_if<client::event>(&**m)) {
            uint64_t b = e->key.size() + e->value.size();
            if (e->set)
              for (const auto* l : {&e->set->added, &e->set->removed})
                for (const auto& x : *l) b += x.size();
            bytes_ += b;
          }
      }
    });
  }
  ~watcher() {
    stop_ = true;
    thread_.join();
  }
  uint64_t bytes() const { return bytes_; }

 private:
  client::connection conn_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> bytes_{0};
  std::thread thread_;
};

struct measured {
  double add_per_s = 0, remove_per_s = 0;
  std::optional<double> watch_per_update;  // the watch's event bytes (keys, values, members)
  std::optional<double> disk_per_update;  // nullopt: no block device counter (device_written_bytes)
  double wire_per_update = 0;
  double p50_ms = 0, p99_ms = 0;
  double preload_ms = 0;
};

struct collection_case {
  std::string type;  // or_set / or_map
  std::string key;
  uint64_t size = 0;
  std::function<client::update(uint64_t)> preload;  // preload request i
  uint64_t preload_requests = 0;
  // Adds / removes one member (field) of the collection: the add and remove phases use the names
  // new-<i>, the latency samples probe-<i>.
  std::function<client::update(std::string)> add;
  std::function<client::update(std::string)> remove;
};

make_update named(const std::function<client::update(std::string)>& f, const char* prefix) {
  return [f, prefix](uint64_t i) { return f(name_of(prefix, i)); };
}

measured run_case(context& ctx, node_proc& a, const std::string& http_a, client::connection& ca, client::connection& cb,
                  const collection_case& k, uint64_t ops, const watcher* watch) {
  measured m;
  ctx.progress(k.type + " of " + std::to_string(k.size) + ": preloading " + std::to_string(k.preload_requests) +
               " requests");
  double t0 = now_ms();
  auto pre = pipelined_writes(ctx, ca, k.preload_requests, k.preload, k.type + " preload");
  if (pre.failed) throw std::runtime_error("preload failed: " + pre.first_error);
  wait_until(ctx, "B holding the preloaded " + k.type, [&] { return size_on(ctx, cb, k.key) == k.size; }, 20);
  m.preload_ms = now_ms() - t0;
  wait_materialized(ctx, ca, "A");
  wait_materialized(ctx, cb, "B");
  const auto disk0 = device_written_bytes(a.data_dir());
  const uint64_t wire0 = peer_sent_bytes(http_a);
  const uint64_t watch0 = watch ? watch->bytes() : 0;

  t0 = now_ms();
  auto w = pipelined_writes(ctx, ca, ops, named(k.add, "new-"), k.type + " adds");
  if (w.failed) throw std::runtime_error("adds failed: " + w.first_error);
  wait_until(ctx, "B seeing the adds", [&] { return size_on(ctx, cb, k.key) == k.size + ops; }, 5);
  m.add_per_s = double(ops) / ((now_ms() - t0) / 1000);
  t0 = now_ms();
  w = pipelined_writes(ctx, ca, ops, named(k.remove, "new-"), k.type + " removes");
  if (w.failed) throw std::runtime_error("removes failed: " + w.first_error);
  wait_until(ctx, "B seeing the removes", [&] { return size_on(ctx, cb, k.key) == k.size; }, 5);
  m.remove_per_s = double(ops) / ((now_ms() - t0) / 1000);
  wait_materialized(ctx, ca, "A");
  wait_materialized(ctx, cb, "B");
  const auto disk1 = device_written_bytes(a.data_dir());
  if (disk0 && disk1) m.disk_per_update = double(*disk1 - *disk0) / double(2 * ops) / 2;
  m.wire_per_update = double(peer_sent_bytes(http_a) - wire0) / double(2 * ops);
  if (watch) m.watch_per_update = double(watch->bytes() - watch0) / double(2 * ops);

  std::vector<double> lat;
  for (uint64_t i = 0; i < latency_samples; ++i) {
    ctx.check("latency samples");
    client::request req;
    req.body = k.add(name_of("probe-", i));
    double s = now_ms();
    auto r = ca.call(std::move(req), static_cast<uint64_t>(std::max<int64_t>(ctx.left_ms(), 1'000)));
    if (!r || r->code != errc::ok) throw std::runtime_error("latency sample failed");
    lat.push_back(now_ms() - s);
  }
  auto undo = pipelined_writes(ctx, ca, latency_samples, named(k.remove, "probe-"), k.type + " latency cleanup");
  if (undo.failed) throw std::runtime_error("latency cleanup failed: " + undo.first_error);
  m.p50_ms = percentile(lat, 50);
  m.p99_ms = percentile(lat, 99);
  return m;
}

collection_case set_case(uint64_t n) {
  collection_case k;
  k.type = "or_set";
  k.key = "set:" + std::to_string(n);
  k.size = n;
  k.preload_requests = (n + preload_batch - 1) / preload_batch;
  k.preload = [key = k.key, n](uint64_t i) {
    std::vector<std::string> members;
    for (uint64_t j = i * preload_batch; j < std::min(n, (i + 1) * preload_batch); ++j)
      members.push_back(name_of("member-", j));
    return set_update(key, client::op_kind::set_add, std::move(members));
  };
  k.add = [key = k.key](std::string m) { return set_update(key, client::op_kind::set_add, {std::move(m)}); };
  k.remove = [key = k.key](std::string m) { return set_update(key, client::op_kind::set_remove, {std::move(m)}); };
  return k;
}

collection_case map_case(uint64_t n) {
  collection_case k;
  k.type = "or_map";
  k.key = "map:" + std::to_string(n);
  k.size = n;
  k.preload_requests = n;  // one field per update: the protocol has no multi-field update
  k.add = [key = k.key](std::string f) { return field_incr(key, std::move(f)); };
  k.preload = named(k.add, "field-");
  k.remove = [key = k.key](std::string f) {
    client::update u = field_incr(key, std::move(f));
    u.op = client::op_kind::remove_key;
    return u;
  };
  return k;
}

}  // namespace

void run_collections(context& ctx) {
  const uint64_t ops = ctx.opt.collection_ops;
  node_proc a(ctx, "a"), b(ctx, "b");
  std::string http_a = "127.0.0.1:" + std::to_string(client::free_loopback_port());
  a.start({}, {"--http", http_a});
  b.start({a.address()});
  wait_cluster(ctx, {a.address(), b.address()});
  auto ca = connect(ctx, a.address());
  auto cb = connect(ctx, b.address());
  std::optional<watcher> watch;
  if (ctx.opt.collection_watch != "none") watch.emplace(ctx, b.address(), ctx.opt.collection_watch == "changes");

  std::vector<collection_case> cases;
  for (uint64_t n : ctx.opt.collection_sizes) cases.push_back(set_case(n));
  for (uint64_t n : ctx.opt.map_fields)
    if (n > 0) cases.push_back(map_case(n));
  // The smallest case of each type, which the bigger ones are compared with.
  std::map<std::string, std::pair<measured, uint64_t>> smallest;
  for (const auto& k : cases) {
    measured m = run_case(ctx, a, http_a, ca, cb, k, ops, watch ? &*watch : nullptr);
    std::vector<std::pair<std::string, std::string>> params = {
        {"type", k.type}, {"size", std::to_string(k.size)}, {"ops", std::to_string(ops)},
        {"window", std::to_string(ctx.opt.window)}, {"durability", ctx.opt.durability},
        {"watch", ctx.opt.collection_watch},
        {"members", "single-member updates of new members (\"new-000000001\", 13 bytes)"}};
    std::string at = k.type + "_" + std::to_string(k.size);
    ctx.out.add({"collections", at + "_adds_per_s", m.add_per_s, "updates/s", params,
                 "flat in the size (Redis SADD pipelined: 1.03M/s at 10^3, 607k/s at 10^6)", std::nullopt});
    ctx.out.add({"collections", at + "_removes_per_s", m.remove_per_s, "updates/s", params, "", std::nullopt});
    if (m.disk_per_update)
      ctx.out.add({"collections", at + "_disk_bytes_per_update", *m.disk_per_update, "bytes",
                   params, "", std::nullopt});
    else
      ctx.progress("no disk figure: the data directory is on no block device whose counters can be read");
    ctx.out.add({"collections", at + "_wire_bytes_per_update", m.wire_per_update, "bytes", params, "", std::nullopt});
    if (m.watch_per_update)
      ctx.out.add({"collections", at + "_watch_bytes_per_update", *m.watch_per_update, "bytes", params, "", std::nullopt});
    ctx.out.add({"collections", at + "_latency_p50_ms", m.p50_ms, "ms", params, "", std::nullopt});
    ctx.out.add({"collections", at + "_latency_p99_ms", m.p99_ms, "ms", params, "", std::nullopt});
    ctx.out.add({"collections", at + "_preload_ms", m.preload_ms, "ms", params, "", std::nullopt});
    auto [first, fresh] = smallest.emplace(k.type, std::pair{m, k.size});
    if (fresh) continue;
    const measured* smallest_set = &first->second.first;  // of this type
    const uint64_t smallest_n = first->second.second;
    // How the cost grew from the smallest collection of this type to this one (the goal: at most
    // 1.5x).
    auto ratio = [&](const std::string& what, double small, double big) {
      double r = small > 0 ? big / small : 0;
      ctx.out.add({"collections", at + "_" + what + "_vs_" + std::to_string(smallest_n), r, "x", params,
                   "<= 1.5x the figure at " + std::to_string(smallest_n), r <= 1.5});
    };
    ratio("time_per_add", 1 / smallest_set->add_per_s, 1 / m.add_per_s);
    if (smallest_set->disk_per_update && m.disk_per_update)
      ratio("disk_bytes", *smallest_set->disk_per_update, *m.disk_per_update);
    ratio("wire_bytes", smallest_set->wire_per_update, m.wire_per_update);
  }
  watch.reset();
  ca.close();
  cb.close();
  b.stop();
  a.stop();
}

}  // namespace rumor::cli::bench
