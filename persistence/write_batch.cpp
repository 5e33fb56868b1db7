#include "persistence/write_batch.hpp"

#include "persistence/record_format.hpp"

namespace rumor::persistence {

namespace {

// Keys may be binary; show a bounded, printable rendering in error messages.
std::string printable(std::string_view s) {
  std::string out;
  const std::size_t n = s.size() < 64 ? s.size() : 64;
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
  if (s.size() > n) out += "...";
  return out;
}

bool has_key(op_kind k) {
  return k == op_kind::put_value || k == op_kind::erase_value || k == op_kind::put_meta ||
         k == op_kind::erase_meta;
}

bool is_meta(op_kind k) { return k == op_kind::put_meta || k == op_kind::erase_meta; }

}  // namespace

void write_batch::add(op_kind kind, std::string_view key, std::string_view data, uint64_t origin,
                      uint64_t seq) {
  rec r{kind, buf_.size(), key.size(), buf_.size() + key.size(), data.size(), origin, seq};
  buf_.append(key);
  buf_.append(data);
  ops_.push_back(r);
}

void write_batch::put_value(std::string_view key, std::string_view encoded) {
  add(op_kind::put_value, key, encoded, 0, 0);
}
void write_batch::erase_value(std::string_view key) { add(op_kind::erase_value, key, {}, 0, 0); }
void write_batch::append_delta(uint64_t origin, uint64_t seq, std::string_view delta) {
  add(op_kind::append_delta, {}, delta, origin, seq);
}
void write_batch::truncate_deltas(uint64_t origin, uint64_t up_to_seq_inclusive) {
  add(op_kind::truncate_deltas, {}, {}, origin, up_to_seq_inclusive);
}
void write_batch::put_meta(std::string_view name, std::string_view bytes) {
  add(op_kind::put_meta, name, bytes, 0, 0);
}
void write_batch::erase_meta(std::string_view name) { add(op_kind::erase_meta, name, {}, 0, 0); }

write_op write_batch::op(std::size_t i) const noexcept {
  const rec& r = ops_[i];
  const std::string_view all{buf_};
  return write_op{r.kind, all.substr(r.key_off, r.key_len), all.substr(r.data_off, r.data_len),
                  r.origin, r.seq};
}

void write_batch::clear() noexcept {
  buf_.clear();
  ops_.clear();
}

status validate(std::span<const write_batch> group) {
  for (std::size_t b = 0; b < group.size(); ++b) {
    const write_batch& batch = group[b];
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const write_op op = batch.op(i);
      const auto where = [&] {
        return "batch " + std::to_string(b) + ", operation " + std::to_string(i) +
               (has_key(op.kind) ? ", key '" + printable(op.key) + "'" : std::string{});
      };
      if (has_key(op.kind)) {
        if (op.key.empty()) return error{errc::invalid_argument, "empty key (" + where() + ")"};
        if (op.key.size() > max_key_bytes) {
          return error{errc::too_large, "key of " + std::to_string(op.key.size()) +
                                            " bytes exceeds the limit of " +
                                            std::to_string(max_key_bytes) + " (" + where() + ")"};
        }
      }
      if (op.data.size() > max_value_bytes) {
        return error{errc::too_large, "data of " + std::to_string(op.data.size()) +
                                          " bytes exceeds the limit of " +
                                          std::to_string(max_value_bytes) + " (" + where() + ")"};
      }
      if (is_meta(op.kind) && is_reserved_meta_name(op.key)) {
        return error{errc::invalid_argument,
                     "meta name is reserved for the store itself (" + where() + ")"};
      }
    }
  }
  return {};
}

}  // namespace rumor::persistence
