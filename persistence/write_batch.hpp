#pragma once
// rumor::persistence::write_batch — an ordered list of writes that a store commits atomically:
// all of them or none. Value writes, delta-log appends/truncations and meta updates may be mixed.
// Within a batch (and across the batches of one commit group) later operations see and override
// earlier ones, exactly as if applied one by one.
//
// The batch copies keys and bytes into one internal buffer (no allocation per operation once the
// buffer has grown), so arguments need not outlive the call.
//
// Thread safety: a batch is a plain value; use it from one thread at a time.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace rumor::persistence {

// Bounds checked at commit (store::commit fails the whole group with the error named).
inline constexpr std::size_t max_key_bytes = 500;                      // value keys, meta names
inline constexpr std::size_t max_value_bytes = std::size_t{64} << 20;  // value, delta, meta bytes

enum class op_kind : uint8_t {
  put_value,        // key, data
  erase_value,      // key; erasing a missing key is not an error
  append_delta,     // origin, seq, data; an existing (origin, seq) is overwritten
  truncate_deltas,  // origin, seq: erase every delta of origin with sequence <= seq
  put_meta,         // key = name, data
  erase_meta,       // key = name; erasing a missing name is not an error
};

// One operation, as seen when iterating a batch. Views point into the batch.
struct write_op {
  op_kind kind;
  std::string_view key;   // value key or meta name; empty for delta operations
  std::string_view data;  // value, delta or meta bytes; empty for erase/truncate
  uint64_t origin = 0;    // delta operations only
  uint64_t seq = 0;       // delta operations only
};

class write_batch {
 public:
  write_batch() = default;

  // `encoded` is the CRDT encoding (crdt codec, including its type tag); the store frames it
  // with a record version and checksum (persistence/FORMAT.md).
  void put_value(std::string_view key, std::string_view encoded);
  void erase_value(std::string_view key);
  void append_delta(uint64_t origin, uint64_t seq, std::string_view delta);
  void truncate_deltas(uint64_t origin, uint64_t up_to_seq_inclusive);
  void put_meta(std::string_view name, std::string_view bytes);
  void erase_meta(std::string_view name);

  // Number of operations.
  std::size_t size() const noexcept { return ops_.size(); }
  bool empty() const noexcept { return ops_.empty(); }
  // Total key + data bytes held (a measure of the batch's weight for group-commit policies).
  std::size_t bytes() const noexcept { return buf_.size(); }
  // REQUIRES: i < size(). The views are valid until the batch is next modified or destroyed.
  write_op op(std::size_t i) const noexcept;

  void clear() noexcept;

 private:
  struct rec {
    op_kind kind;
    std::size_t key_off;
    std::size_t key_len;
    std::size_t data_off;
    std::size_t data_len;
    uint64_t origin;
    uint64_t seq;
  };
  void add(op_kind kind, std::string_view key, std::string_view data, uint64_t origin,
           uint64_t seq);

  std::string buf_;
  std::vector<rec> ops_;
};

// Returns ok iff every operation of every batch in `group` is acceptable to a store:
// value keys and meta names non-empty (errc::invalid_argument) and at most max_key_bytes
// (errc::too_large); data at most max_value_bytes (errc::too_large); meta names not reserved
// (errc::invalid_argument). The error names the batch, operation and key.
status validate(std::span<const write_batch> group);

}  // namespace rumor::persistence
