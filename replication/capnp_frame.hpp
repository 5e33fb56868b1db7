// capnp_frame: one Cap'n Proto message as one frame (the standard flat encoding: segment table,
// then the segments), shared by the peer wire (wire_codec) and the client protocol (client_codec).
// Writing fills a root builder; reading checks the framing, then runs the caller's decoder with
// every failure — the decoder's own checks, capnp's structural errors — turned into an error value.
// Internal to the codecs: include it from .cpp files only.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>
#include <kj/exception.h>
#include <kj/io.h>

#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <utility>

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
template <class Root, class Fill>
void append_capnp_frame(std::string& out, Fill fill, unsigned first_segment_words = capnp::SUGGESTED_FIRST_SEGMENT_WORDS) {
  constexpr unsigned stack_words = 64;
  capnp::word scratch[stack_words] = {};
  auto build_and_write = [&](capnp::MallocMessageBuilder& mb) {
    fill(mb.initRoot<Root>());
    out.reserve(out.size() + capnp::computeSerializedSizeInWords(mb) * sizeof(capnp::word));
    string_output so(out);
    capnp::writeMessage(so, mb);
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
std::string write_capnp_frame(Fill fill, unsigned first_segment_words = capnp::SUGGESTED_FIRST_SEGMENT_WORDS) {
  std::string out;
  append_capnp_frame<Root>(out, std::move(fill), first_segment_words);
  return out;
}

// Reads one whole frame whose root is a Root and returns read(root, words), `words` being the
// frame's size in 8-byte words (for the decoder to bound what lists may claim). Checks first: at
// most max_frame_bytes (else errc::too_large), a whole segment table, exactly the bytes the table
// announces. A frame_violation thrown by `read`, a kj::Exception (malformed structure, traversal
// or nesting limit) or a std::exception becomes errc::decode_error "invalid <kind> frame: ...".
// The traversal limit (twice the frame, plus headroom) bounds what pointer aliasing can make a
// decoder copy; nesting is limited to 16 (the schemas nest 5 deep at most).
template <class T, class Root, class Read>
result<T> read_capnp_frame(std::string_view frame, std::string_view kind, Read read) {
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

  const size_t words = frame.size() / sizeof(capnp::word);
  kj::Array<capnp::word> aligned = kj::heapArray<capnp::word>(words);
  std::memcpy(aligned.begin(), frame.data(), frame.size());
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
