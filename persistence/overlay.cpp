#include "persistence/overlay.hpp"

#include <xxhash.h>

#include <bit>
#include <cstring>
#include <iterator>

namespace rumor::persistence {

// ---- byte_arena ------------------------------------------------------------------------------

char* byte_arena::allocate(std::size_t n) {
  if (n > left_) {
    // A large string gets a chunk of its own; the current chunk stays in use for small ones.
    const std::size_t size = n > chunk / 4 ? n : chunk;
    chunks_.push_back(std::make_unique_for_overwrite<char[]>(size));  // no zeroing: every byte is written before it is read
    bytes_ += size;
    if (size != chunk) return chunks_.back().get();
    next_ = chunks_.back().get();
    left_ = size;
  }
  char* p = next_;
  next_ += n;
  left_ -= n;
  return p;
}

std::string_view byte_arena::copy(std::string_view s) {
  if (s.empty()) return {};
  char* p = allocate(s.size());
  std::memcpy(p, s.data(), s.size());
  return {p, s.size()};
}

void byte_arena::clear() {
  chunks_.clear();
  next_ = nullptr;
  left_ = 0;
  bytes_ = 0;
}

// ---- keyed -----------------------------------------------------------------------------------

namespace {

// A slot: the top 32 bits of the record's hash (compared before the record is touched) and its
// entry index + 1; 0 = empty.
uint64_t make_slot(uint64_t hash, uint32_t idx) { return (hash & 0xffff'ffff'0000'0000ull) | (uint64_t{idx} + 1); }
uint32_t slot_index(uint64_t slot) { return static_cast<uint32_t>(slot) - 1; }
bool slot_may_hold(uint64_t slot, uint64_t hash) { return (slot ^ hash) >> 32 == 0; }

uint64_t hash_key(std::string_view k) { return XXH3_64bits(k.data(), k.size()); }

}  // namespace

uint64_t overlay::key_prefix(std::string_view key) {
  // Byte i of the key is bits 63-8i: comparing prefixes as integers compares the first 8 bytes
  // as strings (a key shorter than 8 bytes is padded with zero bytes, so equal prefixes of
  // different keys fall through to the full comparison).
  uint64_t p = 0;
  const std::size_t n = std::min<std::size_t>(key.size(), 8);
  for (std::size_t i = 0; i < n; ++i) p |= uint64_t{static_cast<uint8_t>(key[i])} << (56 - 8 * i);
  return p;
}

std::size_t overlay::keyed::group_bit(uint64_t key_prefix) const noexcept {
  // The group's bytes, multiplied by an odd constant (Fibonacci hashing): the top bits index the
  // filter, whose size is a power of two (4 * slots, at least 256 bits).
  const uint64_t group = key_prefix >> (64 - 8 * filter_group_bytes);
  const std::size_t bits = filter_.size() * 64;
  return static_cast<std::size_t>((group * 0x9E37'79B9'7F4A'7C15ull) >> (64 - std::countr_zero(bits)));
}

bool overlay::keyed::group_may_hold(uint64_t key_prefix) const noexcept {
  const std::size_t b = group_bit(key_prefix);
  return (filter_[b / 64] >> (b % 64)) & 1;
}

void overlay::keyed::rehash(std::size_t slots) {
  std::vector<uint64_t> bigger(slots, 0);
  const std::size_t mask = slots - 1;
  for (uint32_t idx = 0; idx < entries_.size(); ++idx) {
    std::size_t i = entries_[idx].hash & mask;
    while (bigger[i] != 0) i = (i + 1) & mask;
    bigger[i] = make_slot(entries_[idx].hash, idx);
  }
  slots_ = std::move(bigger);
  filter_.assign(std::max<std::size_t>(4, slots / 16), 0);  // 4 bits per slot
  for (const entry& e : entries_) {
    const std::size_t b = group_bit(e.prefix);
    filter_[b / 64] |= uint64_t{1} << (b % 64);
  }
}

void overlay::keyed::reserve(std::size_t n) {
  if (n == 0) return;
  entries_.reserve(n);
  std::size_t slots = 64;
  while (slots < 2 * n) slots *= 2;
  if (slots > slots_.size()) rehash(slots);
}

const overlay::entry* overlay::keyed::find(std::string_view key) const {
  if (slots_.empty() || !group_may_hold(key_prefix(key))) return nullptr;
  const uint64_t h = hash_key(key);
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = h & mask;; i = (i + 1) & mask) {
    const uint64_t s = slots_[i];
    if (s == 0) return nullptr;
    if (!slot_may_hold(s, h)) continue;
    const entry& e = entries_[slot_index(s)];
    if (e.hash == h && e.key == key) return &e;
  }
}

void overlay::keyed::prefetch(std::string_view key) const {
  if (slots_.empty()) return;
  __builtin_prefetch(&slots_[hash_key(key) & (slots_.size() - 1)]);
}

overlay::state overlay::keyed::put(std::string_view key, std::optional<std::string_view> data, byte_arena& a,
                                   bool& fresh) {
  // Keep the load factor at most 1/2: probes stay short.
  if ((entries_.size() + 1) * 2 > slots_.size()) rehash(std::max<std::size_t>(64, slots_.size() * 2));
  const uint64_t h = hash_key(key);
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = h & mask;
  for (; slots_[i] != 0; i = (i + 1) & mask) {
    if (!slot_may_hold(slots_[i], h)) continue;
    entry& e = entries_[slot_index(slots_[i])];
    if (e.hash != h || e.key != key) continue;
    const state prior = e.present ? state::present : state::absent;
    fresh = false;
    present_ += (data.has_value() ? 1 : 0) - (e.present ? 1 : 0);
    if (data) {
      if (data->size() > e.capacity) {
        e.data = a.allocate(data->size());
        e.capacity = static_cast<uint32_t>(data->size());
      }
      if (!data->empty()) std::memmove(const_cast<char*>(e.data), data->data(), data->size());
      e.size = static_cast<uint32_t>(data->size());
    } else {
      e.size = 0;
    }
    e.present = data.has_value();
    return prior;
  }
  entry e;
  e.key = a.copy(key);
  e.hash = h;
  e.prefix = key_prefix(key);
  if (data) {
    const std::string_view d = a.copy(*data);
    e.data = d.data();
    e.size = e.capacity = static_cast<uint32_t>(d.size());
  }
  e.present = data.has_value();
  present_ += e.present ? 1 : 0;
  entries_.push_back(e);
  slots_[i] = make_slot(h, static_cast<uint32_t>(entries_.size() - 1));
  const std::size_t b = group_bit(e.prefix);
  filter_[b / 64] |= uint64_t{1} << (b % 64);
  fresh = true;
  return state::unknown;
}

void overlay::keyed::refresh() const {
  if (covered_ == entries_.size()) return;
  auto less = [&](uint32_t x, uint32_t y) { return key_less(entries_[x], entries_[y]); };
  std::vector<uint32_t> run;
  run.reserve(entries_.size() - covered_);
  for (std::size_t idx = covered_; idx < entries_.size(); ++idx) run.push_back(static_cast<uint32_t>(idx));
  std::sort(run.begin(), run.end(), less);
  covered_ = entries_.size();
  runs_.push_back(std::move(run));
  while (runs_.size() >= 2 && runs_[runs_.size() - 2].size() <= 2 * runs_.back().size()) merge_last_runs();
}

void overlay::keyed::merge_last_runs() const {
  auto less = [&](uint32_t x, uint32_t y) { return key_less(entries_[x], entries_[y]); };
  const std::vector<uint32_t>& a = runs_[runs_.size() - 2];
  const std::vector<uint32_t>& b = runs_.back();
  std::vector<uint32_t> merged;
  merged.reserve(a.size() + b.size());
  std::merge(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(merged), less);
  runs_.pop_back();
  runs_.back() = std::move(merged);
}

overlay::keyed::ordered overlay::keyed::in_order() const {
  std::lock_guard lk(order_mu_);
  refresh();
  while (runs_.size() >= 2) merge_last_runs();
  if (runs_.empty()) runs_.emplace_back();
  ordered o;
  o.entries_ = &entries_;
  o.order_ = &runs_.front();
  return o;
}

std::size_t overlay::keyed::ordered::lower_bound(std::string_view k) const {
  const uint64_t kp = key_prefix(k);
  auto it = std::lower_bound(order_->begin(), order_->end(), k, [&](uint32_t idx, std::string_view key) {
    const entry& e = (*entries_)[idx];
    if (e.prefix != kp) return e.prefix < kp;
    return e.key < key;
  });
  return static_cast<std::size_t>(it - order_->begin());
}

// ---- overlay ---------------------------------------------------------------------------------

overlay::overlay(const overlay& previous, std::size_t limit) {
  values_.reserve(std::min(previous.values_.size(), limit));
  meta_.reserve(std::min(previous.meta_.size(), limit));
}

overlay::answer overlay::find(const keyed& m, std::string_view key) {
  const entry* e = m.find(key);
  if (e == nullptr) return {};
  if (!e->present) return answer{state::absent, {}};
  return answer{state::present, e->bytes()};
}

overlay::answer overlay::delta(uint64_t origin, uint64_t seq) const {
  if (auto it = deltas_.find({origin, seq}); it != deltas_.end()) return answer{state::present, it->second.data};
  if (hides(truncated(origin), seq)) return answer{state::absent, {}};
  return {};
}

std::optional<uint64_t> overlay::truncated(uint64_t origin) const {
  auto it = truncations_.find(origin);
  if (it == truncations_.end()) return std::nullopt;
  return it->second;
}

void overlay::prefetch(const write_op& op) const {
  switch (op.kind) {
    case op_kind::put_value:
    case op_kind::erase_value:
      return values_.prefetch(op.key);
    case op_kind::put_meta:
    case op_kind::erase_meta:
      return meta_.prefetch(op.key);
    default:
      return;
  }
}

overlay::state overlay::apply(const write_op& op) {
  counted_ = false;
  bool fresh = false;
  state prior = state::unknown;
  switch (op.kind) {
    case op_kind::put_value:
      prior = values_.put(op.key, op.data, arena_, fresh);
      break;
    case op_kind::erase_value:
      prior = values_.put(op.key, std::nullopt, arena_, fresh);
      break;
    case op_kind::put_meta:
      prior = meta_.put(op.key, op.data, arena_, fresh);
      break;
    case op_kind::erase_meta:
      prior = meta_.put(op.key, std::nullopt, arena_, fresh);
      break;
    case op_kind::append_delta: {
      prior = delta(op.origin, op.seq).s;
      const std::pair<uint64_t, uint64_t> k{op.origin, op.seq};
      // A replica appends its deltas in seq order: the common case is a new last element.
      auto hint = deltas_.end();
      delta_map::iterator it;
      if (!deltas_.empty() && std::prev(hint)->first < k) {
        it = deltas_.emplace_hint(hint, k, delta_rec{});
        fresh = true;
      } else {
        auto [at, inserted] = deltas_.try_emplace(k);
        it = at;
        fresh = inserted;
      }
      it->second.data = arena_.copy(op.data);
      if (fresh) {
        // Below this layer's truncation bound: erased below, so it adds a delta. Otherwise the
        // next count asks.
        if (hides(truncated(op.origin), op.seq)) {
          it->second.adds = 1;
          ++delta_adds_;
        } else {
          delta_unasked_.push_back(k);
        }
      }
      break;
    }
    case op_kind::truncate_deltas: {
      auto first = deltas_.lower_bound({op.origin, 0});
      auto last = deltas_.upper_bound({op.origin, op.seq});
      records_ -= static_cast<std::size_t>(std::distance(first, last));
      for (auto it = first; it != last; ++it)
        if (it->second.adds > 0) delta_adds_ -= it->second.adds;
      deltas_.erase(first, last);
      auto [t, inserted] = truncations_.try_emplace(op.origin, op.seq);
      if (!inserted && op.seq > t->second) t->second = op.seq;
      return state::unknown;
    }
  }
  if (fresh) ++records_;
  return prior;
}

void overlay::append_to(write_batch& out) const {
  for (const auto& [origin, bound] : truncations_) out.truncate_deltas(origin, bound);
  for (const auto& [k, d] : deltas_) out.append_delta(k.first, k.second, d.data);
  const auto vs = values();
  for (std::size_t i = 0; i < vs.size(); ++i) {
    if (vs[i].present) out.put_value(vs[i].key, vs[i].bytes());
    else out.erase_value(vs[i].key);
  }
  const auto ms = metas();
  for (std::size_t i = 0; i < ms.size(); ++i) {
    if (ms[i].present) out.put_meta(ms[i].key, ms[i].bytes());
    else out.erase_meta(ms[i].key);
  }
}

}  // namespace rumor::persistence
