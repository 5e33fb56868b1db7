// Micro-benchmarks of crdt/: mutations, joining deltas, and encode/decode, per type, in memory on
// one core. Prints ops/s (items_per_second). Run: build/bench/crdt_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "crdt/codec.hpp"
#include "crdt/value.hpp"

using namespace rumor::crdt;

namespace {

constexpr node_id self = 0x5eed'0000'0000'0001ull;
constexpr node_id peer = 0x5eed'0000'0000'0002ull;

const std::vector<std::string>& element_pool() {
  static const std::vector<std::string> pool = [] {
    std::vector<std::string> v;
    v.reserve(1 << 20);
    for (int i = 0; i < (1 << 20); ++i) v.push_back("element-" + std::to_string(i));
    return v;
  }();
  return pool;
}

// One mutation of each type, as used by every benchmark below.
g_counter mutate(g_counter& x, node_id n, uint64_t) { return *x.increment(n, 1); }
pn_counter mutate(pn_counter& x, node_id n, uint64_t i) { return *x.add(n, (i & 1) ? 1 : -1); }
lww_register mutate(lww_register& x, node_id n, uint64_t i) {
  return x.assign(n, hlc_timestamp::make(1'700'000'000'000 + i, 0), element_pool()[i & 1023]);
}
mv_register mutate(mv_register& x, node_id n, uint64_t i) { return x.assign(n, element_pool()[i & 1023]); }
or_set mutate(or_set& x, node_id n, uint64_t i) {
  const auto& pool = element_pool();
  return x.add(n, pool[i % pool.size()]);
}
ew_flag mutate(ew_flag& x, node_id n, uint64_t i) { return (i & 1) ? x.disable() : x.enable(n); }
or_map mutate(or_map& x, node_id n, uint64_t i) {
  return *x.update<pn_counter>(element_pool()[i & 63], [&](pn_counter& c) { return c.increment(n, 1); });
}

template <class T>
void BM_mutate(benchmark::State& state) {
  T x;
  uint64_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(mutate(x, self, i++));
  state.SetItemsProcessed(static_cast<int64_t>(i));
}

// or_set adds of a small recurring set of elements (each add supersedes the previous dot).
void BM_or_set_add_recurring(benchmark::State& state) {
  or_set x;
  uint64_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(x.add(self, element_pool()[i++ & 127]));
  state.SetItemsProcessed(static_cast<int64_t>(i));
}

// A remote replica joining a stream of deltas made by another node.
template <class T>
void BM_join_delta(benchmark::State& state) {
  constexpr size_t n = 200'000;
  T source;
  std::vector<T> deltas;
  deltas.reserve(n);
  for (uint64_t i = 0; i < n; ++i) deltas.push_back(mutate(source, peer, i));
  T target;
  size_t k = 0;
  uint64_t joined = 0;
  for (auto _ : state) {
    if (k == n) {
      state.PauseTiming();
      target = T{};
      k = 0;
      state.ResumeTiming();
    }
    target.join(deltas[k++]);
    ++joined;
  }
  state.SetItemsProcessed(static_cast<int64_t>(joined));
}

// Encode / decode of a typical delta.
template <class T>
value sample_delta() {
  T x;
  for (uint64_t i = 0; i < 100; ++i) mutate(x, self + (i % 3), i);
  return value{mutate(x, self, 1000)};
}

template <class T>
void BM_encode_delta(benchmark::State& state) {
  value v = sample_delta<T>();
  size_t bytes = 0;
  for (auto _ : state) {
    auto b = encode(v);
    bytes += b.size();
    benchmark::DoNotOptimize(b);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["bytes_per_delta"] = static_cast<double>(encode(v).size());
}

template <class T>
void BM_decode_delta(benchmark::State& state) {
  std::string b = encode(sample_delta<T>());
  for (auto _ : state) {
    auto v = decode(b);
    if (!v) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * b.size()));
}

// Encode + decode of a whole or_set state of 10,000 elements (anti-entropy full-state transfer).
void BM_or_set_state_roundtrip_10k(benchmark::State& state) {
  or_set x;
  for (uint64_t i = 0; i < 10'000; ++i) x.add(self + (i % 5), element_pool()[i]);
  value v{x};
  for (auto _ : state) {
    auto back = decode(encode(v));
    benchmark::DoNotOptimize(back);
  }
  state.SetItemsProcessed(state.iterations() * 10'000);
  state.counters["state_bytes"] = static_cast<double>(encode(v).size());
}

}  // namespace

#define RUMOR_PER_TYPE(BM)                   \
  BENCHMARK_TEMPLATE(BM, g_counter);         \
  BENCHMARK_TEMPLATE(BM, pn_counter);        \
  BENCHMARK_TEMPLATE(BM, lww_register);      \
  BENCHMARK_TEMPLATE(BM, mv_register);       \
  BENCHMARK_TEMPLATE(BM, or_set);            \
  BENCHMARK_TEMPLATE(BM, or_map);            \
  BENCHMARK_TEMPLATE(BM, ew_flag)

RUMOR_PER_TYPE(BM_mutate);
BENCHMARK(BM_or_set_add_recurring);
RUMOR_PER_TYPE(BM_join_delta);
RUMOR_PER_TYPE(BM_encode_delta);
RUMOR_PER_TYPE(BM_decode_delta);
BENCHMARK(BM_or_set_state_roundtrip_10k);

BENCHMARK_MAIN();
