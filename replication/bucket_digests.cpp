#include "replication/bucket_digests.hpp"

#include <array>
#include <cassert>
#include <cstring>
#include <string>

#include <xxhash.h>

namespace rumor::replication {

namespace {

// Fixed seeds: part of the protocol and of persisted digests.
constexpr uint64_t bucket_seed = 0x62756b7473656564ULL;
constexpr uint64_t value_seed = 0x76616c7565736564ULL;
constexpr uint64_t entry_seed = 0x656e747279736564ULL;

}  // namespace

bucket_digests::bucket_digests(unsigned bucket_bits)
    : bits_(bucket_bits), digests_(size_t{1} << bucket_bits, 0) {
  assert(bucket_bits <= max_bucket_bits);
}

uint32_t bucket_digests::bucket_of(std::string_view storage_key, unsigned bits) {
  assert(bits <= 32);
  return bucket_of_hash(key_hash(storage_key), bits);
}

uint64_t bucket_digests::key_hash(std::string_view storage_key) {
  // High half: the user key's hash (a storage key is user key ‖ NUL ‖ type tag: storage_key.hpp),
  // so every type of one user key falls in one bucket and, in the value table, on one page; low
  // half: the whole storage key's, so the types still have different key hashes.
  std::string_view user = storage_key;
  if (user.size() >= 3 && user[user.size() - 2] == '\0') user.remove_suffix(2);
  const uint64_t high = XXH3_64bits_withSeed(user.data(), user.size(), bucket_seed);
  const uint64_t low = XXH3_64bits_withSeed(storage_key.data(), storage_key.size(), bucket_seed);
  return (high & 0xffff'ffff'0000'0000ull) | (low & 0xffff'ffffull);
}

uint64_t bucket_digests::value_hash(std::string_view encoded_value) {
  return XXH3_64bits_withSeed(encoded_value.data(), encoded_value.size(), value_seed);
}

uint64_t bucket_digests::entry_hash(std::string_view storage_key, uint64_t value_hash) {
  // Hash of key bytes followed by the value hash in little-endian.
  std::array<unsigned char, 8> vh;
  for (int i = 0; i < 8; ++i) vh[i] = static_cast<unsigned char>(value_hash >> (8 * i));
  std::array<char, 512> stack;
  std::string heap;
  char* buf = stack.data();
  if (storage_key.size() + vh.size() > stack.size()) {
    heap.resize(storage_key.size() + vh.size());
    buf = heap.data();
  }
  if (!storage_key.empty()) std::memcpy(buf, storage_key.data(), storage_key.size());
  std::memcpy(buf + storage_key.size(), vh.data(), vh.size());
  return XXH3_64bits_withSeed(buf, storage_key.size() + vh.size(), entry_seed);
}

uint32_t bucket_digests::apply(std::string_view storage_key, std::optional<uint64_t> old_value_hash,
                               std::optional<uint64_t> new_value_hash) {
  const uint32_t b = bucket_of(storage_key, bits_);
  if (old_value_hash) digests_[b] ^= entry_hash(storage_key, *old_value_hash);
  if (new_value_hash) digests_[b] ^= entry_hash(storage_key, *new_value_hash);
  return b;
}

uint64_t bucket_digests::digest(uint32_t bucket) const {
  assert(bucket < digests_.size());
  return digests_[bucket];
}

void bucket_digests::set_digest(uint32_t bucket, uint64_t digest) {
  assert(bucket < digests_.size());
  digests_[bucket] = digest;
}

iblt bucket_digests::to_iblt(size_t cells) const {
  iblt t(cells);
  for (size_t b = 0; b < digests_.size(); ++b) {
    if (digests_[b] != 0) t.insert(static_cast<uint32_t>(b), digests_[b]);
  }
  return t;
}

std::vector<uint32_t> bucket_digests::nonzero_buckets() const {
  std::vector<uint32_t> out;
  for (size_t b = 0; b < digests_.size(); ++b) {
    if (digests_[b] != 0) out.push_back(static_cast<uint32_t>(b));
  }
  return out;
}

}  // namespace rumor::replication
