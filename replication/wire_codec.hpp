#pragma once
// wire_codec: replication::message <-> one Cap'n Proto frame of replication/wire.capnp, plus the
// framing helpers a byte-stream transport needs. The only code that touches the generated wire
// schema types. A frame has one of two forms (replication/capnp_frame.hpp): flat (standard stream
// framing: segment table + segments) or, since protocol version 8, packed (a u32 header with bit
// 31 set and the length, then the flat frame in Cap'n Proto's packed encoding). A node sends every
// frame packed except its hello, which stays flat so that a peer of any version reads it and
// refuses the version by name; it reads both forms.
//
// decode_message() never throws and never crashes on any input. Malformed, truncated or hostile
// bytes give errc::decode_error; a frame beyond max_frame_bytes / max_segments gives
// errc::too_large. A decoded message satisfies the structural invariants below; semantic checks
// (user key rules, cluster name and protocol version match, duplicates in lists) are the
// replication layer's.
//
// Checked on decode (each violation is a decode_error):
//   - the frame is exactly one message: no missing and no trailing bytes (a packed frame: exactly
//     its header's length, well-formed packing that unpacks to at most max_frame_bytes, and to
//     exactly one flat frame);
//   - the union member of `Message` is one this build knows;
//   - hello: cluster non-empty, node != 0, version >= 1;
//   - member updates: id != 0, status a known enumerant;
//   - delta entries: origin != 0, seq >= 1, type a known CRDT type (1..7);
//   - version vectors: node != 0, counter >= 1, node ids strictly increasing;
//   - ping_req.target != 0; sync_response.truncated entries != 0;
//   - compare-and-set lane messages: key non-empty and at most max_cas_key_bytes, values at most
//     max_cas_value_bytes, lineage at most cas_max_lineage ballots, every ballot either zero or
//     with counter >= 1 and node != 0, the ballot a message is about never zero;
//   - the decoded elements of all lists together number at most one per word of the frame (caps
//     the memory a small frame can make the decoder allocate).
//
// Thread safety: free functions are reentrant; a frame_reader is a plain value (one owner).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "replication/cas_messages.hpp"
#include "replication/messages.hpp"

namespace rumor::replication {

// Bounds of one frame (header included). Larger frames are refused with errc::too_large.
inline constexpr size_t max_frame_bytes = size_t{64} << 20;
inline constexpr size_t max_segments = 512;

// Returns `m` encoded as exactly one frame, the form a node sends: packed, except a hello (flat).
// REQUIRES: the frame fits max_frame_bytes (receivers refuse larger frames; callers bound
// batches, e.g. sync_response.more, to a few MiB; packing makes a flat frame smaller or at most
// ~1/8 larger), and no list has 2^29 or more elements.
std::string encode_message(const message& m);
// The same for a compare-and-set lane message (same envelope, its own union members): packed.
std::string encode_message(const cas_message& m);
// The flat form (a multiple of 8 bytes), what versions up to 7 sent: for hellos and for tests
// that look inside a frame.
std::string encode_message_flat(const message& m);
std::string encode_message_flat(const cas_message& m);

// Bounds of the lane's messages (the lane refuses larger keys and values before proposing).
inline constexpr size_t max_cas_key_bytes = 64 * 1024;
inline constexpr size_t max_cas_value_bytes = size_t{1} << 20;

// Decodes one whole frame (as cut by frame_reader or frame_size_from_prefix). See the checks
// above. `frame` needs no particular alignment (it is copied).
result<message> decode_message(std::string_view frame);

// A decoded frame of either kind: gossip protocol or compare-and-set lane.
using peer_frame = std::variant<message, cas_message>;
// Decodes one whole frame of either kind, with the checks above. decode_message() refuses lane
// frames (decode_error), so a caller that expects only gossip messages needs no change.
result<peer_frame> decode_peer_frame(std::string_view frame);

// Returns the total length in bytes of the frame that starts at prefix[0] once its packed header
// (4 bytes) or segment table is complete in `prefix`, or 0 while more bytes are needed. Returns
// errc::too_large as soon as the table announces more than max_segments segments or a frame
// longer than `limit` bytes, or the header a packed frame longer than `limit`.
// REQUIRES: limit <= max_frame_bytes.
result<size_t> frame_size_from_prefix(std::string_view prefix, size_t limit = max_frame_bytes);

// Cuts whole frames out of a byte stream (e.g. a TCP connection).
//
//   reader.feed(bytes);
//   while (true) {
//     auto f = reader.next();
//     if (!f) { close the connection; break; }   // framing is lost for good
//     if (!*f) break;                            // need more bytes
//     auto msg = decode_message(**f);
//   }
//
// Memory: at most one partial frame (<= the limit) plus the bytes of the last feed() stay
// buffered, provided next() is called until it returns nullopt after each feed().
class frame_reader {
 public:
  // REQUIRES: 0 < max_frame <= max_frame_bytes.
  explicit frame_reader(size_t max_frame = max_frame_bytes);

  // Appends bytes received from the stream. Bytes fed after an error are dropped.
  void feed(std::string_view bytes);

  // Returns the next whole frame, nullopt if more bytes are needed, or an error (too_large) if the
  // next frame's segment table exceeds the bounds. Errors are sticky: every later call returns
  // the same error.
  result<std::optional<std::string>> next();

  // Bytes received and not yet returned by next().
  size_t buffered() const noexcept { return buffer_.size() - start_; }

 private:
  size_t max_frame_;
  std::string buffer_;
  size_t start_ = 0;  // buffer_[0, start_) has been handed out
  std::optional<error> error_;
};

}  // namespace rumor::replication
