// `rumor node --http`: two real node processes on 127.0.0.1, each with an HTTP endpoint, driven
// by an HTTP client as curl would drive them. Every route round-trips; a watch stream on one node
// delivers a change written through the other; errors carry their documented statuses; oversized
// and malformed bodies are refused and the node keeps serving; /metrics is valid exposition text
// and moves with the traffic. Every wait is bounded; only the test's own processes are stopped.
#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <iterator>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "http_nodes.hpp"
#include "prometheus_check.hpp"

using rumor::test::eventually_for;
using rumor::test::free_port;
using rumor::test::http_node;
using rumor::test::node_process;
using rumor::test::temp_dir;
using namespace std::chrono_literals;

namespace {

http_node start_node(const temp_dir& dir, const std::string& name, const std::vector<std::string>& join,
                     std::string addr = {}, const std::vector<std::string>& extra = {}) {
  return rumor::test::start_http_node(dir, "http-test", name, join, std::move(addr), extra);
}

std::string post(httplib::Client& c, const std::string& path, const std::string& body, int expect) {
  auto r = c.Post(path.c_str(), body, "application/json");
  REQUIRE_MESSAGE(r, "POST " << path << ": " << httplib::to_string(r.error()));
  CHECK_MESSAGE(r->status == expect, "POST " << path << " " << body << " -> " << r->status << " " << r->body);
  return r->body;
}

std::string get(httplib::Client& c, const std::string& path, int expect) {
  auto r = c.Get(path.c_str());
  REQUIRE_MESSAGE(r, "GET " << path << ": " << httplib::to_string(r.error()));
  CHECK_MESSAGE(r->status == expect, "GET " << path << " -> " << r->status << " " << r->body);
  return r->body;
}

bool has(const std::string& body, const std::string& part) { return body.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("http processes: every route round-trips, a watch sees a remote change, errors map, metrics parse") {
  temp_dir dir;
  const std::string addr_a = "127.0.0.1:" + std::to_string(free_port());
  const std::string addr_b = "127.0.0.1:" + std::to_string(free_port());
  const std::vector<std::string> voters = {"--cas-voters", addr_a + "," + addr_b};
  auto a = start_node(dir, "a", {}, addr_a, voters);
  auto b = start_node(dir, "b", {addr_a}, addr_b, voters);
  auto ca = a.client();
  auto cb = b.client();

  // Both ready, and both members seen from a.
  REQUIRE(eventually_for(20s, [&] {
    auto r1 = ca.Get("/readyz");
    auto r2 = cb.Get("/readyz");
    return r1 && r1->status == 200 && r2 && r2->status == 200;
  }));
  CHECK(get(ca, "/healthz", 200) == "ok\n");
  REQUIRE(eventually_for(20s, [&] {
    auto r = ca.Get("/v1/members");
    if (!r || r->status != 200) return false;
    size_t alive = 0;
    for (size_t p = r->body.find("\"alive\""); p != std::string::npos; p = r->body.find("\"alive\"", p + 1)) ++alive;
    return alive == 2;
  }));

  // A watch stream on a, opened before the write through b; and one with set changes (a set's
  // events also say which members joined and left). Each reads until its flag is set and another
  // event arrives.
  std::mutex mu;
  auto read_stream = [&](std::string path, std::string& into, std::atomic<bool>& stop_flag) {
    return std::thread([&, path] {
      httplib::Client w("127.0.0.1", a.http_port);
      w.set_read_timeout(20);
      w.Get(path.c_str(), [&](const char* data, size_t n) {
        std::lock_guard lk(mu);
        into.append(data, n);
        return !stop_flag.load();
      });
    });
  };
  std::string stream, set_stream, map_stream;
  std::atomic<bool> stop{false}, stop_sets{false}, stop_maps{false};
  std::thread watcher = read_stream("/v1/watch?prefix=w%2F", stream, stop);
  std::thread set_watcher = read_stream("/v1/watch?prefix=set&set_changes=1", set_stream, stop_sets);
  std::thread map_watcher = read_stream("/v1/watch?prefix=map&set_changes=1&field_changes=1", map_stream, stop_maps);
  REQUIRE(eventually_for(10s, [&] {
    std::lock_guard lk(mu);
    return has(stream, ": watching") && has(set_stream, ": watching") && has(map_stream, ": watching");
  }));

  // Writes through b: every operation kind; keys with a slash and a space (percent-encoded).
  CHECK(has(post(cb, "/v1/kv/w%2Fcount", R"({"op":"incr","by":5})", 200), R"("type":"pn_counter","value":5)"));
  CHECK(has(post(cb, "/v1/kv/w%2Fcount?consistency=all&timeout_ms=5000", R"({"op":"decr","by":2})", 200),
            R"("value":3)"));
  CHECK(has(post(cb, "/v1/kv/g", R"({"op":"grow"})", 200), R"("type":"g_counter","value":1)"));
  CHECK(has(post(cb, "/v1/kv/reg%20x", R"({"op":"set","value":"hello"})", 200), R"("value":"hello")"));
  // A set update answers with what it did; with "return_value" with the set.
  CHECK(post(cb, "/v1/kv/set", R"({"op":"sadd","members":["x","y","z"]})", 200) ==
        "{\"key\":\"set\",\"changed\":3,\"size\":3}\n");
  CHECK(has(post(cb, "/v1/kv/set", R"({"op":"srem","members":["y"],"return_value":true})", 200), R"(["x","z"])"));
  CHECK(has(post(cb, "/v1/kv/fl", R"({"op":"flag","on":true})", 200), R"("value":true)"));
  CHECK(has(post(cb, "/v1/kv/map", R"({"op":"incr","by":4,"path":["hits"],"return_value":true})", 200),
            R"({"hits":4})"));
  std::string mv = post(cb, "/v1/kv/mv", R"({"op":"mvput","value":"one"})", 200);
  auto ctx_at = mv.find("\"context\":\"");
  REQUIRE(ctx_at != std::string::npos);
  std::string ctx = mv.substr(ctx_at + 11, mv.find('"', ctx_at + 11) - ctx_at - 11);
  post(cb, "/v1/kv/mv", R"({"op":"mvput","value":"two","context":")" + ctx + "\"}", 200);
  // The same (now stale) context again: a conditional write's conflict, with the current value.
  std::string conflict = post(cb, "/v1/kv/mv", R"({"op":"mvput","value":"three","context":")" + ctx + "\"}", 409);
  CHECK(has(conflict, "\"error\":\"conflict\""));
  CHECK(has(conflict, "two"));

