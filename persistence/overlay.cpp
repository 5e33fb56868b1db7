#include "persistence/overlay.hpp"

namespace rumor::persistence {

overlay::answer overlay::find(const indexed& m, std::string_view key) {
  auto i = m.index.find(key);
  if (i == m.index.end()) return {};
  const auto& data = i->second->second;
  if (!data) return answer{state::absent, nullptr};
  return answer{state::present, &*data};
}

overlay::state overlay::put(indexed& m, std::string_view key, std::optional<std::string_view> data) {
  keyed::iterator it;
  state prior = state::unknown;
  if (auto i = m.index.find(key); i != m.index.end()) {
    it = i->second;
    prior = it->second ? state::present : state::absent;
  } else {
    it = m.map.emplace(std::string{key}, std::nullopt).first;
    m.index.emplace(std::string_view{it->first}, it);
    ++records_;
    bytes_ += key.size() + node_overhead;
  }
  if (it->second) bytes_ -= it->second->size();
  if (data) {
    it->second.emplace(*data);
    bytes_ += data->size();
  } else {
    it->second.reset();
  }
  return prior;
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

overlay::state overlay::apply(const write_op& op) {
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
      const state prior = delta(op.origin, op.seq).s;
      auto [it, fresh] = deltas_.try_emplace({op.origin, op.seq});
      if (fresh) {
        ++records_;
        bytes_ += 16 + node_overhead;
      } else {
        bytes_ -= it->second.size();
      }
      it->second.assign(op.data);
      bytes_ += op.data.size();
      return prior;
    }
    case op_kind::truncate_deltas: {
      auto first = deltas_.lower_bound({op.origin, 0});
      auto last = deltas_.upper_bound({op.origin, op.seq});
      for (auto it = first; it != last; ++it) bytes_ -= it->second.size() + 16 + node_overhead;
      records_ -= static_cast<std::size_t>(std::distance(first, last));
      deltas_.erase(first, last);
      auto [t, fresh] = truncations_.try_emplace(op.origin, op.seq);
      if (!fresh && op.seq > t->second) t->second = op.seq;
      return state::unknown;
    }
  }
  return state::unknown;
}

void overlay::append_to(write_batch& out) const {
  for (const auto& [origin, bound] : truncations_) out.truncate_deltas(origin, bound);
  for (const auto& [k, data] : deltas_) out.append_delta(k.first, k.second, data);
  for (const auto& [k, data] : values_.map) {
    if (data) out.put_value(k, *data);
    else out.erase_value(k);
  }
  for (const auto& [k, data] : meta_.map) {
    if (data) out.put_meta(k, *data);
    else out.erase_meta(k);
  }
}

void overlay::clear() {
  values_ = {};
  meta_ = {};
  deltas_.clear();
  truncations_.clear();
  records_ = 0;
  bytes_ = 0;
}

}  // namespace rumor::persistence
