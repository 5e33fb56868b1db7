// record_samples: records of every stored format for the seed corpus (samples.hpp): stored values,
// delta log records, write-ahead log records, framed records, version vectors and storage keys.
// The older formats (stored value format 1, log record format 2) are written here by hand as their
// headers document them (no encoder writes them any more; decoders still read them).

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/varint.hpp"
#include "fuzz/corpus_gen/samples.hpp"
#include "crdt/codec.hpp"
#include "persistence/record_format.hpp"
#include "persistence/wal_record.hpp"
#include "replication/log_record.hpp"
#include "replication/map_records.hpp"
#include "replication/set_records.hpp"
#include "replication/storage_key.hpp"
#include "replication/stored_value.hpp"
#include "replication/vv_bytes.hpp"

namespace rumor::fuzz {

namespace {

crdt::version_vector vv(uint64_t n) {
  crdt::version_vector v;
  for (uint64_t i = 1; i <= n; ++i) v.set(i * 0x9E3779B97F4A7C15ull, i * 300);
  return v;
}

// The crdt context encoding of a version vector (the older formats' key vector and deps).
std::string vv_as_context(const crdt::version_vector& v) {
  std::vector<crdt::dot> dots;
  for (const auto& [node, seq] : v.entries())
    for (uint64_t c = 1; c <= seq; ++c) dots.push_back({node, c});
  return crdt::encode_context(crdt::dot_context::of(dots));
}

void put_u32le(std::string& out, uint32_t v) {
  for (int b = 0; b < 4; ++b) out.push_back(static_cast<char>((v >> (8 * b)) & 0xff));
}

std::string stored_format_1(const crdt::version_vector& kv, const std::string& crdt_bytes) {
  std::string ctx = vv_as_context(kv), out(1, '\1');
  put_u32le(out, static_cast<uint32_t>(ctx.size()));
  return out + ctx + crdt_bytes;
}

std::string log_format_2(const replication::delta_record& r) {
  std::string out(1, '\2');
  out.push_back(static_cast<char>(r.type));
  put_u64le(out, r.hlc);
  put_u32le(out, static_cast<uint32_t>(r.key.size()));
  out += r.key;
  std::string deps = vv_as_context(r.deps);
  put_u32le(out, static_cast<uint32_t>(deps.size()));
  return out + deps + r.delta;
}

std::vector<persistence::write_batch> wal_groups() {
  persistence::write_batch every;
  every.put_value("v/key", "value bytes");
  every.erase_value("v/gone");
  every.append_delta(7, 1, "delta bytes");
  every.truncate_deltas(7, 0);
  every.put_meta("m/name", std::string("\0\1\2", 3));
  every.erase_meta("m/old");
  persistence::write_batch big;
  for (uint64_t i = 1; i <= 50; ++i) big.append_delta(UINT64_MAX - i, i << 40, std::string(i * 10, 'd'));
  return {persistence::write_batch{}, every, big};
}

}  // namespace

inputs stored_record_inputs() {
  inputs out;
  std::vector<crdt::value> values = sample_values();
  for (size_t i = 0; i < values.size(); ++i) {
    std::string crdt_bytes = crdt::encode(values[i]), n = std::to_string(i);
    crdt::version_vector kv = vv(i % 4);
    std::string stored = replication::encode_stored(kv, crdt_bytes);
    out.emplace_back("stored-" + n, stored);
    out.emplace_back("stored-v1-" + n, stored_format_1(kv, crdt_bytes));
    replication::delta_record r{"key/" + n, values[i].type(), 1000 + i, crdt_bytes, vv(i % 3)};
    out.emplace_back("log-" + n, replication::encode_log_record(r));
    out.emplace_back("log-v2-" + n, log_format_2(r));
    out.emplace_back("storage-key-" + n, replication::storage_key(r.key, r.type));
    // Framing input: u8 key length | key | framed record (fuzz_stored_record.cpp).
    std::string key = "v/" + n;
    out.emplace_back("framed-" + n, std::string(1, static_cast<char>(key.size())) + key + persistence::frame_record(key, stored));
    // A decomposed map's header and field records (map_records.hpp).
    if (const auto* m = values[i].get_if<crdt::or_map>()) {
      replication::set_records::header h{kv, m->size(), i, m->context()};
      out.emplace_back("map-header-" + n, replication::set_records::encode_header(h, replication::map_records::header_format));
      int f = 0;
      for (const auto& [fk, store] : m->store().entries())
        out.emplace_back("map-field-" + n + "-" + std::to_string(f++), replication::map_records::encode_field(fk, store));
    }
  }
  std::string wal;
  int g = 0;
  for (const auto& batch : wal_groups()) {
    persistence::encode_wal_record(std::span<const persistence::write_batch>(&batch, 1), wal);
    out.emplace_back("wal-" + std::to_string(g++), wal);
  }
  auto groups = wal_groups();
  persistence::encode_wal_record(groups, wal);
  out.emplace_back("wal-group", wal);
  for (uint64_t n : {0, 1, 5, 40}) {
    std::string b;
    replication::vv_bytes::put_vv(b, vv(n));
    out.emplace_back("vv-" + std::to_string(n), b);
  }
  return out;
}

}  // namespace rumor::fuzz
