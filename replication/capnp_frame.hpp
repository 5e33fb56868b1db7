// capnp_frame: one Cap'n Proto message as one frame, shared by the peer wire (wire_codec) and the
// client protocol (client_codec). Two forms:
//   - flat: the standard encoding (segment table, then the segments), a multiple of 8 bytes;
//   - packed (peer wire only, protocol version 8): a u32 little-endian header with bit 31 set
//     whose low 31 bits say n, then n bytes: the flat form in Cap'n Proto's packed encoding (the
//     encoding spec's "Packing": per word a tag byte whose bit i says byte i is non-zero and
//     follows; tag 0x00 is followed by a count of further zero words, tag 0xff by its 8 bytes and
//     a count of further words copied as they are). A flat frame's first u32 is its segment count
//     minus 1 (< 512), so bit 31 tells the two forms apart.
// Writing fills a root builder; reading checks the framing (unpacking first), then runs the
// caller's decoder with every failure — the decoder's own checks, capnp's structural errors —
// turned into an error value. Internal to the codecs: include it from .cpp files only.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <capnp/serialize.h>
#include <kj/array.h>
#include <kj/exception.h>
#include <kj/io.h>

#include <cstdint>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/capnp_packing.hpp"
#include "base/result.hpp"
#include "replication/wire_codec.hpp"

namespace rumor::replication {

// What a decoder throws when a field breaks the spec; read_capnp_frame catches it.
struct frame_violation {
  std::string what;
};
[[noreturn]] inline void violation(std::string what) { throw frame_violation{std::move(what)}; }

inline std::string str(capnp::Text::Reader t) { return std::string(t.begin(), t.size()); }
inline std::string str(capnp::Data::Reader d) {
  return std::string(reinterpret_cast<const char*>(d.begin()), d.size());
}

// Appends what capnp writes to a std::string (no intermediate flat array).
class string_output final : public kj::OutputStream {
 public:
  explicit string_output(std::string& out) : out_(out) {}
  void write(const void* buffer, size_t size) override { out_.append(static_cast<const char*>(buffer), size); }

