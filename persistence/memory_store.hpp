#pragma once
// rumor::persistence::memory_store — a store in std::maps with the semantics of lmdb_store, for
// simulations and as the reference model in tests. Never corrupt (quarantined() is always empty;
// use faulty_store to inject corruption); map_full only when a capacity is configured.
//
// Durability is modelled: in relaxed mode a commit is visible at once but durable only after
// sync(); crash() then drops what was not durable — whole commits, never part of one. In durable
// mode every commit is durable when commit() returns, so crash() drops nothing.
//
// Thread safety: as store; internally one shared_mutex (reads shared, commit/crash exclusive), so
// unlike lmdb_store a running scan delays commits until it returns.

#include <map>
#include <optional>
#include <shared_mutex>
#include <utility>

#include "persistence/options.hpp"
#include "persistence/store.hpp"

namespace rumor::persistence {

class memory_store final : public store {
 public:
  struct config {
    durability mode = durability::durable;
    uint64_t node_id = 0;         // 0: a fresh random_node_id()
    uint64_t capacity_bytes = 0;  // 0: unlimited; else sum of key + data bytes held, beyond
                                  // which a commit fails with errc::map_full (nothing applied)
  };

  memory_store() : memory_store(config{}) {}
  explicit memory_store(const config& cfg);

  // Models a process/power crash followed by a restart on the same storage: commits not yet
  // durable (relaxed mode, since the last sync()) are rolled back, newest first.
  void crash();

  using store::commit;
  status commit(std::span<const write_batch> group) override;
  result<std::optional<std::string>> get_value(std::string_view key) const override;
  status scan_values(const key_range& range, const record_visitor& visit) const override;
  status scan_deltas(uint64_t origin, uint64_t from_seq, const delta_visitor& visit) const override;
  result<std::optional<std::string>> get_meta(std::string_view name) const override;
  status scan_meta(const key_range& range, const record_visitor& visit) const override;
  uint64_t node_id() const override { return node_id_; }
  std::vector<quarantine_entry> quarantined() const override { return {}; }
  status sync() override;
  result<store_stats> stats() const override;

 private:
  using string_map = std::map<std::string, std::string, std::less<>>;
  using delta_map = std::map<std::pair<uint64_t, uint64_t>, std::string>;

  // Prior state of one record, to undo a write.
  struct undo_entry {
    record_kind kind;
    std::string key;                    // values and meta
    std::pair<uint64_t, uint64_t> dot;  // deltas
    std::optional<std::string> prior;   // nullopt: the record did not exist
  };

  void apply(const write_op& op, std::vector<undo_entry>& undo);
  void set(record_kind kind, const std::string& key, std::pair<uint64_t, uint64_t> dot,
           std::optional<std::string> data, std::vector<undo_entry>& undo);
  void roll_back(std::vector<undo_entry>& undo);
  static status scan_map(const string_map& m, const key_range& range, bool skip_reserved,
                         const record_visitor& visit);

  const config cfg_;
  const uint64_t node_id_;
  mutable std::shared_mutex mu_;
  string_map values_;
  delta_map deltas_;
  string_map meta_;
  uint64_t bytes_ = 0;            // key + data bytes held
  std::vector<undo_entry> undo_;  // relaxed mode: everything since the last sync()
};

}  // namespace rumor::persistence
