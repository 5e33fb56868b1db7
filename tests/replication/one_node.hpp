#pragma once
// One replica over a memory store, committing on demand: the tests of decomposed collections
// (test_replica_sets.cpp, test_replica_maps.cpp) drive it step by step.

#include <doctest/doctest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "persistence/memory_store.hpp"
#include "replication/replica.hpp"

namespace rumor::test {

using namespace rumor::replication;

struct one_node {
  persistence::memory_store store;
  std::unique_ptr<replica> rep;
  uint64_t now = 1'000'000;
  uint64_t next_request = 1;
  std::vector<reply> replies;
  std::vector<outgoing> messages;
  std::vector<change> changes;  // every change taken out, in order

  replica_config config;  // what restart() builds the replica with

  one_node() { restart(); }
  void restart() {
    rep = std::make_unique<replica>(store, "127.0.0.1:7000", config, 42);
    REQUIRE(rep->load(now));
    rep->start({}, now);
    commit(rep->take_ready());
  }
  void commit(ready r) {
    for (auto& b : r.batches) {
      REQUIRE(store.commit(std::span(&b.batch, 1)));
      rep->committed(b.id);
    }
    settle(std::move(r));
  }
  // Moves what committed() released (held replies and messages) out.
  void settle(ready r) {
    for (auto& x : r.replies) replies.push_back(std::move(x));
    for (auto& m : r.messages) messages.push_back(std::move(m));
    for (auto& c : r.changes) changes.push_back(std::move(c));
    ready more = rep->take_ready();
    for (auto& x : more.replies) replies.push_back(std::move(x));
    for (auto& m : more.messages) messages.push_back(std::move(m));
    for (auto& c : more.changes) changes.push_back(std::move(c));
    REQUIRE(more.batches.empty());
  }
  void update(const std::string& key, const mutator& m, const std::vector<std::string>* touches = nullptr,
              crdt::type_tag type = crdt::type_tag::or_set) {
    rep->update(next_request++, key, type, m, consistency::local, 1000, ++now, touches);
  }
  std::set<std::string> members(const std::string& key) {
    auto v = rep->get(key);
    REQUIRE(v);
    std::set<std::string> out;
    for (const auto& x : *v)
      if (const auto* s = x.get_if<crdt::or_set>())
        for (const auto& e : s->elements()) out.insert(e);
    return out;
  }
  set_view view(const std::string& key, set_view_request q) {
    auto r = rep->view_set(key, q);
    REQUIRE(r);
    REQUIRE(*r);
    return **r;
  }
};

}  // namespace rumor::test
