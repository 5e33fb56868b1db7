// fuzz_peer_frame: libFuzzer target for the peer wire (replication/wire_codec.hpp). The input is
// the bytes a peer sent on a connection: frames in the flat or the packed form.
//
// Properties (a violation aborts, FUZZ_CHECK):
//   - decode_peer_frame / decode_message / frame_size_from_prefix never throw or crash;
//   - an accepted frame is exactly one frame (frame_size_from_prefix says its whole length), and
//     decode_message agrees with decode_peer_frame (accepts gossip frames, refuses lane frames);
//   - re-encoding an accepted message gives a frame that decodes to an equal message (the decoder
//     accepts only what the encoder can write);
//   - frame_reader, fed the input in 13-byte pieces, hands out frames that are consecutive pieces
//     of the input and never more bytes than it was fed.
// Defines only LLVMFuzzerTestOneInput: linked with libFuzzer (RUMOR_FUZZ=ON) or with
// replay_main.cpp (the normal build's regression replay).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "fuzz/fuzz_check.hpp"
#include "replication/wire_codec.hpp"

using namespace rumor;
using namespace rumor::replication;

namespace {

void check_frame(std::string_view in) {
  auto frame = decode_peer_frame(in);
  auto gossip = decode_message(in);
  if (!frame) {
    FUZZ_CHECK(!gossip, "decode_message accepted what decode_peer_frame refused");
    return;
  }
  auto size = frame_size_from_prefix(in);
  FUZZ_CHECK(size && *size == in.size(), "an accepted frame is not exactly one frame");
  if (const auto* m = std::get_if<message>(&*frame)) {
    FUZZ_CHECK(gossip && *gossip == *m, "decode_message disagrees with decode_peer_frame");
    auto again = decode_message(encode_message(*m));
    FUZZ_CHECK(again && *again == *m, "a decoded gossip message does not survive re-encoding");
  } else {
    const auto& lane = std::get<cas_message>(*frame);
    FUZZ_CHECK(!gossip, "decode_message accepted a compare-and-set lane frame");
    auto again = decode_peer_frame(encode_message(lane));
    FUZZ_CHECK(again && std::holds_alternative<cas_message>(*again) &&
                   std::get<cas_message>(*again) == lane,
               "a decoded lane message does not survive re-encoding");
  }
}

void check_stream(std::string_view in) {
  constexpr size_t piece = 13;
  frame_reader reader(size_t{1} << 20);
  size_t handed_out = 0;
  for (size_t at = 0; at < in.size(); at += piece) {
    reader.feed(in.substr(at, piece));
    // Each frame is at least 4 bytes (a packed header), so at most size/4 + 1 rounds end the loop.
    for (size_t round = 0; round <= in.size() / 4 + 1; ++round) {
      auto next = reader.next();
      if (!next || !*next) break;
      const std::string& f = **next;
      FUZZ_CHECK(f.size() >= 4 && handed_out + f.size() <= in.size(), "frame_reader made up bytes");
      FUZZ_CHECK(in.substr(handed_out, f.size()) == f, "frame_reader reordered bytes");
      handed_out += f.size();
      (void)decode_peer_frame(f);
    }
    if (!reader.next()) return;  // framing lost for good: the connection would close
  }
  FUZZ_CHECK(handed_out + reader.buffered() == in.size(), "frame_reader lost bytes");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  check_frame(in);
  check_stream(in);
  return 0;
}
