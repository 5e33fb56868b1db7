#pragma once
// client_codec: client::client_message <-> one Cap'n Proto frame of client/client.capnp (standard
// stream framing: segment table + segments, unpacked; the flat form of replication frames, so
// replication::frame_reader cuts both; a frame in the peers' packed form is a decode_error here).
// The only code that touches the generated client schema types.
//
// decode_client() never throws and never crashes on any input. Malformed, truncated or hostile
// bytes give errc::decode_error; a frame beyond replication::max_frame_bytes / max_segments gives
// errc::too_large. Semantic checks (key rules, conditional without context, limit values) are the
// node's.
//
// Checked on decode (each violation is a decode_error):
//   - the frame is exactly one message: no missing and no trailing bytes;
//   - the union members of `ClientMessage` and `Request.body` are ones this build knows;
//   - enumerants are known: consistency 0..2, op kind 0..6, CRDT type 1..7 (update type, key
//     list types), error code 0..15 (base/error.hpp errc), member status 0..3;
//   - the decoded elements of all lists together number at most one per word of the frame (caps
//     the memory a small frame can make the decoder allocate).
//
// Thread safety: free functions, reentrant.

#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "client/client_messages.hpp"

namespace rumor::client {

// Returns `m` encoded as exactly one frame (capnp::messageToFlatArray): a multiple of 8 bytes.
// REQUIRES: the encoding fits replication::max_frame_bytes (receivers refuse larger frames), no
// list has 2^29 or more elements, and every enum field holds a named enumerator.
std::string encode_client(const client_message& m);
// The same frame appended to `out` (several answers of one step share one buffer).
void encode_client_into(const client_message& m, std::string& out);

// Decodes one whole frame (as cut by replication::frame_reader). See the checks above. `frame`
// needs no particular alignment (it is copied).
result<client_message> decode_client(std::string_view frame);

// The id of the request in `frame` when the frame is a well-formed ClientMessage holding a
// request, whether or not decode_client accepts its fields; nullopt for anything else. A node
// answers a request it cannot read (an enumerant, request kind or field it does not know or
// accept) with an error response to this id, and keeps the connection (client.capnp, "Errors").
std::optional<uint64_t> request_id_of(std::string_view frame);

}  // namespace rumor::client
