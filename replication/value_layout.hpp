#pragma once
// value_layout: where a replica keeps its values in the store's value table (layout 2), and the
// one-time upgrade of a data directory written in layout 1.
//
// Layout 2. A value is stored under its *value key* = 3 bytes of its storage key's hash (the top
// 24 bits of bucket_digests::key_hash, big-endian) ‖ storage key (storage_key.hpp). The value
// table is thus in hash order, and for any bucket_bits ≤ 24 every reconciliation bucket is one
// contiguous range of it (bucket_range): a bucket's contents are a range scan, so the replica
// keeps no separate bucket → key index, and the records of a bucket sit on the same B-tree pages.
// Those 24 bits depend on the user key only, so the records of all types of one user key are
// adjacent: reading a key's types (replica::read_all_types) touches one leaf page.
// Wire messages carry storage keys, never value keys; full transfers stream in value-key order.
// Listing keys by prefix (replica::keys) scans the whole table, as Redis's SCAN and Cassandra's
// token order do.
//
// Layout 1 (rumor builds before this one) stored values under the bare storage key and kept an
// index `b/<u32 BE bucket><storage key>` → value hash in meta. The upgrade (upgrade_value_layout)
// moves them in batches of upgrade_batch_keys keys, each one commit: for every index entry, the
// value moves from its storage key to its value key and the entry is erased. The index is thus
// exactly the part not yet moved: a crash between batches resumes where it stopped. When it is
// empty, the bucket digests are recomputed from the values (layout 1 bucketed storage keys by
// another hash: bucket_digests::key_hash) and written with meta `r/layout` = "2" in one commit
// (on a new data directory, at once).

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "persistence/key_range.hpp"
#include "persistence/store.hpp"

namespace rumor::replication {

inline constexpr std::size_t value_key_prefix_bytes = 3;
inline constexpr unsigned value_key_prefix_bits = 8 * value_key_prefix_bytes;
inline constexpr std::size_t upgrade_batch_keys = 4096;

// The value key of `storage_key`.
std::string value_key(std::string_view storage_key);
// The storage key inside a value key; empty if `value_key` is too short to be one.
std::string_view storage_key_of(std::string_view value_key);
// The value keys of bucket `bucket` of 2^bits (bucket_digests). REQUIRES: bits ≤ 24, bucket < 2^bits.
persistence::key_range bucket_range(uint32_t bucket, unsigned bits);

// Moves a layout-1 data directory to layout 2 (see above), calling progress(moved, total) after
// each batch; a layout-2 directory is left alone. Errors: the store's (nothing acknowledged is
// at stake: the values move within committed state, and a failed batch is retried by the next
// call).
// `bucket_bits`: the replica's (replica_config::bucket_bits).
status upgrade_value_layout(persistence::store& s, unsigned bucket_bits,
                            const std::function<void(uint64_t, uint64_t)>& progress = {});

// True iff the store still holds layout-1 values (any b/ index entry left): a replica must not
// load it before upgrade_value_layout.
result<bool> holds_layout_1(const persistence::store& s);

// True iff the store is in layout 2 (r/layout = "2").
result<bool> has_value_layout_2(const persistence::store& s);

}  // namespace rumor::replication