  // The watch on a saw the change made through b.
  CHECK(eventually_for(15s, [&] {
    std::lock_guard lk(mu);
    return has(stream, "event: change") && has(stream, R"("key":"w/count")");
  }));
  stop = true;
  post(cb, "/v1/kv/w%2Fcount", R"({"op":"incr"})", 200);  // wakes the stream so that it ends
  watcher.join();
  // The set's last event (the two updates may reach a in one step): x and z are in, y is not.
  CHECK(eventually_for(15s, [&] {
    std::lock_guard lk(mu);
    return has(set_stream, R"("key":"set","type":"or_set","value":["x","z"],)") &&
           has(set_stream, R"("set":{"size":2,)") && !has(set_stream, R"("value_omitted")");
  }));
  {
    std::lock_guard lk(mu);
    CHECK_FALSE(has(stream, R"("set":{)"));  // the watch without set changes
  }
  stop_sets = true;
  post(ca, "/v1/kv/set", R"({"op":"srem","members":["nobody"]})", 200);  // an event that ends the stream
  set_watcher.join();
  // With field changes: the map's event says which field appeared.
  CHECK(eventually_for(15s, [&] {
    std::lock_guard lk(mu);
    return has(map_stream, R"("key":"map","type":"or_map","value":{"hits":4},)") &&
           has(map_stream, R"("set":{"size":1,"added":["hits"],"removed":[],"changed":[],"complete":true})");
  }));
  stop_maps = true;
  post(ca, "/v1/kv/mapx", R"({"op":"incr","by":1,"path":["n"]})", 200);  // an event that ends the stream
  map_watcher.join();

