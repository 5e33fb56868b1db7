#pragma once
// codec_reader: reads the varint byte forms of the codec (codec_compact.hpp, codec_text.hpp) part
// by part. Every read checks what is left; the first failure is kept (errc::decode_error, the
// message prefixed with `what_form`) and every later read fails too. Internal to the codec.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "base/varint.hpp"

namespace rumor::crdt::detail {

struct codec_reader {
  std::string_view in;
  std::size_t at = 0;
  const char* what_form = "invalid compact encoding: ";
  std::optional<error> failure;

  bool fail(std::string what) {
    if (!failure) failure = error{errc::decode_error, what_form + std::move(what)};
    return false;
  }
  bool varint(uint64_t& v, const char* what) {
    auto r = get_varint(in, at);
    if (!r) return fail(std::string(what) + " cut off");
    v = *r;
    return true;
  }
  bool u64(uint64_t& v, const char* what) {
    auto r = get_u64le(in, at);
    if (!r) return fail(std::string(what) + " cut off");
    v = *r;
    return true;
  }
  // A length, then that many bytes.
  bool bytes(std::string& v, const char* what) {
    uint64_t n = 0;
    if (!varint(n, what)) return false;
    if (n > in.size() - at) return fail(std::string(what) + " of " + std::to_string(n) + " bytes exceeds the input");
    v.assign(in.substr(at, n));
    at += n;
    return true;
  }
  // A count of items of at least `min_bytes` bytes each: bounded by what is left.
  bool count(uint64_t& n, std::size_t min_bytes, const char* what) {
    if (!varint(n, what)) return false;
    if (n > (in.size() - at) / min_bytes) return fail(std::string(what) + " " + std::to_string(n) + " exceeds the input");
    return true;
  }
};

}  // namespace rumor::crdt::detail
