// Unit tests of the pure pieces: record framing, delta keys, key ranges, write_batch.

#include "persistence/record_format.hpp"

#include <doctest/doctest.h>

#include <string>

#include "persistence/key_range.hpp"
#include "persistence/write_batch.hpp"

using namespace rumor;
using namespace rumor::persistence;

TEST_CASE("record framing round-trips and detects damage") {
  const std::string payload = "hello crdt\0bytes";
  const std::string framed = frame_record("key", payload);
  REQUIRE(framed.size() == record_header_bytes + payload.size());
  CHECK(static_cast<uint8_t>(framed[0]) == record_version);
  auto back = unframe_record("key", framed);
  REQUIRE(back.has_value());
  CHECK(*back == payload);

  // Every single-byte flip anywhere in the record is detected.
  for (std::size_t i = 0; i < framed.size(); ++i) {
    std::string bad = framed;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    auto r = unframe_record("key", bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.err().code == errc::corrupt);
  }
  // The checksum covers the key: a record moved under another key fails.
  auto moved = unframe_record("kez", framed);
  REQUIRE_FALSE(moved.has_value());
  CHECK(moved.err().message.find("checksum") != std::string::npos);
  // Too short, and unknown record version.
  auto shorty = unframe_record("key", framed.substr(0, 5));
  REQUIRE_FALSE(shorty.has_value());
  CHECK(shorty.err().message.find("shorter") != std::string::npos);
  std::string v2 = framed;
  v2[0] = 2;
  auto unknown = unframe_record("key", v2);
  REQUIRE_FALSE(unknown.has_value());
  CHECK(unknown.err().message.find("record version 2") != std::string::npos);
  // Empty payloads are fine.
  auto empty = unframe_record("k", frame_record("k", ""));
  REQUIRE(empty.has_value());
  CHECK(empty->empty());
}

TEST_CASE("delta keys sort by origin then sequence") {
  const auto a = delta_key(1, 255);
  const auto b = delta_key(1, 256);
  const auto c = delta_key(2, 0);
  const auto d = delta_key(UINT64_MAX, UINT64_MAX);
  auto view = [](const auto& k) { return std::string_view{k.data(), k.size()}; };
  CHECK(view(a) < view(b));
  CHECK(view(b) < view(c));
  CHECK(view(c) < view(d));
  CHECK(delta_key_origin(view(b)) == 1);
  CHECK(delta_key_seq(view(b)) == 256);
  CHECK(delta_key_origin(view(d)) == UINT64_MAX);
  CHECK(delta_key_seq(view(d)) == UINT64_MAX);
  CHECK(decode_u32_le(encode_u32_le(0xdeadbeef)) == 0xdeadbeefU);
  CHECK(decode_u64_le(encode_u64_le(0x0123456789abcdefULL)) == 0x0123456789abcdefULL);
}

TEST_CASE("key ranges: prefix and between and starting_at") {
  CHECK(prefix_successor("ab") == std::optional<std::string>{"ac"});
  CHECK(prefix_successor("a\xff") == std::optional<std::string>{"b"});
  CHECK(prefix_successor("\xff\xff") == std::nullopt);
  CHECK(prefix_successor("") == std::nullopt);

  const auto p = key_range::with_prefix("user/");
  CHECK(p.contains("user/"));
  CHECK(p.contains("user/zzz\xff"));
  CHECK_FALSE(p.contains("user"));
  CHECK_FALSE(p.contains("user0"));
  CHECK_FALSE(p.contains("users"));

  const auto all = key_range::all();
  CHECK(all.contains(std::string(1, '\0')));
  CHECK(all.contains("\xff\xff\xff"));

  const auto b = key_range::between("b", "d");
  CHECK(b.contains("b"));
  CHECK(b.contains("cz"));
  CHECK_FALSE(b.contains("d"));
  CHECK_FALSE(b.contains("a"));

  const auto s = key_range::starting_at(std::string("k") + '\0');
  CHECK_FALSE(s.contains("k"));
  CHECK(s.contains(std::string("k") + '\0'));
  CHECK(s.contains("ka"));
}

TEST_CASE("write_batch records operations in order") {
  write_batch b;
  CHECK(b.empty());
  b.put_value("k1", "v1");
  b.erase_value("k2");
  b.append_delta(7, 9, "delta");
  b.truncate_deltas(7, 3);
  b.put_meta("vv", "bytes");
  b.erase_meta("hlc");
  REQUIRE(b.size() == 6);
  CHECK(b.bytes() == 2 + 2 + 2 + 5 + 2 + 5 + 3);
  CHECK(b.op(0).kind == op_kind::put_value);
  CHECK(b.op(0).key == "k1");
  CHECK(b.op(0).data == "v1");
  CHECK(b.op(1).kind == op_kind::erase_value);
  CHECK(b.op(1).key == "k2");
  CHECK(b.op(2).kind == op_kind::append_delta);
  CHECK(b.op(2).origin == 7);
  CHECK(b.op(2).seq == 9);
  CHECK(b.op(2).data == "delta");
  CHECK(b.op(3).kind == op_kind::truncate_deltas);
  CHECK(b.op(3).seq == 3);
  CHECK(b.op(4).key == "vv");
  CHECK(b.op(5).kind == op_kind::erase_meta);
  CHECK(validate(std::span<const write_batch>{&b, 1}).has_value());
  b.clear();
  CHECK(b.empty());
  CHECK(b.bytes() == 0);
}

TEST_CASE("validate names the offending operation") {
  auto check = [](write_batch b, errc code, std::string_view fragment) {
    write_batch group[2];
    group[0].put_value("fine", "x");
    group[1] = std::move(b);
    status s = validate(group);
    REQUIRE_FALSE(s.has_value());
    CHECK(s.err().code == code);
    CHECK_MESSAGE(s.err().message.find(fragment) != std::string::npos, s.err().message);
    CHECK(s.err().message.find("batch 1") != std::string::npos);
  };
  write_batch empty_key;
  empty_key.put_value("", "x");
  check(std::move(empty_key), errc::invalid_argument, "empty key");
  write_batch long_key;
  long_key.erase_value(std::string(max_key_bytes + 1, 'k'));
  check(std::move(long_key), errc::too_large, "exceeds the limit of 500");
  write_batch reserved;
  reserved.put_meta("node_id", "x");
  check(std::move(reserved), errc::invalid_argument, "reserved");
  write_batch big;
  big.append_delta(1, 1, std::string(max_value_bytes + 1, 'd'));
  check(std::move(big), errc::too_large, "data of");

  write_batch ok;
  ok.put_value(std::string(max_key_bytes, 'k'), std::string(1000, 'v'));
  ok.put_meta("format_versions", "not reserved");
  CHECK(validate(std::span<const write_batch>{&ok, 1}).has_value());
}
