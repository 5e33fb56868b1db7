// fuzz_crdt_value: libFuzzer target for the crdt codec (crdt/codec.hpp, codec_compact.hpp): values
// and deltas (one encoding: a delta is a value) in the compact, packed and old unpacked forms, and
// causal contexts. The input is the crdt bytes a peer, a client or a stored record carries.
//
// Properties (a violation aborts, FUZZ_CHECK):
//   - decode and decode_context never throw or crash;
//   - an accepted value re-encodes canonically: decode(encode(v)) == v, encode of that equals
//     encode(v), its first byte is current_form_marker(type), and the packed form decodes to v
//     too;
//   - an accepted value satisfies what join relies on: v ⊔ v == v, ⊥ ⊔ v == v, v ⊔ ⊥ == v, and
//     removing everything it holds leaves a value that holds nothing and joins back into v
//     without changing the context;
//   - its context, and an accepted context, survive encode_context → decode_context;
//   - an accepted value renders as text and JSON (client/render.hpp) without crashing.
// Defines only LLVMFuzzerTestOneInput: linked with libFuzzer (RUMOR_FUZZ=ON) or with
// replay_main.cpp (the normal build's regression replay).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "client/render.hpp"
#include "crdt/codec.hpp"
#include "fuzz/fuzz_check.hpp"

using namespace rumor;
using namespace rumor::crdt;

namespace {

void check_context(const dot_context& c) {
  auto back = decode_context(encode_context(c));
  FUZZ_CHECK(back && *back == c, "a context does not survive re-encoding");
}

void check_join(const value& v) {
  value twice = v;
  FUZZ_CHECK(twice.join(v), "joining a value with itself failed");
  FUZZ_CHECK(twice == v, "join is not idempotent on a decoded value");

  value from_bottom = value::empty_of(v.type());
  FUZZ_CHECK(from_bottom.join(v), "joining into bottom failed");
  FUZZ_CHECK(from_bottom == v, "bottom is not the identity of join (left)");
  value with_bottom = v;
  FUZZ_CHECK(with_bottom.join(value::empty_of(v.type())), "joining bottom failed");
  FUZZ_CHECK(with_bottom == v, "bottom is not the identity of join (right)");

  value removed = v;
  value delta = removed.remove_observed();
  FUZZ_CHECK(removed.holds_nothing(), "remove_observed left something");
  FUZZ_CHECK(removed.context() == v.context(), "remove_observed changed the context");
  value rejoined = v;
  FUZZ_CHECK(rejoined.join(delta), "joining a removal delta failed");
  FUZZ_CHECK(rejoined == removed, "a removal delta joined into the value does not remove it");
}

void check_value(const value& v) {
  std::string bytes = encode(v);
  FUZZ_CHECK(!bytes.empty() && static_cast<uint8_t>(bytes[0]) == current_form_marker(v.type()),
             "encode wrote another form than current_form_marker");
  auto back = decode(bytes);
  FUZZ_CHECK(back && *back == v, "a decoded value does not survive re-encoding");
  FUZZ_CHECK(encode(*back) == bytes, "encode is not canonical");
  auto packed = decode(encode_packed(v));
  FUZZ_CHECK(packed && *packed == v, "a decoded value does not survive its packed form");
  check_context(v.context());
  check_join(v);
  (void)client::render_text(v);
  (void)client::render_json(v);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto v = decode(in)) check_value(*v);
  if (auto c = decode_context(in)) check_context(*c);
  return 0;
}