  // Reads through a see b's writes (replication), as the CLI's --json prints them.
  REQUIRE(eventually_for(15s, [&] {
    auto r = ca.Get("/v1/kv/set");
    return r && r->status == 200 && has(r->body, R"(["x","z"])");
  }));
  CHECK(get(ca, "/v1/kv/reg%20x", 200) == "{\"key\":\"reg x\",\"type\":\"lww_register\",\"value\":\"hello\"}\n");
  CHECK(has(get(ca, "/v1/kv/map?consistency=majority", 200), R"("type":"or_map","value":{"hits":4})"));
  // Parts of a set or map: membership, size, a page, a nested field.
  CHECK(get(cb, "/v1/kv/set?member=x", 200) == "{\"key\":\"set\",\"member\":\"x\",\"contains\":true}\n");
  CHECK(get(cb, "/v1/kv/set?member=y", 200) == "{\"key\":\"set\",\"member\":\"y\",\"contains\":false}\n");
  CHECK(get(cb, "/v1/kv/set?size", 200) == "{\"key\":\"set\",\"size\":2}\n");
  CHECK(get(cb, "/v1/kv/set?limit=1", 200) ==
        "{\"key\":\"set\",\"type\":\"or_set\",\"size\":2,\"members\":[\"x\"],\"more\":true,\"next\":\"x\"}\n");
  CHECK(has(get(cb, "/v1/kv/set?after=x&limit=5", 200), R"("members":["z"],"more":false,"next":null)"));
  CHECK(has(get(cb, "/v1/kv/map?limit=10", 200), R"("fields":[{"name":"hits","type":"pn_counter","value":4}])"));
  CHECK(get(cb, "/v1/kv/map?field=hits", 200) == "{\"key\":\"map\",\"type\":\"pn_counter\",\"value\":4}\n");
  CHECK(has(get(cb, "/v1/kv/reg%20x?size", 409), R"("error":"type_mismatch")"));
  CHECK(has(get(cb, "/v1/kv/set?size&member=x", 400), "one of member, size"));
  std::string keys = get(ca, "/v1/keys?prefix=w%2F", 200);
  CHECK(has(keys, R"({"key":"w/count","type":"pn_counter"})"));
  CHECK_FALSE(has(keys, "\"set\""));
  CHECK(has(get(ca, "/v1/status", 200), "\"readiness\":\"ready\""));

  // Delete, then 404.
  CHECK(has(cb.Delete("/v1/kv/fl")->body, "\"deleted\":true"));
  get(cb, "/v1/kv/fl", 404);

