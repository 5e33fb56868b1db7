// The public API (include/rumor/node.hpp, value.hpp): every CRDT type read as a plain value,
// operations inside maps, subscriptions, status, errors, logging and a two-node cluster, through
// the shared library only. Nodes listen on 127.0.0.1 with OS-chosen ports; every wait is bounded.
#include <doctest/doctest.h>

#include <rumor/node.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <cstdio>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

using namespace std::chrono_literals;

namespace {

struct temp_dir {
  std::string path;
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "rumor-api-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

rumor::node_config quiet(std::string dir) {
  rumor::node_config c;
  c.data_dir = std::move(dir);
  c.gossip_interval_ms = 50;
  c.log_level = rumor::log_level::warn;
  return c;
}

std::unique_ptr<rumor::node> start(rumor::node_config c) {
  auto n = rumor::node::start(std::move(c));
  REQUIRE_MESSAGE(n, (n ? "" : n.err().describe()));
  REQUIRE((*n)->wait_ready(10s));
  return std::move(*n);
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// Two nodes in `d`: a, and b joined to it, both seeing both as members.
std::pair<std::unique_ptr<rumor::node>, std::unique_ptr<rumor::node>> start_pair(const temp_dir& d) {
  auto a = start(quiet(d.path + "/a"));
  auto cfg = quiet(d.path + "/b");
  cfg.seeds = {a->address()};
  auto b = start(cfg);
  REQUIRE(eventually([&] { return a->members()->size() == 2 && b->members()->size() == 2; }));
  return {std::move(a), std::move(b)};
}

}  // namespace

TEST_CASE("public api: each type reads as its plain value") {
  temp_dir d;
  auto n = start(quiet(d.path + "/n"));

  auto c = n->apply("c", rumor::op::increment(5));
  REQUIRE(c);
  CHECK(c->value.type == rumor::value_type::pn_counter);
  CHECK(n->apply("c", rumor::op::decrement(7))->value.counter == -2);
  CHECK(n->apply("g", rumor::op::grow(3))->value.type == rumor::value_type::g_counter);
  CHECK(n->apply("g", rumor::op::grow(4))->value.counter == 7);

  auto r = n->apply("r", rumor::op::set("hello"));
  REQUIRE(r);
  CHECK(r->value.type == rumor::value_type::lww_register);
  CHECK(r->value.text == std::optional<std::string>{"hello"});

  // A set's update says what it did; its value comes back only when asked for.
  auto s = n->apply("s", rumor::op::add({"pear", "apple", "fig"}));
  REQUIRE(s);
  CHECK(s->value.type == rumor::value_type::or_set);
  CHECK(s->value.items.empty());
  CHECK(s->outcome.changed == 3);
  CHECK(s->outcome.size == 3);
  rumor::op_options want_value;
  want_value.return_value = true;
  auto s2 = n->apply("s", rumor::op::remove({"fig"}), want_value);
  REQUIRE(s2);
  CHECK(s2->value.items == std::vector<std::string>{"apple", "pear"});
  CHECK(s2->outcome.changed == 1);
  CHECK(s2->outcome.size == 2);

  CHECK(n->apply("f", rumor::op::flag(true))->value.flag);
  CHECK_FALSE(n->apply("f", rumor::op::flag(false))->value.flag);
  // A flag that is off holds nothing, like a deleted key: it reads as absent (rumor/value.hpp).
  auto off = n->get("f");
  REQUIRE(off);
  CHECK_FALSE(*off);
  REQUIRE(n->apply("f", rumor::op::flag(true)));
  auto on = n->get("f");
  REQUIRE(on);
  REQUIRE(*on);
  CHECK((*on)->value.type == rumor::value_type::ew_flag);
  CHECK((*on)->value.flag);

  // mv-register: a conditional put with the context of the last read succeeds, a stale one fails
  // with conflict.
  auto m1 = n->apply("mv", rumor::op::mv_put("a"));
  REQUIRE(m1);
  CHECK(m1->value.items == std::vector<std::string>{"a"});
  auto m2 = n->apply("mv", rumor::op::mv_put("b", m1->context, true));
  REQUIRE(m2);
  CHECK(m2->value.items == std::vector<std::string>{"b"});
  auto stale = n->apply("mv", rumor::op::mv_put("c", m1->context, true));
  REQUIRE_FALSE(stale);
  CHECK(stale.err().code == rumor::errc::conflict);

  // or-map: nested fields through in_map, removal with map_remove
  REQUIRE(n->apply("doc", rumor::op::in_map({"title"}, rumor::op::set("draft"))));
  REQUIRE(n->apply("doc", rumor::op::in_map({"meta", "views"}, rumor::op::increment(2))));
  auto doc = n->apply("doc", rumor::op::in_map({"tags"}, rumor::op::add({"x"})), want_value);
  REQUIRE(doc);
  CHECK(doc->value.type == rumor::value_type::or_map);
  REQUIRE(doc->value.fields.size() == 3);
  CHECK(doc->value.fields[0].name == "meta");  // ordered by name
  const rumor::value* views = doc->value.field("meta") ? doc->value.field("meta")->field("views") : nullptr;
  REQUIRE(views);
  CHECK(views->counter == 2);
  CHECK(doc->value.field("title", rumor::value_type::lww_register)->text == std::optional<std::string>{"draft"});
  CHECK(doc->value.field("title", rumor::value_type::or_set) == nullptr);
  auto removed = n->apply("doc", rumor::op::map_remove({"tags"}, rumor::value_type::or_set), want_value);
  REQUIRE(removed);
  CHECK(removed->value.field("tags") == nullptr);
  CHECK(removed->value.fields.size() == 2);
  CHECK(removed->outcome.changed == 1);  // the field went
  CHECK(removed->outcome.size == 2);     // fields left in the key's map

  auto keys = n->keys();
  REQUIRE(keys);
  std::vector<std::string> names;
  for (const auto& k : *keys) names.push_back(k.key);
  CHECK(names == std::vector<std::string>{"c", "doc", "f", "g", "mv", "r", "s"});
  CHECK((*keys)[1].type == rumor::value_type::or_map);
  CHECK(rumor::to_string(rumor::value_type::or_set) == "or_set");
}

TEST_CASE("public api: absent and deleted keys, errors as values") {
  temp_dir d;
  auto n = start(quiet(d.path + "/n"));
  auto none = n->get("missing");
  REQUIRE(none);
  CHECK_FALSE(*none);

  REQUIRE(n->apply("k", rumor::op::increment()));
  auto wrong = n->apply("k", rumor::op::add({"x"}));
  REQUIRE_FALSE(wrong);
  CHECK(wrong.err().code == rumor::errc::type_mismatch);
  CHECK(n->get("k").value()->value.counter == 1);  // unchanged

  REQUIRE(n->apply("k", rumor::op::del()));
  auto gone = n->get("k");
  REQUIRE(gone);
  CHECK_FALSE(*gone);

  auto empty_key = n->apply("", rumor::op::increment());
  REQUIRE_FALSE(empty_key);
  CHECK(empty_key.err().code == rumor::errc::invalid_argument);

  n->stop();
  auto after = n->apply("k", rumor::op::increment());
  REQUIRE_FALSE(after);
  CHECK(after.err().code == rumor::errc::unavailable);
  CHECK(n->state() == rumor::readiness::stopped);
}

TEST_CASE("public api: subscriptions, status and the log sink") {
  temp_dir d;
  std::mutex mu;
  std::vector<std::string> lines;
  auto cfg = quiet(d.path + "/n");
  cfg.log_level = rumor::log_level::info;
  cfg.log_sink = [&](rumor::log_level level, std::string_view msg) {
    std::lock_guard<std::mutex> lock(mu);
    if (level >= rumor::log_level::info) lines.emplace_back(msg);
  };
  auto n = start(cfg);
  {
    std::lock_guard<std::mutex> lock(mu);
    bool listening = false;
    for (const auto& l : lines) listening |= l.find("listening on " + n->address()) != std::string::npos;
    CHECK_MESSAGE(listening, "the sink did not get the 'listening on' line");
  }

  std::mutex cmu;
  std::vector<rumor::change> changes;
  auto id = n->subscribe("user:", [&](const rumor::change& c) {
    std::lock_guard<std::mutex> lock(cmu);
    changes.push_back(c);
  });
  REQUIRE(n->apply("user:1", rumor::op::set("ann")));
  REQUIRE(n->apply("other", rumor::op::increment()));
  REQUIRE(n->apply("user:1", rumor::op::del()));
  REQUIRE(eventually([&] {
    std::lock_guard<std::mutex> lock(cmu);
    return changes.size() >= 2;
  }));
  {
    std::lock_guard<std::mutex> lock(cmu);
    REQUIRE(changes.size() == 2);
    CHECK(changes[0].key == "user:1");
    REQUIRE(changes[0].value);
    CHECK(changes[0].value->text == std::optional<std::string>{"ann"});
    CHECK(changes[0].origin == n->id());
    CHECK_FALSE(changes[1].value);  // deleted
  }
  n->unsubscribe(id);
  REQUIRE(n->apply("user:2", rumor::op::set("bob")));
  REQUIRE(n->get("user:2"));  // processed after the write; the unsubscribed callback saw nothing
  {
    std::lock_guard<std::mutex> lock(cmu);
    CHECK(changes.size() == 2);
  }

  auto st = n->status();
  REQUIRE(st);
  CHECK(st->id == n->id());
  CHECK(st->address == n->address());
  CHECK(st->cluster == "rumor");
  CHECK(st->readiness == rumor::readiness::ready);
  CHECK(st->local_updates == 4);  // set, increment, delete, set
  CHECK(st->keys >= 2);
}

TEST_CASE("public api: two embedded nodes converge, majority writes, async calls, a disabled cas lane") {
  temp_dir d;
  auto nodes = start_pair(d);
  auto& a = nodes.first;
  auto& b = nodes.second;

  auto w = b->apply("visits", rumor::op::increment(3), {rumor::consistency::majority, 5s});
  REQUIRE_MESSAGE(w, (w ? "" : w.err().describe()));
  auto on_a = a->get("visits");  // a majority of 2 is both: a has it already
  REQUIRE(on_a);
  REQUIRE(*on_a);
  CHECK((*on_a)->value.counter == 3);

  auto f1 = a->apply_async("cart", rumor::op::add({"apple"}));
  auto f2 = b->apply_async("cart", rumor::op::add({"pear"}));
  // Real futures: wait_for waits (a std::async-deferred future would say `deferred` at once).
  CHECK(f1.wait_for(5s) == std::future_status::ready);
  CHECK(a->get_async("cart").wait_for(5s) == std::future_status::ready);
  REQUIRE(f1.get());
  REQUIRE(f2.get());
  auto both = std::vector<std::string>{"apple", "pear"};
  CHECK(eventually([&] {
    auto x = a->get_async("cart").get();
    auto y = b->get("cart");
    return x && *x && y && *y && (*x)->value.items == both && (*y)->value.items == both;
  }));

  // The cas lane is disabled without voters: certainly not applied.
  auto cas = a->cas("lock", std::nullopt, "me", 1s);
  REQUIRE_FALSE(cas);
  CHECK(cas.err().code == rumor::errc::unavailable);
  b->stop();
  a->stop();
}

TEST_CASE("public api: the compare-and-set lane on one voter") {
  temp_dir d;
  // The voter list names the node's own advertised address, so the address must be known before
  // start: take a port the OS gives, then let the node bind it.
  rumor::node_config cfg = quiet(d.path + "/n");
  auto probe = start(quiet(d.path + "/probe"));
  std::string addr = probe->address();
  probe->stop();
  probe.reset();
  cfg.listen = addr;
  cfg.cas_voters = {addr};
  auto n = start(cfg);
  auto first = n->cas("lock", std::nullopt, "owner-1");
  REQUIRE_MESSAGE(first, (first ? "" : first.err().describe()));
  CHECK(first->applied);
  auto second = n->cas("lock", std::nullopt, "owner-2");
  REQUIRE(second);
  CHECK_FALSE(second->applied);
  CHECK(second->current == std::optional<std::string>{"owner-1"});
  CHECK(n->lget("lock").value() == std::optional<std::string>{"owner-1"});
  REQUIRE(n->cas("lock", std::string("owner-1"), std::nullopt)->applied);
  CHECK(n->lget("lock").value() == std::nullopt);
}

TEST_CASE("public api: parts of a set or map without reading all of it, page by page") {
  temp_dir d;
  auto n = start(quiet(d.path + "/n"));
  std::vector<std::string> members;
  for (int i = 0; i < 2500; ++i) members.push_back("member-" + std::to_string(10000 + i));
  for (size_t at = 0; at < members.size(); at += 500)
    REQUIRE(n->apply("big", rumor::op::add({members.begin() + at, members.begin() + at + 500})));
  CHECK(n->size("big").value() == 2500);
  CHECK(n->contains("big", "member-10042").value());
  CHECK_FALSE(n->contains("big", "member-99999").value());
  CHECK(n->size("absent").value() == 0);
  // Pages: every member once, in byte order, a page at a time.
  std::vector<std::string> walked;
  std::optional<std::string> after;
  for (int pages = 0; pages < 100; ++pages) {
    auto p = n->page("big", after, 300);
    REQUIRE(p);
    CHECK(p->type == rumor::value_type::or_set);
    CHECK(p->size == 2500);
    CHECK(p->members.size() <= 300);
    walked.insert(walked.end(), p->members.begin(), p->members.end());
    after = p->last();
    if (!p->more) break;
  }
  CHECK(walked == members);  // "member-1xxxx" sort as numbers here
  // Nested: the set in a map field, and the fields of a map.
  REQUIRE(n->apply("doc", rumor::op::in_map({"tags"}, rumor::op::add({"a", "b"}))));
  REQUIRE(n->apply("doc", rumor::op::in_map({"views"}, rumor::op::increment(4))));
  CHECK(n->size({"doc", {"tags"}}).value() == 2);
  CHECK(n->contains({"doc", {"tags"}}, "b").value());
  CHECK(n->contains("doc", "views").value());  // a map: its field names
  auto fields = n->page("doc");
  REQUIRE(fields);
  CHECK(fields->type == rumor::value_type::or_map);
  REQUIRE(fields->fields.size() == 2);
  CHECK(fields->fields[0].name == "tags");
  CHECK(fields->fields[0].v.items == std::vector<std::string>{"a", "b"});
  CHECK(fields->fields[1].v.counter == 4);
  auto views = n->fields({"doc", {"views"}});
  REQUIRE(views);
  REQUIRE(views->size() == 1);
  CHECK((*views)[0].v.counter == 4);
  CHECK(n->fields("doc").err().code == rumor::errc::invalid_argument);
  // Other types and bad limits are refused.
  REQUIRE(n->apply("c", rumor::op::increment(1)));
  CHECK(n->size("c").err().code == rumor::errc::type_mismatch);
  CHECK(n->page("big", std::nullopt, 0).err().code == rumor::errc::invalid_argument);
  CHECK(n->page("big", std::nullopt, 100'001).err().code == rumor::errc::invalid_argument);
}

TEST_CASE("public api: a map of many fields is read by size, field and page from its records") {
  // A map is stored as one record per field (replication/map_records.hpp): each read below loads
  // the fields it answers with, and pages walk the field records in (name, type) order.
  temp_dir d;
  auto n = start(quiet(d.path + "/n"));
  std::vector<std::string> names;
  for (int i = 0; i < 1500; ++i) names.push_back("field-" + std::to_string(10000 + i));
  names.push_back(std::string("field-1\0nul", 11));  // a NUL in a name: ordered as bytes
  std::sort(names.begin(), names.end());
  for (const auto& f : names) REQUIRE(n->apply("wide", rumor::op::in_map({f}, rumor::op::increment(3))));
  REQUIRE(n->apply("wide", rumor::op::in_map({"field-10007"}, rumor::op::add({"x"}))));  // a second type
  CHECK(n->size("wide").value() == names.size() + 1);  // fields are (name, type)
  CHECK(n->contains("wide", "field-10042").value());
  CHECK(n->contains("wide", std::string("field-1\0nul", 11)).value());
  CHECK_FALSE(n->contains("wide", "field-99999").value());
  auto one = n->fields({"wide", {"field-10007"}});
  REQUIRE(one);
  REQUIRE(one->size() == 2);  // the counter and the set
  CHECK((*one)[0].v.counter == 3);
  CHECK((*one)[1].v.items == std::vector<std::string>{"x"});
  CHECK(n->size({"wide", {"field-10007"}}).value() == 1);  // the set in that field
  // Pages: every name once, in byte order, never splitting a name's types.
  std::vector<std::string> walked;
  std::optional<std::string> after;
  for (int pages = 0; pages < 100; ++pages) {
    auto p = n->page("wide", after, 200);
    REQUIRE(p);
    CHECK(p->type == rumor::value_type::or_map);
    CHECK(p->size == names.size() + 1);
    for (const auto& f : p->fields)
      if (walked.empty() || walked.back() != f.name) walked.push_back(f.name);
    if (!p->more) break;
    REQUIRE_FALSE(p->fields.empty());
    after = p->fields.back().name;
  }
  CHECK(walked == names);
  // A field removed: gone from every read.
  REQUIRE(n->apply("wide", rumor::op::map_remove({"field-10042"}, rumor::value_type::pn_counter)));
  CHECK(n->size("wide").value() == names.size());
  CHECK_FALSE(n->contains("wide", "field-10042").value());
  CHECK(n->fields({"wide", {"field-10042"}}).value().empty());
  // A field is (name, type): removing the counter of field-10007 leaves its set.
  REQUIRE(n->apply("wide", rumor::op::map_remove({"field-10007"}, rumor::value_type::pn_counter)));
  auto left = n->fields({"wide", {"field-10007"}});
  REQUIRE(left);
  REQUIRE(left->size() == 1);
  CHECK(left->front().v.items == std::vector<std::string>{"x"});
  CHECK(n->size("wide").value() == names.size() - 1);
}

TEST_CASE("public api: a node that joins late gets a map of many fields field by field, equal to the source") {
  // The full transfer to the new node carries the big map's header and then its fields in pages
  // (replication/replica_element_repair.cpp): over real connections and stores, the result is the
  // same map, every field with its value.
  temp_dir d;
  auto a = start(quiet(d.path + "/a"));
  std::vector<std::string> names;
  for (int i = 0; i < 1200; ++i) names.push_back("f-" + std::to_string(10000 + i));
  for (size_t i = 0; i < names.size(); ++i)
    REQUIRE(a->apply("wide", rumor::op::in_map({names[i]}, rumor::op::increment(static_cast<int64_t>(i) + 1))));
  REQUIRE(a->apply("wide", rumor::op::in_map({"f-10007"}, rumor::op::add({"x", "y"}))));  // a second type
  REQUIRE(a->apply("wide", rumor::op::map_remove({"f-10042"}, rumor::value_type::pn_counter)));
  auto cfg = quiet(d.path + "/b");
  cfg.seeds = {a->address()};
  auto b = start(cfg);
  const uint64_t fields = names.size();  // 1,200 counters + a set - a removed counter
  REQUIRE(eventually([&] {
    auto n = b->size("wide");
    return n && *n == fields;
  }, 30s));
  CHECK(b->contains("wide", "f-11199").value());
  CHECK_FALSE(b->contains("wide", "f-10042").value());
  auto one = b->fields({"wide", {"f-10007"}});
  REQUIRE(one);
  REQUIRE(one->size() == 2);
  CHECK((*one)[0].v.counter == 8);
  CHECK((*one)[1].v.items == std::vector<std::string>{"x", "y"});
  // Every field, page by page, equal on both nodes.
  auto walk = [](rumor::node& n) {
    std::vector<std::pair<std::string, int64_t>> out;
    std::optional<std::string> after;
    for (int pages = 0; pages < 100; ++pages) {
      auto p = n.page("wide", after, 250);
      REQUIRE(p);
      for (const auto& f : p->fields) out.emplace_back(f.name, f.v.counter);
      if (!p->more) break;
      after = p->fields.back().name;
    }
    return out;
  };
  auto on_a = walk(*a);
  CHECK(on_a.size() == fields);
  CHECK(walk(*b) == on_a);
  b->stop();
  a->stop();
}

namespace {

// The events a subscription received, and the set they describe when replayed.
struct set_watch {
  std::mutex mu;
  std::vector<rumor::change> events;
  void operator()(const rumor::change& c) {
    std::lock_guard<std::mutex> lock(mu);
    events.push_back(c);
  }
  std::optional<uint64_t> last_size() {
    std::lock_guard<std::mutex> lock(mu);
    if (events.empty() || !events.back().set) return std::nullopt;
    return events.back().set->size;
  }
};

}  // namespace

TEST_CASE("public api: a subscription with set changes is told what joined and left a big set, not its whole value") {
  temp_dir d;
  auto nodes = start_pair(d);
  auto& a = nodes.first;
  auto& b = nodes.second;

  set_watch local, remote, plain;  // on a (its own updates), on b (a's deltas), on b without set changes
  auto id_local = a->subscribe("big", std::ref(local), {true});
  auto id_remote = b->subscribe("big", std::ref(remote), {true});
  auto id_plain = b->subscribe("big", std::ref(plain));
  auto members = [](int from, int to) {
    std::vector<std::string> out;
    char name[16];
    for (int i = from; i < to; ++i) out.emplace_back(name, std::snprintf(name, sizeof name, "m%04d", i));
    return out;
  };
  // Each step waits for b, so that no event merges two of them (one event may list 1,000 members).
  auto step = [&](rumor::operation op, uint64_t size) {
    REQUIRE(a->apply("big", std::move(op)));
    REQUIRE(eventually([&] { return local.last_size() == size && remote.last_size() == size; }));
  };
  step(rumor::op::add(members(0, 600)), 600);
  step(rumor::op::add(members(600, 1001)), 1001);
  step(rumor::op::remove({"m0000"}), 1000);
  step(rumor::op::add({"new"}), 1001);

  std::set<std::string> expect;
  for (const auto& m : members(1, 1001)) expect.insert(m);
  expect.insert("new");
  for (set_watch* w : {&local, &remote}) {
    std::lock_guard<std::mutex> lock(w->mu);
    std::set<std::string> replayed;
    for (const auto& e : w->events) {
      REQUIRE(e.set);
      CHECK(e.set->complete);
      for (const auto& m : e.set->added) CHECK(replayed.insert(m).second);
      for (const auto& m : e.set->removed) CHECK(replayed.erase(m) == 1);
      CHECK(e.set->size == replayed.size());
      // Over 1,000 members the value is left out; up to 1,000 it is the whole set.
      CHECK(e.value_omitted == (e.set->size > 1000));
      if (e.set->size <= 1000) {
        REQUIRE(e.value);
        CHECK(e.value->items == std::vector<std::string>(replayed.begin(), replayed.end()));
      } else {
        CHECK_FALSE(e.value);
      }
    }
    CHECK(replayed == expect);
    CHECK(w->events.back().origin == a->id());
  }
  {
    // Without set changes: the whole value every time, as before. Its events come on their own
    // (the steps wait only for the other two watches): wait for the last one too.
    const std::vector<std::string> whole(expect.begin(), expect.end());
    CHECK(eventually([&] {
      std::lock_guard<std::mutex> lock(plain.mu);
      return !plain.events.empty() && plain.events.back().value && plain.events.back().value->items == whole;
    }));
    std::lock_guard<std::mutex> lock(plain.mu);
    REQUIRE_FALSE(plain.events.empty());
    for (const auto& e : plain.events) {
      CHECK_FALSE(e.set);
      CHECK_FALSE(e.value_omitted);
      CHECK(e.value);
    }
    REQUIRE(plain.events.back().value);
    CHECK(plain.events.back().value->items == std::vector<std::string>(expect.begin(), expect.end()));
  }
  // Views at majority and all go through the peers' key vectors (PROTOCOL.md, "Consistency per
  // operation"), and agree with the set.
  rumor::op_options majority{rumor::consistency::majority, 5s};
  rumor::op_options all{rumor::consistency::all, 5s};
  auto size = b->size("big", majority);
  REQUIRE_MESSAGE(size, (size ? "" : size.err().describe()));
  CHECK(*size == 1001);
  auto has_new = a->contains("big", "new", all);
  REQUIRE(has_new);
  CHECK(*has_new);
  auto has_gone = b->contains("big", "m0000", all);
  REQUIRE(has_gone);
  CHECK_FALSE(*has_gone);
  // Deleting the key: an event with no value that is not an omission.
  REQUIRE(a->apply("big", rumor::op::del()));
  REQUIRE(eventually([&] { return remote.last_size() == uint64_t{0}; }));
  {
    std::lock_guard<std::mutex> lock(remote.mu);
    const auto& e = remote.events.back();
    CHECK_FALSE(e.value);
    CHECK_FALSE(e.value_omitted);
    CHECK(e.set->removed.size() == 1000);  // 1,001 left: at most 1,000 listed
    CHECK_FALSE(e.set->complete);
  }
  a->unsubscribe(id_local);
  b->unsubscribe(id_remote);
  b->unsubscribe(id_plain);
  b->stop();
  a->stop();
}

TEST_CASE("public api: a subscription with set changes is told which fields of a big map appeared, went and changed") {
  temp_dir d;
  auto nodes = start_pair(d);
  auto& a = nodes.first;
  auto& b = nodes.second;

  set_watch local, remote, plain;  // on a (its own updates), on b (a's deltas), on b without set changes
  auto id_local = a->subscribe("doc", std::ref(local), {true});
  auto id_remote = b->subscribe("doc", std::ref(remote), {true});
  auto id_plain = b->subscribe("doc", std::ref(plain));
  auto field = [](int i) {
    char name[16];
    return std::string(name, std::snprintf(name, sizeof name, "f%04d", i));
  };
  for (int i = 0; i < 1001; ++i) REQUIRE(a->apply("doc", rumor::op::in_map({field(i)}, rumor::op::increment(1))));
  REQUIRE(eventually([&] { return local.last_size() == uint64_t{1001} && remote.last_size() == uint64_t{1001}; }));
  // One field written again, one removed: each its own step (waited for), so the lists say which.
  REQUIRE(a->apply("doc", rumor::op::in_map({field(7)}, rumor::op::increment(5))));
  REQUIRE(eventually([&] {
    std::lock_guard<std::mutex> lock(remote.mu);
    return !remote.events.empty() && remote.events.back().set && !remote.events.back().set->changed.empty();
  }));
  REQUIRE(a->apply("doc", rumor::op::map_remove({field(3)}, rumor::value_type::pn_counter)));
  REQUIRE(eventually([&] { return local.last_size() == uint64_t{1000} && remote.last_size() == uint64_t{1000}; }));

  for (set_watch* w : {&local, &remote}) {
    std::lock_guard<std::mutex> lock(w->mu);
    std::set<std::string> replayed;
    size_t changes_of_7 = 0;
    for (const auto& e : w->events) {
      REQUIRE(e.set);
      CHECK(e.set->type == rumor::value_type::or_map);
      CHECK(e.set->complete);
      for (const auto& f : e.set->added) CHECK(replayed.insert(f).second);
      for (const auto& f : e.set->removed) CHECK(replayed.erase(f) == 1);
      for (const auto& f : e.set->changed) {
        CHECK(replayed.count(f) == 1);
        changes_of_7 += f == field(7);
      }
      CHECK(e.set->size == replayed.size());
      // Over 1,000 fields the value is left out; up to 1,000 it is the whole map.
      CHECK(e.value_omitted == (e.set->size > 1000));
      if (e.set->size <= 1000) {
        REQUIRE(e.value);
        CHECK(e.value->type == rumor::value_type::or_map);
        CHECK(e.value->fields.size() == replayed.size());
      } else {
        CHECK_FALSE(e.value);
      }
    }
    CHECK(changes_of_7 == 1);
    CHECK(replayed.size() == 1000);
    CHECK(replayed.count(field(3)) == 0);
    CHECK(replayed.count(field(1000)) == 1);
    CHECK(w->events.back().origin == a->id());
  }
  {
    // Without set changes: the whole map every time, as before.
    std::lock_guard<std::mutex> lock(plain.mu);
    REQUIRE_FALSE(plain.events.empty());
    for (const auto& e : plain.events) {
      CHECK_FALSE(e.set);
      CHECK_FALSE(e.value_omitted);
      CHECK(e.value);
    }
  }
  a->unsubscribe(id_local);
  b->unsubscribe(id_remote);
  b->unsubscribe(id_plain);
  b->stop();
  a->stop();
}
