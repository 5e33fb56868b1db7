#pragma once
// transport_internal: what the transport broker's files share (actors/transport.cpp: connections,
// dialing, frames, handlers; actors/transport_handshake.cpp: TLS at the byte level, the hello and
// admission). Not a public interface: only these two files include it. The contract of the
// broker is in actors/transport.hpp.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/transport.hpp"
#include "client/client_messages.hpp"
#include "replication/wire_codec.hpp"
#include "security/tls_session.hpp"

namespace rumor::actors::transport_internal {

using replication::node_id;

using hs_timeout_atom = caf::atom_constant<caf::atom("rhsto")>;
using resume_atom = caf::atom_constant<caf::atom("rresume")>;
using dial_done_atom = caf::atom_constant<caf::atom("rdialed")>;

constexpr uint32_t read_chunk_bytes = 64 * 1024;
// A hello is tiny; a connection that has not said hello may not make us buffer more than this
// (else every unauthenticated connection could hold a max-size partial frame).
constexpr size_t max_hello_bytes = 64 * 1024;

enum class role : uint8_t { pending, peer, client };

struct queued_frame {
  node_id to = 0;  // 0: whoever answers at the address
  std::string frame;
};

struct connection {
  connection(caf::io::connection_handle h, uint64_t s, size_t max_frame) : hdl(h), serial(s), reader(max_frame) {}

  caf::io::connection_handle hdl;
  uint64_t serial = 0;
  std::string remote;  // "ip:port" of the socket's other end
  std::string dialed;  // the address we dialed; empty for accepted connections
  role kind = role::pending;
  replication::frame_reader reader;
  node_id node = 0;         // peer: from its hello
  std::string announced;    // peer: the address in its hello
  size_t backlog = 0;       // bytes handed to CAF and not yet reported written
  bool paused = false;      // client: reading halted until the backlog drains
  bool dropping = false;    // peer: in a streak of dropped messages (logged once)
  std::set<uint64_t> watches;  // client: ids of watch requests (unwatched when it goes away)
  std::vector<client::request> burst;  // client: requests read from the data in hand (on_new_data)
  std::unique_ptr<security::tls_session> tls;  // with TLS: the session (all bytes pass through it)
  bool saw_data = false;    // any bytes read yet (the first byte tells TLS from a plaintext hello)
};

// Per dialed address: backoff and the messages waiting for its handshake.
struct dial_state {
  uint64_t backoff_ms = 0;                    // the wait after the next failure
  caf::actor_clock::time_point retry_at{};    // no new dial before this
  bool connecting = false;                    // background connect in flight
  uint64_t serial = 0;                        // connection waiting for the hello; 0 = none
  uint64_t failures = 0;                      // consecutive failures (logged loudly once)
  std::vector<queued_frame> queue;
  size_t queued_bytes = 0;

  bool in_progress() const { return connecting || serial != 0; }
};

struct transport_state {
  transport_config cfg;
  caf::actor replica;
  std::string address;  // announced in our hello
  std::string hello_frame;
  size_t max_frame = 0;
  uint64_t next_serial = 1;
  std::map<uint64_t, connection> conns;          // by serial
  std::map<int64_t, uint64_t> serial_of;         // connection_handle id -> serial
  std::map<node_id, uint64_t> peers;             // handshaken peer connection per node
  std::map<std::string, uint64_t> by_address;    // handshaken peer connection per address
  std::map<node_id, std::string> addresses;      // learned from hellos
  std::map<std::string, dial_state> dials;       // by dialed address
  transport_stats stats;
  bool stopped = false;

  static inline const char* name = "rumor.transport";
};

using broker_ptr = caf::stateful_actor<transport_state, caf::io::broker>*;


// ---- shared helpers (transport.cpp) ----

std::string node_name(node_id n);
// "node 0123.. (host:port)", "client host:port", "connection from host:port", for log lines.
std::string describe(const connection& c);
// Decodes a peer frame; never throws (an escaping kj::Exception would kill the broker).
result<replication::message> decode_peer(std::string_view frame);
connection* find(transport_state& st, uint64_t serial);
// Hands `bytes` to CAF as they are (ciphertext on a TLS connection).
void write_bytes(broker_ptr self, connection& c, std::string_view bytes);
// Writes one frame (through TLS when the connection has it).
void write_frame(broker_ptr self, connection& c, std::string_view frame);
// Writes a peer frame unless the peer is too far behind (then drops and counts it).
void send_to_peer(broker_ptr self, connection& c, std::string_view frame);
// Closes a connection that broke the protocol, logging who and why (`c` is gone afterwards).
void refuse(broker_ptr self, connection& c, std::string_view problem);
void close_connection(broker_ptr self, connection& c, std::string_view reason);

// ---- handshake and admission (transport_handshake.cpp) ----

// This node's hello on a connection of role `client` (or peer).
replication::hello our_hello(const transport_state& st, bool client);
// Handles the first frame of a connection, which must be an acceptable hello from an admitted
// peer or client (actors/admission.hpp); otherwise refuses the connection.
void on_first_frame(broker_ptr self, connection& c, std::string_view frame);
// Feeds bytes read from `c` to its frame reader (through TLS when it has it). False: `c` was
// refused (and is gone).
bool take_bytes(broker_ptr self, connection& c, std::string_view data);
// Closes the oldest accepted connections still in their handshake until at most `keep` are left.
void evict_pending_beyond(broker_ptr self, size_t keep);

}  // namespace rumor::actors::transport_internal
