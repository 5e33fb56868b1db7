#include "persistence/memory_store.hpp"

#include <mutex>

#include "persistence/node_id.hpp"
#include "persistence/record_format.hpp"

namespace rumor::persistence {

namespace {


constexpr uint64_t delta_key_size = delta_key_bytes;

}  // namespace

memory_store::memory_store(const config& cfg)
    : cfg_(cfg), node_id_(cfg.node_id != 0 ? cfg.node_id : random_node_id()) {}

void memory_store::set(record_kind kind, const std::string& key, std::pair<uint64_t, uint64_t> dot,
                       std::optional<std::string> data, std::vector<undo_entry>& undo) {
  std::optional<std::string> prior;
  uint64_t key_bytes = 0;
  auto update = [&](auto& map, const auto& map_key) {
    auto it = map.find(map_key);
    if (it != map.end()) {
      prior = std::move(it->second);
      bytes_ -= key_bytes + prior->size();
      if (data) {
        it->second = std::move(*data);
        bytes_ += key_bytes + it->second.size();
      } else {
        map.erase(it);
      }
    } else if (data) {
      bytes_ += key_bytes + data->size();
      map.emplace(map_key, std::move(*data));
    }
  };
  switch (kind) {
    case record_kind::value:
      key_bytes = key.size();
      update(values_, key);
      break;
    case record_kind::meta:
      key_bytes = key.size();
      update(meta_, key);
      break;
    case record_kind::delta:
      key_bytes = delta_key_size;
      update(deltas_, dot);
      break;
  }
  undo.push_back(undo_entry{kind, key, dot, std::move(prior)});
}

void memory_store::apply(const write_op& op, std::vector<undo_entry>& undo) {
  switch (op.kind) {
    case op_kind::put_value:
      set(record_kind::value, std::string{op.key}, {}, std::string{op.data}, undo);
      return;
    case op_kind::erase_value:
      if (values_.count(op.key) != 0) set(record_kind::value, std::string{op.key}, {}, {}, undo);
      return;
    case op_kind::append_delta:
      set(record_kind::delta, {}, {op.origin, op.seq}, std::string{op.data}, undo);
      return;
    case op_kind::truncate_deltas: {
      for (;;) {
        auto it = deltas_.lower_bound({op.origin, 0});
        if (it == deltas_.end() || it->first.first != op.origin || it->first.second > op.seq) {
          return;
        }
        set(record_kind::delta, {}, it->first, {}, undo);
      }
    }
    case op_kind::put_meta:
      set(record_kind::meta, std::string{op.key}, {}, std::string{op.data}, undo);
      return;
    case op_kind::erase_meta:
      if (meta_.count(op.key) != 0) set(record_kind::meta, std::string{op.key}, {}, {}, undo);
      return;
  }
}

void memory_store::roll_back(std::vector<undo_entry>& undo) {
  std::vector<undo_entry> ignored;
  for (auto it = undo.rbegin(); it != undo.rend(); ++it) {
    set(it->kind, it->key, it->dot, std::move(it->prior), ignored);
  }
  undo.clear();
}

status memory_store::commit(std::span<const write_batch> group) {
  if (auto s = validate(group); !s) return s;
  std::unique_lock lk(mu_);
  std::vector<undo_entry> undo;
  for (const write_batch& batch : group) {
    for (std::size_t i = 0; i < batch.size(); ++i) apply(batch.op(i), undo);
  }
  if (cfg_.capacity_bytes != 0 && bytes_ > cfg_.capacity_bytes) {
    const uint64_t needed = bytes_;
    roll_back(undo);
    return error{errc::map_full, "commit would hold " + std::to_string(needed) +
                                     " bytes, beyond the memory_store capacity of " +
                                     std::to_string(cfg_.capacity_bytes) +
                                     "; the store is unchanged"};
  }
  if (cfg_.mode == durability::relaxed) {
    for (auto& u : undo) undo_.push_back(std::move(u));
  }
  return {};
}

void memory_store::crash() {
  std::unique_lock lk(mu_);
  roll_back(undo_);
}

status memory_store::sync() {
  std::unique_lock lk(mu_);
  undo_.clear();
  return {};
}

result<std::optional<std::string>> memory_store::get_value(std::string_view key) const {
  if (auto s = check_key(key, "key"); !s) return s.err();
  std::shared_lock lk(mu_);
  auto it = values_.find(key);
  if (it == values_.end()) return std::optional<std::string>{};
  return std::optional<std::string>{it->second};
}

status memory_store::scan_map(const string_map& m, const key_range& range, bool skip_reserved,
                              const record_visitor& visit) {
  for (auto it = m.lower_bound(range.from); it != m.end(); ++it) {
    if (range.past_end(it->first)) break;
    if (skip_reserved && is_reserved_meta_name(it->first)) continue;
    if (!visit(it->first, it->second)) break;
  }
  return {};
}

status memory_store::scan_values(const key_range& range, const record_visitor& visit) const {
  std::shared_lock lk(mu_);
  return scan_map(values_, range, false, visit);
}

status memory_store::scan_deltas(uint64_t origin, uint64_t from_seq,
                                 const delta_visitor& visit) const {
  std::shared_lock lk(mu_);
  for (auto it = deltas_.lower_bound({origin, from_seq});
       it != deltas_.end() && it->first.first == origin; ++it) {
    if (!visit(it->first.second, it->second)) break;
  }
  return {};
}

result<std::optional<std::string>> memory_store::get_meta(std::string_view name) const {
  if (auto s = check_meta_name(name); !s) return s.err();
  std::shared_lock lk(mu_);
  auto it = meta_.find(name);
  if (it == meta_.end()) return std::optional<std::string>{};
  return std::optional<std::string>{it->second};
}

status memory_store::scan_meta(const key_range& range, const record_visitor& visit) const {
  std::shared_lock lk(mu_);
  return scan_map(meta_, range, true, visit);
}

result<store_stats> memory_store::stats() const {
  std::shared_lock lk(mu_);
  store_stats s;
  s.values = values_.size();
  s.deltas = deltas_.size();
  s.meta_records = meta_.size();
  s.used_bytes = bytes_;
  s.max_map_bytes = cfg_.capacity_bytes;
  return s;
}

}  // namespace rumor::persistence
