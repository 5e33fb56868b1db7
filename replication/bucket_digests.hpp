#pragma once
// bucket_digests: per-bucket digests of a store's contents, for reconciliation (iblt.hpp).
//
// The key-hash space is split into 2^bucket_bits buckets (bucket_of). A bucket's digest is the XOR,
// over the stored keys in it, of entry_hash(storage key, value_hash(encoded value)); an empty
// bucket's digest is 0. XOR is commutative, associative and self-inverse, so a digest depends only
// on the set of (key, value) entries, never on the order of updates: maintaining digests
// incrementally with apply() (XOR out the old entry, XOR in the new) gives exactly the digests a
// recomputation from scratch would, and two stores with equal contents have equal digests.
// Two different contents of a bucket collide with probability 2^-64.
//
// All hashes are XXH3_64bits_withSeed with fixed seeds; they are part of the protocol and of the
// persisted digests (changing them requires a recomputation and a protocol version bump).
// Pure and not thread-safe; the owner persists digests (set_digest reloads them).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "replication/iblt.hpp"

namespace rumor::replication {

class bucket_digests {
 public:
  static constexpr unsigned max_bucket_bits = 24;

  // 2^bucket_bits buckets, all digests 0 (an empty store). REQUIRES: bucket_bits ≤ max_bucket_bits.
  explicit bucket_digests(unsigned bucket_bits = 16);

  // The bucket of `storage_key`: the top `bits` bits of its key_hash. REQUIRES: bits ≤ 32.
  static uint32_t bucket_of(std::string_view storage_key, unsigned bits);
  // The 64-bit hash of a storage key (names keys on the wire in reconciliation: hashed_key). Its
  // high 32 bits depend only on the user key (the storage key without its NUL ‖ type suffix),
  // so all types of a user key share a bucket and a value-key prefix (value_layout.hpp); its low
  // 32 bits on the whole storage key.
  static uint64_t key_hash(std::string_view storage_key);
  // The bucket of a key with key_hash `h`: bucket_of(k, bits) == bucket_of_hash(key_hash(k), bits).
  // REQUIRES: bits ≤ 32.
  static uint32_t bucket_of_hash(uint64_t h, unsigned bits) {
    return bits == 0 ? 0 : static_cast<uint32_t>(h >> (64 - bits));
  }
  // Hash of a stored value's encoded bytes.
  static uint64_t value_hash(std::string_view encoded_value);
  // A stored entry's contribution to its bucket's digest (depends on the key and the value hash).
  static uint64_t entry_hash(std::string_view storage_key, uint64_t value_hash);

  // Records that `storage_key` changed from old_value_hash (nullopt: was absent) to
  // new_value_hash (nullopt: now absent). Returns the bucket whose digest changed (when old ==
  // new, it is unchanged). The caller must pass the hash actually stored before, or the digest
  // goes wrong.
  uint32_t apply(std::string_view storage_key, std::optional<uint64_t> old_value_hash,
                 std::optional<uint64_t> new_value_hash);

  // REQUIRES: bucket < bucket_count().
  uint64_t digest(uint32_t bucket) const;
  // Loads a persisted digest. REQUIRES: bucket < bucket_count().
  void set_digest(uint32_t bucket, uint64_t digest);

  size_t bucket_count() const { return digests_.size(); }
  unsigned bucket_bits() const { return bits_; }

  // An iblt of `cells` cells (see iblt::iblt) holding (bucket, digest) for every non-zero bucket.
  iblt to_iblt(size_t cells) const;
  // The buckets whose digest is not 0, ascending.
  std::vector<uint32_t> nonzero_buckets() const;

  friend bool operator==(const bucket_digests&, const bucket_digests&) = default;

 private:
  unsigned bits_;
  std::vector<uint64_t> digests_;
};

}  // namespace rumor::replication
