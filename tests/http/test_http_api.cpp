// The HTTP API's translation (http/http_api.hpp) and the metrics exposition (http/metrics.hpp),
// without sockets: every route, every malformed input, every error's status.
#include <doctest/doctest.h>

#include "client/render.hpp"
#include "crdt/codec.hpp"
#include "http/http_api.hpp"
#include "http/metrics.hpp"
#include "prometheus_check.hpp"

using namespace rumor;
using rumor::http::http_request;
using rumor::http::parse;
using rumor::http::route;
using rumor::http::routed;

namespace {

routed ok(const http_request& r) {
  auto p = parse(r);
  REQUIRE_MESSAGE(std::holds_alternative<routed>(p),
                  r.method << " " << r.path << ": " << std::get<http::http_reply>(p).body);
  return std::get<routed>(p);
}

http::http_reply refused(const http_request& r) {
  auto p = parse(r);
  REQUIRE(std::holds_alternative<http::http_reply>(p));
  return std::get<http::http_reply>(p);
}

client::update update_of(const std::string& body) {
  auto r = ok({"POST", "/v1/kv/k", {}, body});
  CHECK(r.kind == route::kv_update);
  return std::get<client::update>(r.request.body);
}

}  // namespace

TEST_CASE("http api: kv routes become client requests, with key, consistency and timeout") {
  auto g = ok({"GET", "/v1/kv/a/b c", {{"consistency", "majority"}, {"timeout_ms", "250"}}, ""});
  CHECK(g.kind == route::kv_get);
  CHECK(g.key == "a/b c");
  CHECK(std::get<client::get>(g.request.body).key == "a/b c");
  CHECK(g.request.level == client::consistency::majority);
  CHECK(g.request.timeout_ms == 250);

  auto d = ok({"DELETE", "/v1/kv/gone", {}, ""});
  CHECK(std::get<client::update>(d.request.body).op == client::op_kind::remove_key);
  CHECK(std::get<client::update>(d.request.body).key == "gone");

  CHECK(refused({"GET", "/v1/kv/k", {{"consistency", "most"}}, ""}).status == 400);
  CHECK(refused({"GET", "/v1/kv/k", {{"timeout_ms", "0"}}, ""}).status == 400);
  CHECK(refused({"GET", "/v1/kv/k", {{"timeout_ms", "12x"}}, ""}).status == 400);
  CHECK(refused({"GET", "/v1/kv/", {}, ""}).status == 400);
  CHECK(refused({"PUT", "/v1/kv/k", {}, ""}).status == 405);
  CHECK(refused({"GET", "/v2/kv/k", {}, ""}).status == 404);
  CHECK(refused({"POST", "/v1/keys", {}, ""}).status == 405);
}

TEST_CASE("http api: every operation body, and the malformed ones") {
  auto u = update_of(R"({"op":"incr","by":5})");
  CHECK(u.op == client::op_kind::counter_add);
  CHECK(u.type == crdt::type_tag::pn_counter);
  CHECK(u.amount == 5);
  CHECK(update_of(R"({"op":"incr"})").amount == 1);
  CHECK(update_of(R"({"op":"decr","by":3})").amount == -3);
  CHECK(update_of(R"({"op":"grow","by":2})").type == crdt::type_tag::g_counter);
  u = update_of(R"({"op":"set","value":"x","path":["a","b"]})");
  CHECK(u.type == crdt::type_tag::lww_register);
  CHECK(u.value == "x");
  CHECK(u.path == std::vector<std::string>{"a", "b"});
  u = update_of(R"({"op":"mvput","value":"v"})");
  CHECK(u.op == client::op_kind::mv_put);
  CHECK_FALSE(u.conditional);
  const std::string ctx = client::context_to_string(crdt::dot_context{});
  u = update_of(R"({"op":"mvput","value":"v","context":")" + ctx + "\"}");
  CHECK(u.conditional);
  REQUIRE(u.context);
  CHECK(*u.context == crdt::encode_context(crdt::dot_context{}));
  u = update_of(R"({"op":"sadd","members":["a","b"]})");
  CHECK(u.op == client::op_kind::set_add);
  CHECK(u.members == std::vector<std::string>{"a", "b"});
  CHECK(update_of(R"({"op":"srem","members":["a"]})").op == client::op_kind::set_remove);
  u = update_of(R"({"op":"flag","on":false})");
  CHECK(u.op == client::op_kind::flag_set);
  CHECK_FALSE(u.flag);
  u = update_of(R"({"op":"del","path":["f"],"type":"or_set"})");
  CHECK(u.op == client::op_kind::remove_key);
  CHECK(u.type == crdt::type_tag::or_set);

  for (const char* bad : {"", "garbage", "[]", "{}", R"({"op":1})", R"({"op":"nope"})", R"({"op":"incr","by":-1})",
                          R"({"op":"incr","by":"2"})", R"({"op":"set"})", R"({"op":"set","value":3})",
                          R"({"op":"sadd","members":[]})", R"({"op":"sadd","members":[1]})", R"({"op":"flag"})",
                          R"({"op":"mvput","value":"v","context":"zz"})", R"({"op":"del","path":["f"]})",
                          R"({"op":"del","path":["f"],"type":"bogus"})", R"({"op":"set","value":"v","path":"a"})"}) {
    auto r = refused({"POST", "/v1/kv/k", {}, bad});
    CHECK_MESSAGE(r.status == 400, bad);
    CHECK_MESSAGE(r.body.find("\"error\":\"invalid_argument\"") != std::string::npos, bad);
  }
}

