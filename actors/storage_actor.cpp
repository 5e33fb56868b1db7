#include "actors/storage_actor.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <vector>

#include "actors/actor_messages.hpp"

namespace rumor::actors {

namespace {

struct queued {
  uint8_t lane;
  uint64_t generation;
  replication::pending_batch batch;
};

struct storage_state {
  std::shared_ptr<persistence::store> store;
  caf::actor replica;
  std::vector<queued> queue;
  // Per lane, the newest generation of which a batch failed: batches of it or an older one are
  // dropped, never committed (storage_batches).
  std::map<uint8_t, uint64_t> failed_generation;
  bool flush_scheduled = false;
  static inline const char* name = "rumor.storage";
};

void commit_queue(caf::stateful_actor<storage_state>* self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.queue.empty()) return;
  std::vector<persistence::write_batch> group;
  group.reserve(st.queue.size());
  for (auto& q : st.queue) group.push_back(std::move(q.batch.batch));
  auto ok = st.store->commit(group);
  // One result per lane present in the group: its last (or first failed) batch id.
  std::map<uint8_t, storage_result> results;
  for (const auto& q : st.queue) {
    auto [it, fresh] = results.try_emplace(q.lane);
    storage_result& r = it->second;
    r.lane = q.lane;
    if (ok) {
      r.last_committed = q.batch.id;
    } else {
      auto& failed = st.failed_generation[q.lane];
      failed = std::max(failed, q.generation);
      if (fresh) {
        r.last_committed = q.batch.id - 1;
        r.failure = ok.err();
        r.failed_batch = q.batch.id;
      }
    }
  }
  st.queue.clear();
  for (auto& [lane, r] : results) self->send(st.replica, std::move(r));
}

caf::behavior storage(caf::stateful_actor<storage_state>* self, std::shared_ptr<persistence::store> store,
                      caf::actor replica) {
  self->state.store = std::move(store);
  self->state.replica = std::move(replica);
  return {
      [=](storage_batches& b) {
        auto& st = self->state;
        if (auto f = st.failed_generation.find(b.lane); f != st.failed_generation.end() && b.generation <= f->second)
          return;  // built on a batch that failed: its lane ignores the results of that generation
        for (auto& x : b.batches) st.queue.push_back(queued{b.lane, b.generation, std::move(x)});
        if (!st.flush_scheduled) {
          // Everything already in the mailbox is handled before this flush: one group.
          st.flush_scheduled = true;
          self->send(self, flush_atom::value);
        }
      },
      [=](flush_atom) { commit_queue(self); },
      [=](probe_atom) -> caf::result<caf::atom_value> {
        commit_queue(self);  // what is queued first: the probe must not overtake it
        persistence::write_batch b;
        b.put_meta("probe/space", std::to_string(std::chrono::system_clock::now().time_since_epoch().count()));
        auto ok = self->state.store->commit(std::vector<persistence::write_batch>{std::move(b)});
        if (!ok) return caf::make_error(caf::sec::runtime_error, ok.err().describe());
        return caf::atom_value{caf::ok_atom::value};
      },
      [=](stop_atom) -> caf::result<caf::atom_value> {
        commit_queue(self);
        (void)self->state.store->sync();
        self->quit();
        return caf::atom_value{caf::ok_atom::value};
      },
  };
}

}  // namespace

caf::actor spawn_storage(caf::actor_system& sys, std::shared_ptr<persistence::store> store, caf::actor replica) {
  return sys.spawn<caf::detached>(storage, std::move(store), std::move(replica));
}

}  // namespace rumor::actors
