#include "persistence/overlay.hpp"

namespace rumor::persistence {

overlay::answer overlay::find(const keyed& m, std::string_view key) {
  auto it = m.find(key);
  if (it == m.end()) return {};
  if (!it->second) return answer{state::absent, nullptr};
  return answer{state::present, &*it->second};
}

void overlay::put(keyed& m, std::string_view key, std::optional<std::string_view> data) {
  auto it = m.find(key);
  if (it == m.end()) {
    it = m.emplace(std::string{key}, std::nullopt).first;
    ++records_;
    bytes_ += key.size() + node_overhead;
  } else if (it->second) {
    bytes_ -= it->second->size();
  }
  if (data) {
    it->second.emplace(*data);
    bytes_ += data->size();
  } else {
    it->second.reset();
  }
}

overlay::answer overlay::delta(uint64_t origin, uint64_t seq) const {
  if (auto it = deltas_.find({origin, seq}); it != deltas_.end()) return answer{state::present, &it->second};
  if (hides(truncated(origin), seq)) return answer{state::absent, nullptr};
  return {};
}

std::optional<uint64_t> overlay::truncated(uint64_t origin) const {
  auto it = truncations_.find(origin);
  if (it == truncations_.end()) return std::nullopt;
  return it->second;
}

void overlay::apply(const write_op& op) {
  switch (op.kind) {
    case op_kind::put_value:
      return put(values_, op.key, op.data);
    case op_kind::erase_value:
      return put(values_, op.key, std::nullopt);
    case op_kind::put_meta:
      return put(meta_, op.key, op.data);
    case op_kind::erase_meta:
      return put(meta_, op.key, std::nullopt);
    case op_kind::append_delta: {
      auto [it, fresh] = deltas_.try_emplace({op.origin, op.seq});
      if (fresh) {
        ++records_;
        bytes_ += 16 + node_overhead;
      } else {
        bytes_ -= it->second.size();
      }
      it->second.assign(op.data);
      bytes_ += op.data.size();
      return;
    }
    case op_kind::truncate_deltas: {
      auto first = deltas_.lower_bound({op.origin, 0});
      auto last = deltas_.upper_bound({op.origin, op.seq});
      for (auto it = first; it != last; ++it) bytes_ -= it->second.size() + 16 + node_overhead;
      records_ -= static_cast<std::size_t>(std::distance(first, last));
      deltas_.erase(first, last);
      auto [t, fresh] = truncations_.try_emplace(op.origin, op.seq);
      if (!fresh && op.seq > t->second) t->second = op.seq;
      return;
    }
  }
}

void overlay::append_to(write_batch& out) const {
  for (const auto& [origin, bound] : truncations_) out.truncate_deltas(origin, bound);
  for (const auto& [k, data] : deltas_) out.append_delta(k.first, k.second, data);
  for (const auto& [k, data] : values_) {
    if (data) out.put_value(k, *data);
    else out.erase_value(k);
  }
  for (const auto& [k, data] : meta_) {
    if (data) out.put_meta(k, *data);
    else out.erase_meta(k);
  }
}

void overlay::clear() {
  values_.clear();
  meta_.clear();
  deltas_.clear();
  truncations_.clear();
  records_ = 0;
  bytes_ = 0;
}

}  // namespace rumor::persistence
