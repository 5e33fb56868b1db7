#pragma once
// Test helper: the unpacked Cap'n Proto form that crdt::encode / encode_context wrote before the
// packed form (protocol version 1), made from a packed encoding of this build: the same message
// (segment for segment) written with capnp::messageToFlatArray. Not a hard-coded blob. A compact
// counter encoding (protocol version 3) is first re-encoded in the packed form.

#include <capnp/serialize-packed.h>
#include <capnp/serialize.h>
#include <kj/io.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/codec.hpp"

namespace rumor::test {

inline std::string unpacked_form(std::string_view packed) {
  std::string repacked;
  if (!packed.empty() && static_cast<uint8_t>(packed[0]) != crdt::codec_packed_marker) {
    auto v = crdt::decode(packed);
    if (!v) throw std::invalid_argument("unpacked_form: " + v.err().message);
    repacked = crdt::encode_packed(*v);
    packed = repacked;
  }
  if (packed.empty() || static_cast<uint8_t>(packed[0]) != crdt::codec_packed_marker)
    throw std::invalid_argument("unpacked_form: not the packed form");
  kj::ArrayInputStream in({reinterpret_cast<const kj::byte*>(packed.data()) + 1, packed.size() - 1});
  capnp::PackedMessageReader reader(in);
  std::vector<kj::ArrayPtr<const capnp::word>> segments;
  for (unsigned i = 0;; ++i) {
    auto s = reader.getSegment(i);
    if (s == nullptr) break;
    segments.push_back(s);
  }
  kj::Array<capnp::word> flat = capnp::messageToFlatArray({segments.data(), segments.size()});
  auto bytes = flat.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

}  // namespace rumor::test