 private:
  std::string& out_;
};

// Appends to `out` the frame of the message `fill(root)` builds under a root of type Root. The
// builder's first segment holds `first_segment_words` words; a bigger message grows into more
// segments (the frame then has a longer segment table). Small messages (client requests and
// responses) should ask for a small first segment: capnp's default of 1024 words zeroes 8 KiB
// for each, whatever its size. A first segment of at most 64 words lives on the stack: a small
// message costs no allocation but the bytes `out` grows by.
// `packed`: the packed form instead (see the top of this file).
inline constexpr uint32_t packed_frame_flag = uint32_t{1} << 31;

inline void put_le32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

template <class Root, class Fill>
void append_capnp_frame(std::string& out, Fill fill, unsigned first_segment_words = capnp::SUGGESTED_FIRST_SEGMENT_WORDS,
                        bool packed = false) {
  constexpr unsigned stack_words = 64;
  capnp::word scratch[stack_words] = {};
  auto build_and_write = [&](capnp::MallocMessageBuilder& mb) {
    fill(mb.initRoot<Root>());
    size_t flat = capnp::computeSerializedSizeInWords(mb) * sizeof(capnp::word);
    string_output so(out);
    if (!packed) {
      out.reserve(out.size() + flat);
      capnp::writeMessage(so, mb);
      return;
    }
    size_t at = out.size();
    out.reserve(at + 4 + flat + flat / 8 + 16);  // packing grows a frame by at most ~1/8
    out.append(4, '\0');
    capnp::writePackedMessage(so, mb);
    put_le32(out.data() + at, packed_frame_flag | static_cast<uint32_t>(out.size() - at - 4));
  };
  if (first_segment_words <= stack_words) {
    capnp::MallocMessageBuilder mb(kj::arrayPtr(scratch, stack_words));
    build_and_write(mb);
  } else {
    capnp::MallocMessageBuilder mb(first_segment_words);
    build_and_write(mb);
  }
}

// The frame of that message, as a string of its own.
template <class Root, class Fill>
std::string write_capnp_frame(Fill fill, unsigned first_segment_words = capnp::SUGGESTED_FIRST_SEGMENT_WORDS,
                              bool packed = false) {
  std::string out;
  append_capnp_frame<Root>(out, std::move(fill), first_segment_words, packed);
  return out;
}

// Unpacks the packed encoding in `packed` (base/capnp_packing.hpp) into whole words; nullopt if
// it is malformed or would unpack to more than max_words words (nothing is allocated then).
inline std::optional<kj::Array<capnp::word>> unpack_words(std::string_view packed, size_t max_words) {
  auto words = packed_word_count(packed, max_words);
  if (!words) return std::nullopt;
  auto out = kj::heapArray<capnp::word>(*words);
  unpack(packed, reinterpret_cast<unsigned char*>(out.begin()));
  return out;
}

// Reads one whole frame whose root is a Root and returns read(root, words), `words` being the
// frame's size in 8-byte words (for the decoder to bound what lists may claim). Checks first: at
// most max_frame_bytes (else errc::too_large), a whole segment table, exactly the bytes the table
// announces. A frame_violation thrown by `read`, a kj::Exception (malformed structure, traversal
// or nesting limit) or a std::exception becomes errc::decode_error "invalid <kind> frame: ...".
// The traversal limit (twice the frame, plus headroom) bounds what pointer aliasing can make a
// decoder copy; nesting is limited to 16 (the schemas nest 5 deep at most).
// `packed_ok` (the peer wire): a packed frame is accepted too. It must be exactly its header's
// length; it is unpacked (to at most max_frame_bytes: a frame of 64 KiB of zero runs can unpack
// that far, no further than a flat frame could claim) and the flat result then meets every check
// above, `words` counting the unpacked words.
template <class T, class Root, class Read>
result<T> read_capnp_frame(std::string_view frame, std::string_view kind, Read read, bool packed_ok = false) {
  auto bad = [&](std::string what) {
    return error{errc::decode_error, "invalid " + std::string(kind) + " frame: " + std::move(what)};
  };
  if (frame.size() > max_frame_bytes)
    return error{errc::too_large, std::string(kind) + " frame of " + std::to_string(frame.size()) +
                                      " bytes (at most " + std::to_string(max_frame_bytes) + ")"};
  auto size = frame_size_from_prefix(frame);
  if (!size) return size.err();
  if (*size == 0) return bad("truncated in the segment table (" + std::to_string(frame.size()) + " bytes)");
  if (*size > frame.size())
    return bad("truncated: " + std::to_string(frame.size()) + " of " + std::to_string(*size) + " bytes");
  if (*size < frame.size()) return bad(std::to_string(frame.size() - *size) + " bytes after the end of the message");

  kj::Array<capnp::word> aligned;
  std::string_view flat = frame;
  if (static_cast<unsigned char>(frame[3]) & 0x80) {  // the packed form's header (bit 31)
    if (!packed_ok) return bad("a packed frame where only the flat form is allowed");
    auto unpacked = unpack_words(frame.substr(4), max_frame_bytes / sizeof(capnp::word));
    if (!unpacked) return bad("malformed packing, or it unpacks to more than " + std::to_string(max_frame_bytes) + " bytes");
    aligned = std::move(*unpacked);
    flat = std::string_view(reinterpret_cast<const char*>(aligned.begin()), aligned.size() * sizeof(capnp::word));
    auto inner = frame_size_from_prefix(flat);
    if (!inner) return inner.err();
    if (*inner == 0 || static_cast<unsigned char>(flat[3]) & 0x80) return bad("the packed frame holds no whole segment table");
    if (*inner != flat.size())
      return bad("the packed frame unpacks to " + std::to_string(flat.size()) + " bytes, its segment table says " +
                 std::to_string(*inner));
  } else {
    aligned = kj::heapArray<capnp::word>(frame.size() / sizeof(capnp::word));
    std::memcpy(aligned.begin(), frame.data(), frame.size());
  }
  const size_t words = aligned.size();
  try {
    capnp::ReaderOptions options;
    options.traversalLimitInWords = 2 * words + 1024;
    options.nestingLimit = 16;
    capnp::FlatArrayMessageReader reader(aligned.asPtr(), options);
    return T(read(reader.getRoot<Root>(), words));
  } catch (const frame_violation& e) {
    return bad(e.what);
  } catch (const kj::Exception& e) {
    return bad(e.getDescription().cStr());
  } catch (const std::exception& e) {
    return bad(e.what());
  }
}

}  // namespace rumor::replication
