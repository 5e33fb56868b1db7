// replica, texts kept decoded (the working set of texts): a text is stored as one record
// (crdt/codec_text.hpp), and decoding it rebuilds its whole structure — O(text) time and
// allocations per splice or remote text delta. The replica keeps the texts it last wrote decoded,
// so that the next write of the same text starts from that state.
//
// Contract of this part:
// - keep_decoded() is called right after a text was written (write_value: its record is in
//   dirty_); it stores the value, its key vector and the hash of that record.
// - take_decoded() hands the value out (removing it: the writer changes it) only if the record
//   read now has that hash. Any other write of the key (a state join, a collection, a write that
//   did not keep its value) changes the record and so misses; forget_decoded() drops such an
//   entry early where the replica knows of the write (put_record), to free its memory.
// - Memory: at most config.text_cache_bytes of decoded structure (crdt::text::memory_bytes),
//   least recently kept evicted first. A text bigger than that is never kept.
// - Nothing here is persisted: a restarted replica starts with none.

#include "replication/replica.hpp"

#include "replication/replica_internal.hpp"

namespace rumor::replication {

std::optional<replica::loaded> replica::take_decoded(const std::string& skey, const std::string& record) {
  auto it = texts_.find(skey);
  if (it == texts_.end()) return std::nullopt;
  decoded_text d = std::move(it->second);
  texts_lru_.erase(d.lru);
  texts_bytes_ -= d.bytes;
  texts_.erase(it);
  if (d.record_hash != bucket_digests::value_hash(record)) return std::nullopt;
  return loaded{std::move(d.value), std::move(d.kv), {}};
}

result<replica::loaded> replica::take_or_decode(const std::string& skey, const std::string& record) {
  if (auto kept = take_decoded(skey, record)) return std::move(*kept);
  return decode_record(record);
}

result<std::optional<replica::loaded>> replica::load_text(const std::string& skey) {
  auto rec = read_raw(skey);
  if (!rec) return rec.err();
  if (!*rec) return std::optional<loaded>{};
  auto out = take_or_decode(skey, **rec);
  if (!out) return out.err();
  out->record = std::move(**rec);
  return std::optional<loaded>{std::move(*out)};
}

void replica::forget_decoded(const std::string& skey) {
  auto it = texts_.find(skey);
  if (it == texts_.end()) return;
  texts_lru_.erase(it->second.lru);
  texts_bytes_ -= it->second.bytes;
  texts_.erase(it);
}

void replica::keep_decoded(const std::string& skey, crdt::value v, version_vector kv) {
  const crdt::text* t = v.get_if<crdt::text>();
  auto rec = dirty_.find(skey);
  if (!t || rec == dirty_.end() || config_.text_cache_bytes == 0) return;
  size_t bytes = t->memory_bytes() + skey.size();
  forget_decoded(skey);
  if (bytes > config_.text_cache_bytes) return;
  while (texts_bytes_ + bytes > config_.text_cache_bytes && !texts_lru_.empty()) forget_decoded(texts_lru_.front());
  texts_lru_.push_back(skey);
  uint64_t hash = bucket_digests::value_hash(rec->second.first);
  texts_.emplace(skey, decoded_text{std::move(v), std::move(kv), hash, bytes, std::prev(texts_lru_.end())});
  texts_bytes_ += bytes;
}

}  // namespace rumor::replication
