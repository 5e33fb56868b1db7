// fuzz_stored_record: libFuzzer target for the hand-written record formats a node reads back from
// disk or receives inside frames: stored values (replication/stored_value.hpp, both formats), delta
// log records (replication/log_record.hpp, both formats), write-ahead log records
// (persistence/wal_record.hpp), the checksummed record framing (persistence/record_format.hpp), the
// version-vector bytes they share (replication/vv_bytes.hpp) and storage keys
// (replication/storage_key.hpp). Every decoder reads the whole input (so one corpus serves all of
// them); the framing reads it as u8 n | n bytes of key | stored record.
//
// Properties (a violation aborts, FUZZ_CHECK):
//   - no decoder throws or crashes;
//   - an accepted stored value, log record, wal record or version vector re-encodes to bytes that
//     decode to the same thing; a re-encoded stored value is in the current format when its crdt
//     bytes are in the current form of their type; an accepted storage key is exactly
//     storage_key(its parts);
//   - an accepted framed record is exactly frame_record(key, payload); any payload framed under a
//     key unframes to itself under that key, and under another key it is refused.
// Defines only LLVMFuzzerTestOneInput: linked with libFuzzer (RUMOR_FUZZ=ON) or with
// replay_main.cpp (the normal build's regression replay).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "crdt/codec.hpp"
#include "fuzz/fuzz_check.hpp"
#include "persistence/record_format.hpp"
#include "persistence/wal_record.hpp"
#include "replication/log_record.hpp"
#include "replication/map_records.hpp"
#include "replication/set_records.hpp"
#include "replication/storage_key.hpp"
#include "replication/stored_value.hpp"
#include "replication/vv_bytes.hpp"

using namespace rumor;

namespace {

void check_stored(std::string_view in) {
  for (uint8_t t = crdt::first_type_tag; t <= crdt::last_type_tag; ++t)
    (void)replication::is_current_format(in, static_cast<crdt::type_tag>(t));
  auto r = replication::decode_stored(in);
  if (!r) return;
  std::string again = replication::encode_stored(r->kv, r->crdt);
  auto back = replication::decode_stored(again);
  FUZZ_CHECK(back && back->kv == r->kv && back->crdt == r->crdt,
             "a decoded stored value does not survive re-encoding");
  auto v = crdt::decode(r->crdt);
  // An or_set's and an or_map's current form is decomposed (set_records.hpp, map_records.hpp): a
  // whole record of one is older.
  if (v && crdt::encode(*v) == r->crdt && v->type() != crdt::type_tag::or_set && v->type() != crdt::type_tag::or_map)
    FUZZ_CHECK(replication::is_current_format(again, v->type()),
               "a re-encoded stored value with current crdt bytes is not current");
}

void check_log(std::string_view in) {
  auto r = replication::decode_log_record(in);
  if (!r) return;
  auto back = replication::decode_log_record(replication::encode_log_record(*r));
  FUZZ_CHECK(back && *back == *r, "a decoded log record does not survive re-encoding");
}

bool same_ops(const persistence::write_batch& a, const persistence::write_batch& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto x = a.op(i), y = b.op(i);
    if (x.kind != y.kind || x.key != y.key || x.data != y.data || x.origin != y.origin || x.seq != y.seq)
      return false;
  }
  return true;
}

void check_wal(std::string_view in) {
  persistence::write_batch batch;
  if (!persistence::decode_wal_record(in, batch)) return;
  std::string again;
  persistence::encode_wal_record(std::span<const persistence::write_batch>(&batch, 1), again);
  persistence::write_batch back;
  FUZZ_CHECK(persistence::decode_wal_record(again, back) && same_ops(back, batch),
             "a decoded wal record does not survive re-encoding");
}

void check_framing(std::string_view in) {
  if (in.empty()) return;
  size_t n = std::min<size_t>(static_cast<uint8_t>(in[0]), in.size() - 1);
  std::string_view key = in.substr(1, n), stored = in.substr(1 + n);
  if (auto payload = persistence::unframe_record(key, stored))
    FUZZ_CHECK(persistence::frame_record(key, *payload) == stored, "an accepted record is not its framing");
  std::string framed = persistence::frame_record(key, stored);
  auto back = persistence::unframe_record(key, framed);
  FUZZ_CHECK(back && *back == stored, "a framed record does not unframe to its payload");
  std::string other = std::string(key) + "'";
  FUZZ_CHECK(!persistence::unframe_record(other, framed), "a record unframes under another key");
}

void check_vv(std::string_view in) {
  size_t at = 0;
  crdt::version_vector vv;
  if (replication::vv_bytes::get_vv(in, at, vv) != replication::vv_bytes::vv_status::ok) return;
  FUZZ_CHECK(at <= in.size(), "get_vv read past the end");
  std::string again;
  replication::vv_bytes::put_vv(again, vv);
  FUZZ_CHECK(again.size() <= at, "put_vv writes more than the vector it read took (varints may be overlong)");
  size_t at2 = 0;
  crdt::version_vector back;
  FUZZ_CHECK(replication::vv_bytes::get_vv(again, at2, back) == replication::vv_bytes::vv_status::ok &&
                 at2 == again.size() && back == vv,
             "a decoded version vector does not survive re-encoding");
}

void check_storage_key(std::string_view in) {
  auto k = replication::parse_storage_key(in);
  if (!k) return;
  FUZZ_CHECK(replication::storage_key(k->user_key, k->type) == in, "a parsed storage key is not its parts");
}

// A decomposed set's header and element records (set_records.hpp): whatever decodes re-encodes
// to a record that decodes to the same parts.
void check_set_records(std::string_view in) {
  if (auto h = replication::set_records::decode_header(in)) {
    auto back = replication::set_records::decode_header(replication::set_records::encode_header(*h));
    FUZZ_CHECK(back && back->kv == h->kv && back->count == h->count && back->element_sum == h->element_sum &&
                   back->ctx == h->ctx,
               "a decoded set header does not survive re-encoding");
  }
  if (auto e = replication::set_records::decode_element(in)) {
    auto back = replication::set_records::decode_element(replication::set_records::encode_element(e->member, e->dots));
    FUZZ_CHECK(back && back->member == e->member && back->dots.dots() == e->dots.dots(),
               "a decoded set element does not survive re-encoding");
  }
}

// A decomposed map's field records (map_records.hpp), likewise.
void check_map_records(std::string_view in) {
  auto f = replication::map_records::decode_field(in);
  if (!f) return;
  auto back = replication::map_records::decode_field(replication::map_records::encode_field(f->key, f->store));
  FUZZ_CHECK(back && back->key == f->key && back->store == f->store, "a decoded map field does not survive re-encoding");
  (void)replication::map_records::field_key_bytes(f->key);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  check_stored(in);
  check_log(in);
  check_wal(in);
  check_framing(in);
  check_vv(in);
  check_storage_key(in);
  check_set_records(in);
  check_map_records(in);
  return 0;
}
