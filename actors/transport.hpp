#pragma once
// transport: the node's TCP face, one caf::io broker. It listens on one address for peers and
// clients; dials peers on demand; frames every connection with standard Cap'n Proto stream
// framing (replication/wire_codec.hpp frame_reader); does the hello handshake; hands decoded peer
// messages and client requests to the replica actor; writes what the replica actor sends.
//
// Handshake: both sides send `hello` first. A peer whose cluster name or protocol version differs
// is refused (logged, connection closed). A hello with role = client makes the connection a client
// connection: its later frames are client/client.capnp messages. The requests decoded from one
// read of a connection go to the replica actor as one `client_burst`, in arrival order; the
// replica actor sends back (client_out_atom, connection, frames), each message every response and
// event of one of its steps for that connection, written as they come.
//
// Security (transport_credentials): with a TLS context every connection speaks TLS 1.3 only and is
// verified against the context's CA bundle (security/tls_context.hpp) before its hello is read. A
// peer must then present a node certificate (OU rumor-node) whose subjectAltNames name the host of
// the address its hello announces (and a node we dial, the host we dialed); a client must present a
// certificate of this CA (node or client role) or one of `client_tokens` in its hello. Tokens are
// checked with or without TLS. A refused hello is answered with errc::unauthenticated and a reason
// that does not say which credential was wrong (the log line does). A plaintext hello at a TLS port
// is answered, in plaintext, with a refusal saying TLS is required; a TLS ClientHello at a plaintext
// port is logged as such and closed. The TLS handshake counts toward the handshake timeout.
// (reload_atom, transport_credentials) replaces the credentials for connections opened after it
// (certificate rotation); open connections keep theirs.
//
// Failure containment: a malformed, oversized or unexpected frame closes that one connection (with
// a log line naming the peer and the problem); decoding never throws out of a handler, so the
// broker and its other connections live on.
//
// Back-pressure: at most `max_peer_backlog_bytes` wait to be written to one peer; further peer
// messages to it are dropped and counted (gossip is loss tolerant: anti-entropy re-sends what
// matters). A client whose unwritten responses exceed `max_client_backlog_bytes` is not read from
// until they drain; a watcher that falls that far behind is disconnected.
//
// Dialing: a message for node N goes to N's handshaken connection; without one, to its address
// (outgoing.address, or the address N announced in its hello): the broker connects, queues the
// message until the handshake completes, and on failure drops the queue and waits a backoff
// (reconnect_min_ms doubling up to reconnect_max_ms) before dialing that address again.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/spdlog.h>

#include "base/result.hpp"
#include "actors/admission.hpp"
#include "replication/cas_messages.hpp"
#include "replication/messages.hpp"

namespace rumor::actors {

struct transport_config {
  std::string cluster = "rumor";
  replication::node_id self = 0;
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;       // 0: any free port (the bound one is returned)
  std::string advertise;          // address announced in hello; empty: listen_host:bound port
  size_t max_frame_bytes = 64u << 20;
  size_t max_peer_backlog_bytes = 32u << 20;
  size_t max_client_backlog_bytes = 16u << 20;
  uint64_t reconnect_min_ms = 100;
  uint64_t reconnect_max_ms = 5000;
  uint64_t handshake_timeout_ms = 5000;  // a connection without hello by then is closed
  // Accepted connections still in their handshake (TLS and hello) at most; a new one beyond it
  // closes the oldest (an idle or slow handshake holds a slot for handshake_timeout_ms at most,
  // and a flood of them cannot keep a prompt client out).
  size_t max_pending_handshakes = 256;
  uint64_t connect_timeout_ms = 3000;    // background dial: give up connecting after this long
  // true: connect on a helper thread (a detached actor) so a dial to an unreachable host never
  // stalls the network thread. false: connect inline on the network thread (blocking; needed
  // with CAF's test multiplexer, which has no real sockets).
  bool background_dial = true;
  transport_credentials credentials;
  std::shared_ptr<spdlog::logger> log;   // REQUIRED
};

// Counters of one transport, answered to (caf::get_atom) with a transport_stats.
struct transport_stats {
  uint64_t open_connections = 0;  // now, any role
  uint64_t peer_connections = 0;  // now, handshaken peers
  uint64_t client_connections = 0;  // now, handshaken clients
  uint64_t accepted = 0;          // connections accepted so far
  uint64_t dialed = 0;            // outgoing connections established so far
  uint64_t dial_failures = 0;     // connects that failed
  uint64_t refused = 0;           // connections closed for a bad hello, bad frame or timeout
  uint64_t tls_failures = 0;      // TLS handshakes or sessions that failed (also counted in refused)
  uint64_t auth_refused = 0;      // hellos refused for their credentials (also counted in refused)
  uint64_t handshakes_evicted = 0;  // pending handshakes closed for a newer one (max_pending_handshakes)
  uint64_t frames_in = 0;
  uint64_t frames_out = 0;
  uint64_t dropped = 0;           // peer messages not sent: backlog full, dial backoff, no route
  uint64_t peer_bytes_in = 0;     // bytes of frames read and written on peer connections
  uint64_t peer_bytes_out = 0;    //   (and on connections before their hello)
  uint64_t client_bytes_in = 0;   // ... on client connections
  uint64_t client_bytes_out = 0;
  // Bytes of peer messages by kind: received (decoded) and encoded for sending (dropped ones
  // included). Index: the kind's index in replication::message, then the lane's kinds after them
  // (peer_kind_name names each).
  static constexpr std::size_t peer_kinds = replication::message_kinds + replication::cas_message_kinds;
  std::array<uint64_t, peer_kinds> received_bytes_by_kind{};
  std::array<uint64_t, peer_kinds> sent_bytes_by_kind{};
};

// The name of peer message kind `i` of transport_stats (e.g. "push", "cas_prepare").
inline const char* peer_kind_name(std::size_t i) {
  return i < replication::message_kinds ? replication::message_kind_names[i]
                                        : replication::cas_message_kind_names[i - replication::message_kinds];
}

struct transport_handle {
  caf::actor broker;
  uint16_t port = 0;        // the bound port
  std::string address;      // host:port announced to peers
};

// Spawns the broker listening on listen_host:listen_port; it sends peer_message and client_burst to
// `replica` and accepts (send_atom, outbox_msg), stop_atom (close everything and quit), and
// caf::get_atom (replies with transport_stats), (reload_atom, transport_credentials).
// Errors: errc::busy (port in use), errc::invalid_argument (bad host).
result<transport_handle> spawn_transport(caf::actor_system& sys, transport_config cfg, caf::actor replica);

}  // namespace rumor::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rumor::actors::transport_stats)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rumor::actors::transport_credentials)
