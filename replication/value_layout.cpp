#include "replication/value_layout.hpp"

#include <vector>

#include "base/varint.hpp"
#include "persistence/write_batch.hpp"
#include "replication/bucket_digests.hpp"

namespace rumor::replication {

namespace {

constexpr std::string_view meta_layout = "r/layout";
constexpr std::string_view layout_2 = "2";
constexpr std::string_view layout_1_index = "b/";  // + bucket (u32 BE) + storage key -> value hash

constexpr std::string_view meta_digest = "d/";     // + bucket (u32 BE) -> digest (u64 LE): PROTOCOL.md

// The last step: every bucket digest recomputed from the values (layout 1 bucketed by another
// hash), written with r/layout in one commit.
status finish(persistence::store& s, unsigned bucket_bits) {
  bucket_digests digests(bucket_bits);
  if (auto st = s.scan_values(persistence::key_range::all(), [&](std::string_view vk, std::string_view record) {
        digests.apply(storage_key_of(vk), std::nullopt, bucket_digests::value_hash(record));
        return true;
      });
      !st)
    return st.err();
  persistence::write_batch b;
  if (auto st = s.scan_meta(persistence::key_range::with_prefix(meta_digest), [&](std::string_view name, std::string_view) {
        b.erase_meta(name);
        return true;
      });
      !st)
    return st.err();
  for (uint32_t bucket : digests.nonzero_buckets()) {
    std::string name(meta_digest), digest;
    put_u32be(name, bucket);
    put_u64le(digest, digests.digest(bucket));
    b.put_meta(name, digest);
  }
  b.put_meta(meta_layout, layout_2);
  return s.commit({&b, 1});
}

std::string be24(uint32_t v) {
  return std::string{static_cast<char>((v >> 16) & 0xff), static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)};
}

}  // namespace

std::string value_key(std::string_view storage_key) {
  const auto prefix = static_cast<uint32_t>(bucket_digests::key_hash(storage_key) >> (64 - value_key_prefix_bits));
  std::string k;
  k.reserve(value_key_prefix_bytes + storage_key.size());
  k = be24(prefix);
  k.append(storage_key);
  return k;
}

std::string_view storage_key_of(std::string_view value_key) {
  return value_key.size() <= value_key_prefix_bytes ? std::string_view{} : value_key.substr(value_key_prefix_bytes);
}

persistence::key_range bucket_range(uint32_t bucket, unsigned bits) {
  // Bucket b of 2^bits holds the keys whose hash starts with b: prefixes b·2^(24−bits) up to,
  // not including, (b+1)·2^(24−bits).
  const unsigned shift = value_key_prefix_bits - bits;
  const uint64_t from = uint64_t{bucket} << shift;
  const uint64_t to = uint64_t{bucket + 1ull} << shift;
  if (to >= (uint64_t{1} << value_key_prefix_bits)) return persistence::key_range::starting_at(be24(static_cast<uint32_t>(from)));
  return persistence::key_range::between(be24(static_cast<uint32_t>(from)), be24(static_cast<uint32_t>(to)));
}

result<bool> holds_layout_1(const persistence::store& s) {
  bool found = false;
  auto st = s.scan_meta(persistence::key_range::with_prefix(layout_1_index), [&](std::string_view, std::string_view) {
    found = true;
    return false;
  });
  if (!st) return st.err();
  return found;
}

result<bool> has_value_layout_2(const persistence::store& s) {
  auto v = s.get_meta(meta_layout);
  if (!v) return v.err();
  return *v && **v == layout_2;
}

status upgrade_value_layout(persistence::store& s, unsigned bucket_bits, const std::function<void(uint64_t, uint64_t)>& progress) {
  auto done = has_value_layout_2(s);
  if (!done) return done.err();
  if (*done) return {};
  uint64_t total = 0;
  if (auto st = s.scan_meta(persistence::key_range::with_prefix(layout_1_index), [&](std::string_view, std::string_view) {
        ++total;
        return true;
      });
      !st)
    return st.err();
  uint64_t moved = 0;
  for (;;) {
    // The first index entries left: each names a value still under its storage key.
    std::vector<std::string> names;
    if (auto st = s.scan_meta(persistence::key_range::with_prefix(layout_1_index), [&](std::string_view name, std::string_view) {
          names.emplace_back(name);
          return names.size() < upgrade_batch_keys;
        });
        !st)
      return st.err();
    if (names.empty()) return finish(s, bucket_bits);
    persistence::write_batch b;
    std::vector<std::string> skeys;
    for (const auto& n : names) skeys.push_back(n.substr(layout_1_index.size() + 4));
    auto values = s.get_values(skeys);
    for (std::size_t i = 0; i < names.size(); ++i) {
      b.erase_meta(names[i]);
      if (!values[i]) {
        if (values[i].err().code != errc::corrupt) return values[i].err();
        continue;  // quarantined: left where it is, for inspection (its bucket repairs it)
      }
      if (!*values[i]) continue;  // indexed but absent: nothing to move
      b.put_value(value_key(skeys[i]), **values[i]);
      b.erase_value(skeys[i]);
    }
    if (auto st = s.commit({&b, 1}); !st) return st.err();
    moved += names.size();
    if (progress) progress(moved, total);
  }
}

}  // namespace rumor::replication
