// fuzz_client_frame: libFuzzer target for the client protocol (client/client_codec.hpp). The
// input is the bytes a client sent to a node (or a node to a client) after the hello.
//
// Properties (a violation aborts, FUZZ_CHECK):
//   - decode_client and request_id_of never throw or crash;
//   - re-encoding an accepted message gives a frame that decodes to an equal message;
//   - request_id_of agrees with decode_client: an accepted request's id, nullopt for an accepted
//     response or event;
//   - the crdt bytes an accepted response or event carries render (client/render.hpp, what the
//     CLI prints) without crashing, as text and JSON; a context it carries that decodes survives
//     its text form (what mvget prints and mvput --context reads back).
// Defines only LLVMFuzzerTestOneInput: linked with libFuzzer (RUMOR_FUZZ=ON) or with
// replay_main.cpp (the normal build's regression replay).

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "client/client_codec.hpp"
#include "client/render.hpp"
#include "crdt/codec.hpp"
#include "fuzz/fuzz_check.hpp"

using namespace rumor;
using namespace rumor::client;

namespace {

void render(std::string_view codec_bytes) {
  (void)render_text_from_bytes(codec_bytes);
  (void)render_json_from_bytes(codec_bytes);
}

// A context as the CLI shows it (context text) must read back as the same context.
void context(std::string_view codec_bytes) {
  auto c = crdt::decode_context(codec_bytes);
  if (!c) return;
  auto back = parse_context(context_to_string(*c));
  FUZZ_CHECK(back && *back == *c, "a context does not survive its text form");
}

void check_payloads(const client_message& m) {
  if (const auto* q = std::get_if<request>(&m)) {
    if (const auto* u = std::get_if<update>(&q->body); u && u->context) context(*u->context);
  } else if (const auto* r = std::get_if<response>(&m)) {
    for (const auto& kv : r->values) {
      render(kv.value);
      if (!kv.context.empty()) context(kv.context);
    }
  } else if (const auto* e = std::get_if<event>(&m)) {
    render(e->value);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto id = request_id_of(in);
  auto m = decode_client(in);
  if (!m) return 0;
  if (const auto* r = std::get_if<request>(&*m)) {
    FUZZ_CHECK(id && *id == r->id, "request_id_of disagrees with decode_client");
  } else {
    FUZZ_CHECK(!id, "request_id_of found a request in a response or event");
  }
  auto again = decode_client(encode_client(*m));
  FUZZ_CHECK(again && *again == *m, "a decoded client message does not survive re-encoding");
  check_payloads(*m);
  return 0;
}
