#include "actors/storage_actor.hpp"

#include <map>
#include <vector>

#include "actors/actor_messages.hpp"

namespace rumor::actors {

namespace {

struct storage_state {
  std::shared_ptr<persistence::store> store;
  caf::actor replica;
  std::vector<std::pair<uint8_t, replication::pending_batch>> queue;  // (lane, batch)
  bool flush_scheduled = false;
  static inline const char* name = "rumor.storage";
};

void commit_queue(caf::stateful_actor<storage_state>* self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.queue.empty()) return;
  std::vector<persistence::write_batch> group;
  group.reserve(st.queue.size());
  for (auto& [lane, b] : st.queue) group.push_back(std::move(b.batch));
  auto ok = st.store->commit(group);
  // One result per lane present in the group: its last (or first failed) batch id.
  std::map<uint8_t, storage_result> results;
  for (const auto& [lane, b] : st.queue) {
    auto [it, fresh] = results.try_emplace(lane);
    storage_result& r = it->second;
    r.lane = lane;
    if (ok) {
      r.last_committed = b.id;
    } else if (fresh) {
      r.last_committed = b.id - 1;
      r.failure = ok.err();
      r.failed_batch = b.id;
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
        for (auto& x : b.batches) st.queue.emplace_back(b.lane, std::move(x));
        if (!st.flush_scheduled) {
          // Everything already in the mailbox is handled before this flush: one group.
          st.flush_scheduled = true;
          self->send(self, flush_atom::value);
        }
      },
      [=](flush_atom) { commit_queue(self); },
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