  // Errors and their statuses; the node keeps serving after each.
  CHECK(has(post(cb, "/v1/kv/set", R"({"op":"incr"})", 409), "\"error\":\"type_mismatch\""));
  CHECK(has(post(cb, "/v1/kv/x", "{not json", 400), "\"error\":\"invalid_argument\""));
  post(cb, "/v1/kv/x", R"({"op":"launch"})", 400);
  get(cb, "/v1/kv/x?consistency=sometimes", 400);
  get(cb, "/v1/nothing-here", 404);
  get(cb, "/elsewhere", 404);
  // The linearizable lane: create, a stale expectation refused with the current value, read
  // through the other node, delete.
  REQUIRE(eventually_for(20s, [&] {
    auto r = cb.Post("/v1/cas/c", R"({"expected":null,"value":"1"})", "application/json");
    return r && r->status == 200;
  }));
  CHECK(has(post(cb, "/v1/cas/c", R"({"expected":null,"value":"2"})", 409), "\"current\":\"1\""));
  CHECK(get(ca, "/v1/cas/c", 200) == "{\"key\":\"c\",\"value\":\"1\"}\n");
  CHECK(has(post(ca, "/v1/cas/c", R"({"expected":"1","value":null})", 200), "\"value\":null"));
  CHECK(get(cb, "/v1/cas/c", 200) == "{\"key\":\"c\",\"value\":null}\n");
  post(ca, "/v1/cas/c", R"({"value":"x"})", 400);
  {
    std::string big(2u << 20, 'x');
    auto r = cb.Post("/v1/kv/big", big, "application/json");
    REQUIRE(r);
    CHECK(r->status == 413);
    CHECK(has(r->body, "too_large"));
  }
  {
    // A large value under the body bound is taken and read back whole.
    std::string v(600u << 10, 'v');
    auto r = cb.Post("/v1/kv/big", R"({"op":"set","value":")" + v + "\"}", "application/json");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(get(cb, "/v1/kv/big", 200).size() > v.size());
  }
  {
    // The same sent as a form (curl's default content type) is bounded at 8 KiB, and says why.
    std::string v(9000, 'v');
    auto r = cb.Post("/v1/kv/form", R"({"op":"set","value":")" + v + "\"}", "application/x-www-form-urlencoded");
    REQUIRE(r);
    CHECK(r->status == 413);
    CHECK(has(r->body, "application/json"));
  }
  // A key that is not valid percent-encoding is taken as written.
  CHECK(has(get(cb, "/v1/kv/%zz", 404), "'%zz'"));
  CHECK(has(get(cb, "/v1/kv/w%2Fcount", 200), "\"value\":4"));

  // Metrics: valid exposition, and they moved with the traffic above.
  std::string m = get(cb, "/metrics", 200);
  auto parsed = rumor::test::check_prometheus(m);
  for (const auto& p : parsed.problems) FAIL_CHECK(p);
  CHECK(parsed.value("rumor_up") == 1);
  CHECK(parsed.value("rumor_updates_local_total") >= 12);
  CHECK(parsed.value("rumor_members", "status=\"alive\"") == 2);
  CHECK(parsed.value("rumor_http_requests_total", "route=\"kv_update\",code=\"200\"") >= 12);
  CHECK(parsed.value("rumor_http_requests_total", "route=\"kv_update\",code=\"409\"") >= 2);
  CHECK(parsed.value("rumor_http_requests_total", "route=\"invalid\",code=\"400\"") >= 3);
  // T_change on the node the updates were made through.
  CHECK(parsed.value("rumor_sync_change_seconds_count") >= 12);
  CHECK(parsed.value("rumor_sync_change_seconds_bucket", "le=\"+Inf\"") == parsed.value("rumor_sync_change_seconds_count"));
  CHECK(parsed.value("rumor_peer_messages_sent_total", "kind=\"push\"") >= 1);
  std::string ma = get(ca, "/metrics", 200);
  auto pa = rumor::test::check_prometheus(ma);
  for (const auto& p : pa.problems) FAIL_CHECK(p);
  CHECK(pa.value("rumor_updates_remote_applied_total") >= 12);
  // T_x and T_apply on the node the deltas arrived at: one observation per delta applied.
  CHECK(pa.value("rumor_sync_transfer_seconds_count") >= 12);
  CHECK(pa.value("rumor_sync_apply_seconds_count") >= 12);
  CHECK(pa.value("rumor_sync_transfer_seconds_sum") < 60.0 * pa.value("rumor_sync_transfer_seconds_count"));
  CHECK(pa.value("rumor_peer_messages_received_total", "kind=\"push\"") >= 1);
  CHECK(pa.value("rumor_storage_commits_total") >= 1);
  CHECK(pa.value("rumor_storage_commit_seconds_count") >= 1);
  CHECK(pa.value("rumor_deltas_duplicate_total") >= 0);
  CHECK(pa.value("rumor_repairs_started_total") >= 0);
  CHECK(pa.value("rumor_gossip_rounds_total") >= 1);
  CHECK(pa.value("rumor_full_transfers_total") >= 0);
  // The transport's and the store's figures, and the lane's outcomes (b proposed 1 ok, 1 conflict).
  CHECK(parsed.value("rumor_peer_sent_bytes_total", "kind=\"push\"") > 0);
  CHECK(pa.value("rumor_peer_received_bytes_total", "kind=\"push\"") > 0);
  CHECK(parsed.value("rumor_network_received_bytes_total", "role=\"peer\"") >= parsed.value("rumor_peer_received_bytes_total", "kind=\"ping\""));
  CHECK(parsed.value("rumor_connections", "role=\"peer\"") >= 1);
  CHECK(parsed.value("rumor_store_map_bytes") > 0);
  CHECK(parsed.value("rumor_store_used_bytes") > 0);
  CHECK(parsed.value("rumor_store_used_bytes") <= parsed.value("rumor_store_map_bytes"));
  CHECK(parsed.value("rumor_cas_outcomes_total", "outcome=\"ok\"") >= 1);
  CHECK(parsed.value("rumor_cas_outcomes_total", "outcome=\"conflict\"") >= 1);
  CHECK(pa.value("rumor_cas_acceptor_replies_total", "reply=\"accepted\"") >= 1);
  for (const auto* scrape : {&parsed, &pa})
    for (const auto& s : scrape->samples)
      if (s.name == "rumor_peer_lag_seconds") CHECK(s.value >= 0);

  // The dashboard's figures: /v1/sync holds the same histograms as /metrics, as JSON. Gossip may
  // still apply deltas between two reads, so the JSON's counts lie between a scrape taken before
  // it and one taken after it (both counts only grow).
  {
    auto sj = nlohmann::json::parse(get(ca, "/v1/sync", 200));
    auto after = rumor::test::check_prometheus(get(ca, "/metrics", 200));
    REQUIRE(sj["bounds"].is_array());
    CHECK(sj["bounds"].size() + 1 == sj["apply"]["counts"].size());
    for (const char* h : {"apply", "transfer"}) {
      const std::string family = std::string("rumor_sync_") + h + "_seconds_count";
      CAPTURE(family);
      CHECK(sj[h]["count"].get<double>() >= pa.value(family));
      CHECK(sj[h]["count"].get<double>() <= after.value(family));
    }
    uint64_t in_buckets = 0;
    for (const auto& c : sj["apply"]["counts"]) in_buckets += c.get<uint64_t>();
    CHECK(in_buckets == sj["apply"]["count"].get<uint64_t>());
    post(ca, "/v1/sync", "{}", 405);
  }

  // Every family the Grafana dashboard (docs/grafana-dashboard.json) queries is one a node exposes.
  {
    std::ifstream f(RUMOR_SOURCE_DIR "/docs/grafana-dashboard.json");
    REQUIRE(f);
    std::string dash((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::set<std::string> exposed;
    for (const auto* scrape : {&parsed, &pa})
      for (const auto& s : scrape->samples) exposed.insert(s.name);
    static const std::regex metric_re("rumor_[a-z_]+");
    size_t queried = 0;
    for (std::sregex_iterator it(dash.begin(), dash.end(), metric_re), end; it != end; ++it) {
      const std::string name = it->str();
      if (name == "rumor_cluster" || name == "rumor_") continue;  // the dashboard's own title / uid
      ++queried;
      INFO("the Grafana dashboard queries ", name);
      CHECK(exposed.count(name) == 1);
    }
    CHECK(queried >= 20);
  }

  // The node behind the endpoint is the same one the client protocol serves.
  auto conn = b.proc->connect(5000);
  REQUIRE(conn);
  a.proc->stop();
  b.proc->stop();
}

namespace {
// Runs `rumor node` with `args` (bounded by `timeout`, its own child); returns exit status and output.
std::pair<int, std::string> run_node_once(const std::string& args) {
  int rc = 0;
  std::string out = rumor::test::run_shell(std::string("timeout -k 5 20 ") + RUMOR_BINARY + " node " + args + " 2>&1", rc);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}
}  // namespace

TEST_CASE("http processes: a malformed or busy --http address stops the start with a clear message") {
  temp_dir dir;
  const std::string listen = "--listen 127.0.0.1:" + std::to_string(free_port());
  auto [rc, out] = run_node_once(listen + " --data " + dir.path + "/x --http not-an-address");
  CHECK(rc == 2);  // exit_usage
  CHECK(has(out, "--http"));

  // A port another process holds (here: a running node's HTTP endpoint).
  auto a = start_node(dir, "a", {});
  auto [rc2, out2] = run_node_once("--listen 127.0.0.1:" + std::to_string(free_port()) + " --data " + dir.path +
                                   "/y --http 127.0.0.1:" + std::to_string(a.http_port));
  CHECK(rc2 == 3);  // exit_unavailable: busy
  CHECK(has(out2, "cannot listen on 127.0.0.1:" + std::to_string(a.http_port)));
  // The running node is unaffected.
  auto c = a.client();
  CHECK(get(c, "/readyz", 200) == "ready\n");
  a.proc->stop();
}
