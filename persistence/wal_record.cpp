#include "persistence/wal_record.hpp"

#include "base/varint.hpp"

namespace rumor::persistence {

namespace {

struct reader {
  std::string_view in;
  std::size_t pos = 0;

  bool varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (pos >= in.size()) return false;
      const auto b = static_cast<uint8_t>(in[pos++]);
      if (shift == 63 && b > 1) return false;
      v |= uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  bool bytes(std::string_view& s) {
    uint64_t n = 0;
    if (!varint(n) || n > in.size() - pos) return false;
    s = in.substr(pos, n);
    pos += n;
    return true;
  }
};

bool has_delta_ids(op_kind k) { return k == op_kind::append_delta || k == op_kind::truncate_deltas; }

}  // namespace

void encode_wal_record(std::span<const write_batch> group, std::string& out) {
  out.clear();
  std::size_t reserve = 1;
  for (const write_batch& b : group) reserve += b.bytes() + b.size() * 24;
  out.reserve(reserve);
  out.push_back(static_cast<char>(wal_record_version));
  for (const write_batch& b : group) {
    for (std::size_t i = 0; i < b.size(); ++i) {
      const write_op op = b.op(i);
      out.push_back(static_cast<char>(op.kind));
      put_varint(out, op.key.size());
      out.append(op.key);
      put_varint(out, op.data.size());
      out.append(op.data);
      if (has_delta_ids(op.kind)) {
        put_varint(out, op.origin);
        put_varint(out, op.seq);
      }
    }
  }
}

status visit_wal_record(std::string_view payload, const std::function<void(const write_op&)>& visit) {
  if (payload.empty() || static_cast<uint8_t>(payload[0]) != wal_record_version) {
    return error{errc::corrupt, payload.empty() ? "empty log record"
                                                : "log record of unknown version " +
                                                      std::to_string(static_cast<uint8_t>(payload[0]))};
  }
  reader r{payload, 1};
  while (r.pos < payload.size()) {
    const auto kind = static_cast<uint8_t>(payload[r.pos++]);
    if (kind > static_cast<uint8_t>(op_kind::erase_meta)) {
      return error{errc::corrupt, "log record holds unknown operation kind " + std::to_string(kind)};
    }
    std::string_view key, data;
    uint64_t origin = 0, seq = 0;
    if (!r.bytes(key) || !r.bytes(data)) return error{errc::corrupt, "log record ends inside an operation"};
    const auto k = static_cast<op_kind>(kind);
    if (has_delta_ids(k) && (!r.varint(origin) || !r.varint(seq))) {
      return error{errc::corrupt, "log record ends inside a delta operation"};
    }
    visit(write_op{k, key, data, origin, seq});
  }
  return {};
}

status decode_wal_record(std::string_view payload, write_batch& out) {
  return visit_wal_record(payload, [&](const write_op& op) {
    switch (op.kind) {
      case op_kind::put_value: out.put_value(op.key, op.data); break;
      case op_kind::erase_value: out.erase_value(op.key); break;
      case op_kind::append_delta: out.append_delta(op.origin, op.seq, op.data); break;
      case op_kind::truncate_deltas: out.truncate_deltas(op.origin, op.seq); break;
      case op_kind::put_meta: out.put_meta(op.key, op.data); break;
      case op_kind::erase_meta: out.erase_meta(op.key); break;
    }
  });
}

}  // namespace rumor::persistence