TEST_CASE("http api: keys, members, status and the cas lane") {
  auto k = ok({"GET", "/v1/keys", {{"prefix", "p"}, {"limit", "7"}}, ""});
  CHECK(std::get<client::keys>(k.request.body).prefix == "p");
  CHECK(std::get<client::keys>(k.request.body).limit == 7);
  CHECK(refused({"GET", "/v1/keys", {{"limit", "0"}}, ""}).status == 400);
  CHECK(ok({"GET", "/v1/members", {}, ""}).kind == route::members);
  CHECK(ok({"GET", "/v1/status", {}, ""}).kind == route::status);

  auto c = ok({"POST", "/v1/cas/r", {}, R"({"expected":null,"value":"1"})"});
  CHECK(c.kind == route::cas_write);
  CHECK_FALSE(std::get<client::cas>(c.request.body).expected);
  CHECK(std::get<client::cas>(c.request.body).value == std::optional<std::string>("1"));
  c = ok({"POST", "/v1/cas/r", {}, R"({"expected":"1","value":null})"});
  CHECK(std::get<client::cas>(c.request.body).expected == std::optional<std::string>("1"));
  CHECK_FALSE(std::get<client::cas>(c.request.body).value);
  CHECK(refused({"POST", "/v1/cas/r", {}, R"({"value":"1"})"}).status == 400);
  CHECK(refused({"POST", "/v1/cas/r", {}, R"({"expected":1,"value":"1"})"}).status == 400);
  CHECK(ok({"GET", "/v1/cas/r", {}, ""}).kind == route::cas_read);
}

TEST_CASE("http api: responses render as the CLI's --json, errors map to HTTP statuses") {
  crdt::value v = crdt::value::empty_of(crdt::type_tag::pn_counter);
  auto r = ok({"GET", "/v1/kv/n", {}, ""});
  client::response empty;
  auto nf = http::render(r, empty);
  CHECK(nf.status == 404);
  CHECK(nf.body.find("not_found") != std::string::npos);

  client::response err;
  err.code = errc::timeout;
  err.message = "majority not reached";
  auto t = http::render(r, err);
  CHECK(t.status == 504);
  CHECK(t.body.find("majority not reached") != std::string::npos);

  CHECK(http::status_of(errc::ok) == 200);
  CHECK(http::status_of(errc::invalid_argument) == 400);
  CHECK(http::status_of(errc::not_found) == 404);
  CHECK(http::status_of(errc::conflict) == 409);
  CHECK(http::status_of(errc::type_mismatch) == 409);
  CHECK(http::status_of(errc::too_large) == 413);
  CHECK(http::status_of(errc::unavailable) == 503);
  CHECK(http::status_of(errc::timeout) == 504);
  CHECK(http::status_of(errc::map_full) == 507);
  CHECK(http::status_of(errc::io_error) == 500);

  auto st = ok({"GET", "/v1/status", {}, ""});
  client::response sr;
  sr.node = client::node_status{};
  sr.node->node = 0xabc;
  sr.node->readiness = "ready";
  sr.node->peers.push_back({0x12, 7, 1500});
  auto s = http::render(st, sr);
  CHECK(s.status == 200);
  CHECK(s.body.find("\"node\":\"0000000000000abc\"") != std::string::npos);
  CHECK(s.body.find("{\"id\":\"0000000000000012\",\"behind\":7,\"lag_ms\":1500}") != std::string::npos);
}

