#pragma once
// codec: encodes CRDT values/deltas and causal contexts to bytes and back (crdt.capnp, unpacked
// Cap'n Proto, standard segment framing). The only code that touches the generated schema types.
//
// decode*() never throws and never crashes on any input: malformed, truncated or hostile bytes
// give errc::decode_error, an unknown format version errc::unsupported_version. A decoded value
// satisfies every invariant the CRDT types rely on (sorted, unique, store ⊆ context).

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "crdt/dot_context.hpp"
#include "crdt/value.hpp"

namespace rumor::crdt {

inline constexpr uint16_t codec_format_version = 1;
// Deepest or_map nesting accepted on decode.
inline constexpr int codec_max_map_depth = 16;

std::string encode(const value& v);
result<value> decode(std::string_view bytes);

std::string encode_context(const dot_context& c);
result<dot_context> decode_context(std::string_view bytes);

}  // namespace rumor::crdt
