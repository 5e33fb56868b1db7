// A full disk under a live node: its data directory is on a tmpfs of 48 MiB that the test mounts
// (as root; elsewhere the case skips with a message) and fills with a ballast file. Writes must
// then be refused with a clear error (errc::map_full naming the lack of space), never
// acknowledged and then lost; reads keep working; `status` says why; and once the ballast is
// removed, writes resume with no restart. Finally the node is killed (-9) and restarted: every
// acknowledged write is still there.

#include <doctest/doctest.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

#include "fault_tools.hpp"
#include "processes.hpp"

using namespace std::chrono_literals;
using rumor::test::node_process;
using rumor::test::temp_dir;
using rumor::test::register_set;
using rumor::test::small_fs;
using rumor::test::status_of;

namespace {

std::optional<std::string> read_register(rumor::client::connection& c, const std::string& key) {
  rumor::client::request req;
  req.body = rumor::client::get{key};
  auto r = c.call(req, 5000);
  if (!r) MESSAGE("read " << key << ": " << r.err().describe());
  else if (r->code != rumor::errc::ok || r->values.empty())
    MESSAGE("read " << key << ": " << rumor::to_string(r->code) << " " << r->message << ", " << r->values.size() << " values");
  if (!r || r->code != rumor::errc::ok || r->values.empty()) return std::nullopt;
  auto v = rumor::crdt::decode(r->values.front().value);
  if (!v) return std::nullopt;
  auto* reg = v->get_if<rumor::crdt::lww_register>();
  if (!reg) return std::nullopt;
  return reg->read();
}

}  // namespace

TEST_CASE("disk full: writes refused with a clear error, reads work, status says why, writes resume") {
  temp_dir base;
  small_fs fs(base.path + "/fs", 48);
  if (!fs.mounted) {
    MESSAGE("skipped: " << fs.why);
    return;
  }
  node_process node(RUMOR_BINARY, "127.0.0.1:" + std::to_string(rumor::test::free_port()), fs.dir + "/data",
                    base.path + "/node.log");
  REQUIRE(node.start({"--cluster", "diskfull", "--durability", "durable"}));
  auto conn = node.connect(2000);
  REQUIRE(conn);

  std::map<std::string, std::string> acked;
  std::string pad(2048, 'v');
  for (int i = 0; i < 50; ++i) {
    std::string key = "before-" + std::to_string(i), value = pad + std::to_string(i);
    auto r = conn->call(register_set(key, value), 5000);
    REQUIRE(r);
    REQUIRE(r->code == rumor::errc::ok);
    acked[key] = value;
  }

  size_t ballast_mib = rumor::test::fill_ballast(fs.dir + "/ballast", 64);
  MESSAGE("ballast: " << ballast_mib << " MiB");
  REQUIRE(ballast_mib > 0);

  // Write until the node refuses a run of writes (bounded in count and time).
  size_t refused = 0, run = 0, written = 0;
  std::string refusal;
  auto until = std::chrono::steady_clock::now() + 60s;
  for (int i = 0; i < 20000 && run < 20 && std::chrono::steady_clock::now() < until; ++i) {
    std::string key = "during-" + std::to_string(i), value = pad + std::to_string(i);
    auto r = conn->call(register_set(key, value), 10000);
    if (!r) {  // the connection is gone: the node must still be up
      REQUIRE_MESSAGE(node.running(), "the node died");
      auto c = node.connect(2000);
      REQUIRE_MESSAGE(c, "the node does not accept connections: " << c.err().describe());
      conn = std::move(*c);
      continue;
    }
    if (r->code == rumor::errc::ok) {
      acked[key] = value;
      ++written;
      run = 0;
    } else {
      ++refused;
      ++run;
      if (refusal.empty()) refusal = std::string(rumor::to_string(r->code)) + ": " + r->message;
      CHECK_MESSAGE(r->code == rumor::errc::map_full, "refused with " << rumor::to_string(r->code) << ": " << r->message);
    }
  }
  MESSAGE("disk full: " << written << " writes acknowledged after the ballast, " << refused << " refused; first: "
                        << refusal);
  REQUIRE(refused > 0);
  CHECK(refusal.find("space") != std::string::npos);

  // The node is up, reads work, status says why.
  auto st = status_of(*conn);
  REQUIRE(st);
  MESSAGE("status while full: readiness " << st->readiness << ", storage error '" << st->storage_error << "'");
  CHECK(st->storage_error.find("space") != std::string::npos);
  for (const auto& [key, value] : acked) {
    auto got = read_register(*conn, key);
    REQUIRE_MESSAGE(got, "cannot read acknowledged key " << key << " while the disk is full");
    CHECK(*got == value);
  }

  // Space returns: writes resume, no restart.
  std::filesystem::remove(fs.dir + "/ballast");
  bool resumed = rumor::test::eventually_for(30s, [&] {
    auto r = conn->call(register_set("after", "space is back"), 5000);
    if (!r) {
      auto c = node.connect(1000);
      if (c) conn = std::move(*c);
      return false;
    }
    return r->code == rumor::errc::ok;
  });
  REQUIRE_MESSAGE(resumed, "writes did not resume once space was freed");
  acked["after"] = "space is back";
  bool cleared = rumor::test::eventually_for(30s, [&] {
    auto s = status_of(*conn);
    return s && s->storage_error.empty() && s->write_behind_error.empty();
  });
  CHECK_MESSAGE(cleared, "status still reports a storage error after space returned");

  // Nothing acknowledged was lost: kill -9, restart, read everything.
  node.kill_hard();
  REQUIRE(node.start({"--cluster", "diskfull", "--durability", "durable"}));
  auto again = node.connect(2000);
  REQUIRE(again);
  size_t checked = 0;
  for (const auto& [key, value] : acked) {
    auto got = read_register(*again, key);
    CHECK_MESSAGE(got == std::optional<std::string>(value), "acknowledged write of " << key << " lost");
    ++checked;
  }
  MESSAGE("after kill -9 and restart: " << checked << " acknowledged writes all present");
  node.stop();
}