TEST_CASE("metrics: the exposition is valid, counts requests, escapes labels") {
  client::node_status n;
  n.node = 1;
  n.address = "127.0.0.1:1";
  n.cluster = "we\"ird\\name\n";
  n.readiness = "ready";
  n.local_updates = 42;
  n.peers = {{2, 3, 2500}, {4, 0, 0}};
  std::vector<client::member_info> members = {{1, "a", 0, 0}, {2, "b", 0, 0}, {4, "c", 2, 1}};
  http::server_counters sc;
  sc.routes["kv_get"].observe(200, 0.0007);
  sc.routes["kv_get"].observe(404, 0.2);
  sc.routes["kv_update"].observe(200, 9.0);
  auto text = http::prometheus_text(n, members, sc);
  auto r = test::check_prometheus(text);
  for (const auto& p : r.problems) FAIL_CHECK(p);
  CHECK(r.value("rumor_up") == 1);
  CHECK(r.value("rumor_updates_local_total") == 42);
  CHECK(r.value("rumor_peer_behind_updates", "peer=\"0000000000000002\"") == 3);
  CHECK(r.value("rumor_peer_lag_seconds", "peer=\"0000000000000002\"") == 2.5);
  CHECK(r.value("rumor_peer_lag_seconds", "peer=\"0000000000000004\"") == 0);
  CHECK(r.value("rumor_members", "status=\"alive\"") == 2);
  CHECK(r.value("rumor_members", "status=\"dead\"") == 1);
  CHECK(r.value("rumor_readiness", "state=\"ready\"") == 1);
  CHECK(r.value("rumor_http_requests_total", "route=\"kv_get\",code=\"404\"") == 1);
  CHECK(r.value("rumor_http_request_duration_seconds_bucket", "route=\"kv_get\",le=\"0.001\"") == 1);
  CHECK(r.value("rumor_http_request_duration_seconds_bucket", "route=\"kv_get\",le=\"0.5\"") == 2);
  CHECK(r.value("rumor_http_request_duration_seconds_bucket", "route=\"kv_update\",le=\"2.5\"") == 0);
  CHECK(r.value("rumor_http_request_duration_seconds_bucket", "route=\"kv_update\",le=\"+Inf\"") == 1);
  CHECK(text.find("cluster=\"we\\\"ird\\\\name\\n\"") != std::string::npos);

  http::node_metrics nm;
  nm.sync_change.observe(0.003);
  nm.sync_apply.observe(0.02, 5);
  nm.sync_transfer.observe(100);  // above the last bound: only in +Inf
  nm.families.push_back(http::family{"rumor_peer_messages_received_total", "counter", "by kind",
                                     {{"kind=\"push\"", 3}, {"kind=\"ping\"", 0}}});
  nm.families.push_back(http::family::one("rumor_store_used_bytes", "gauge", "used", 4096));
  auto with_node = test::check_prometheus(http::prometheus_text(n, members, sc, nm));
  for (const auto& p : with_node.problems) FAIL_CHECK(p);
  CHECK(with_node.value("rumor_sync_change_seconds_bucket", "le=\"0.0025\"") == 0);
  CHECK(with_node.value("rumor_sync_change_seconds_bucket", "le=\"0.005\"") == 1);
  CHECK(with_node.value("rumor_sync_apply_seconds_count") == 5);
  CHECK(with_node.value("rumor_sync_apply_seconds_sum") == doctest::Approx(0.1));
  CHECK(with_node.value("rumor_sync_transfer_seconds_bucket", "le=\"60\"") == 0);
  CHECK(with_node.value("rumor_sync_transfer_seconds_bucket", "le=\"+Inf\"") == 1);
  CHECK(with_node.value("rumor_peer_messages_received_total", "kind=\"push\"") == 3);
  CHECK(with_node.value("rumor_peer_messages_received_total", "kind=\"ping\"") == 0);
  CHECK(with_node.value("rumor_store_used_bytes") == 4096);

  // The same histograms as JSON for the dashboard (GET /v1/sync).
  const std::string sj = http::sync_json(nm);
  CHECK(sj.find("\"bounds\":[0.001,0.0025,") == 0 + std::string("{").size());
  CHECK(sj.find("\"apply\":{\"counts\":[0,0,0,0,5,0,0,0,0,0,0,0,0,0,0,0],\"count\":5,\"sum\":0.1}") != std::string::npos);
  CHECK(sj.find("\"transfer\":{\"counts\":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1],\"count\":1,\"sum\":100}") != std::string::npos);

  auto down = test::check_prometheus(http::prometheus_text(std::nullopt, {}, sc));
  for (const auto& p : down.problems) FAIL_CHECK(p);
  CHECK(down.value("rumor_up") == 0);
}

TEST_CASE("metrics checker: rejects what Prometheus would reject") {
  // The checker the process test relies on must itself fail on bad input.
  CHECK_FALSE(test::check_prometheus("x 1\n").problems.empty());                         // no TYPE
  CHECK_FALSE(test::check_prometheus("# HELP c h\n# TYPE c counter\nc 1\n").problems.empty());  // not _total
  CHECK_FALSE(test::check_prometheus("# HELP g h\n# TYPE g gauge\ng{a=\"x} 1\n").problems.empty());
  CHECK_FALSE(test::check_prometheus("# HELP g h\n# TYPE g gauge\ng one\n").problems.empty());
  CHECK_FALSE(test::check_prometheus("# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
                                     "h_count 1\nh_sum 0\n")
                  .problems.empty());
  CHECK(test::check_prometheus("# HELP g h\n# TYPE g gauge\ng{a=\"x\\\"y\"} 1.5e3\n").problems.empty());
}
