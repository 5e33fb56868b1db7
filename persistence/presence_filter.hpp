#pragma once
// presence_filter: which value keys the B-trees may hold, so that a read of a key they do not
// hold (a new key: most writes of a growing dataset, every delta of a catch-up) skips the
// B-tree descent. Internal to persistence/ (lmdb_store).
//
// One bit per 3-byte key prefix (2^24 bits, 2 MiB, zero pages until touched): a value key
// begins with 3 bytes of its user key's hash (replication/value_layout.hpp), so the bits are
// spread evenly and a million keys set about 6 % of them. Bits are only ever set — a key erased
// from the B-trees keeps its bit — so the filter answers "absent" only for a prefix that no key
// has had in the B-trees since the store was opened.
//
// Contract:
// - add(key) before the write transaction that puts `key` commits (a transaction that aborts
//   leaves a bit set: a false "maybe", never a false "absent").
// - The filter is usable only after mark_built(), called once every key of a B-tree snapshot
//   taken after adds began has been added (lmdb_store scans the value table at open, in a
//   thread of its own, beside the log replay). Until then may_hold() answers true.
// - Thread-safe: adds and queries from any thread (relaxed atomic bit operations; mark_built
//   releases, may_hold acquires). A reader that no longer finds a key in the write-behind layers
//   finds its bit: the materializer adds it before the transaction that writes it, and drops the
//   layer only after that commits (under the layers' lock, which orders the two).
#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

namespace rumor::persistence {

class presence_filter {
 public:
  presence_filter();

  void add(std::string_view key) {
    const uint32_t b = bit_of(key);
    std::atomic_ref<uint64_t>(words_.get()[b >> 6]).fetch_or(uint64_t{1} << (b & 63), std::memory_order_relaxed);
  }

  // False only when no key with `key`'s prefix was added (and the filter is built).
  bool may_hold(std::string_view key) const {
    if (!built_.load(std::memory_order_acquire)) return true;
    const uint32_t b = bit_of(key);
    return (std::atomic_ref<uint64_t>(words_.get()[b >> 6]).load(std::memory_order_relaxed) >> (b & 63)) & 1;
  }

  void mark_built() { built_.store(true, std::memory_order_release); }
  bool built() const { return built_.load(std::memory_order_acquire); }

  static constexpr unsigned prefix_bytes = 3;
  static constexpr std::size_t bits = std::size_t{1} << (8 * prefix_bytes);

 private:
  // The key's first 3 bytes as a big-endian number (a shorter key: zero-padded).
  static uint32_t bit_of(std::string_view key) {
    uint32_t b = 0;
    for (unsigned i = 0; i < prefix_bytes; ++i)
      b = (b << 8) | (i < key.size() ? static_cast<uint8_t>(key[i]) : 0u);
    return b;
  }

  struct release {
    void operator()(uint64_t* p) const;
  };
  std::unique_ptr<uint64_t, release> words_;  // bits / 64 words, accessed through atomic_ref
  std::atomic<bool> built_{false};
};

}  // namespace rumor::persistence
