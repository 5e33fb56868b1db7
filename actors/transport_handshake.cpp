// The transport broker's handshake (see transport.hpp for the contract): TLS at the byte level,
// the hello and who is admitted (actors/admission.hpp decides; this file carries it out).

#include <algorithm>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "actors/admission.hpp"
#include "actors/transport_internal.hpp"

namespace rumor::actors::transport_internal {

using replication::kind_name;

namespace {

// A dialed connection completed its handshake: deliver what waited for it.
void flush_dial_queue(broker_ptr self, connection& c) {
  auto& st = self->state;
  auto& ds = st.dials[c.dialed];
  if (ds.failures > 0) st.cfg.log->info("transport: reached {} again after {} failed attempts", c.dialed, ds.failures);
  ds.serial = 0;
  ds.failures = 0;
  ds.backoff_ms = st.cfg.reconnect_min_ms;
  std::vector<queued_frame> queue = std::move(ds.queue);
  ds.queue.clear();
  ds.queued_bytes = 0;
  st.by_address[c.dialed] = c.serial;
  for (auto& q : queue) {
    if (q.to == 0 || q.to == c.node) {
      send_to_peer(self, c, q.frame);
    } else {
      ++st.stats.dropped;
      st.cfg.log->debug("transport: {} is node {}, not {}: a queued message dropped", c.dialed, node_name(c.node),
                        node_name(q.to));
    }
  }
}

void accept_peer(broker_ptr self, connection& c, const replication::hello& h) {
  auto& st = self->state;
  c.kind = role::peer;
  c.node = h.node;
  c.announced = h.address;
  st.peers[h.node] = c.serial;
  if (!h.address.empty()) {
    st.addresses[h.node] = h.address;
    st.by_address[h.address] = c.serial;
  }
  st.cfg.log->debug("transport: {} handshaken ({})", describe(c), c.dialed.empty() ? "inbound" : "outbound");
  if (!c.dialed.empty()) flush_dial_queue(self, c);
}

}  // namespace

replication::hello our_hello(const transport_state& st, bool client) {
  replication::hello h;
  h.cluster = st.cfg.cluster;
  h.node = st.cfg.self;
  h.version = client ? replication::client_protocol_version : replication::protocol_version;
  h.address = st.address;
  h.client = client;
  return h;
}

namespace {

// Refuses a connection during the handshake: an accepted connection is first told why (a hello
// with the refusal, wire.capnp: `told`, or `problem` when that is empty), then closed; a dialed one
// is closed. `problem` goes to the log.
void refuse_hello(broker_ptr self, connection& c, errc code, const std::string& problem, const std::string& told = {}) {
  auto& st = self->state;
  if (c.dialed.empty()) {
    replication::hello no = our_hello(st, false);
    no.version = replication::client_protocol_version;  // the refused may be a client (a peer is refused either way)
    no.refusal = told.empty() ? problem : told;
    no.refusal_code = code;
    write_frame(self, c, replication::encode_message(no));
  }
  refuse(self, c, problem);
}

}  // namespace

void on_first_frame(broker_ptr self, connection& c, std::string_view frame) {
  auto& st = self->state;
  auto m = decode_peer(frame);
  if (!m)
    return refuse_hello(self, c, errc::invalid_argument, "bad first frame (expected a hello): " + m.err().describe());
  const auto* h = std::get_if<replication::hello>(&*m);
  if (h == nullptr)
    return refuse_hello(self, c, errc::invalid_argument,
                        std::string("the first frame is a ") + kind_name(*m) + ", not a hello");
  if (!h->refusal.empty())  // the node we dialed refused us
    return refuse(self, c, fmt::format("it refused this node ({}): {}", to_string(h->refusal_code), h->refusal));
  const uint32_t expected = h->client ? replication::client_protocol_version : replication::protocol_version;
  const bool client_version_ok = h->client && h->version >= replication::min_client_protocol_version &&
                                 h->version <= replication::client_protocol_version;
  if (h->version != expected && !client_version_ok)
    return refuse_hello(self, c, errc::unsupported_version,
                        h->client ? fmt::format("it speaks client protocol version {}, this node speaks versions {}..{}",
                                                h->version, replication::min_client_protocol_version, expected)
                                  : fmt::format("it speaks protocol version {}, this node speaks version {}", h->version,
                                                expected));
  if (h->client) {
    if (!c.dialed.empty()) return refuse(self, c, "the node we dialed answered as a client");
    if (!h->cluster.empty() && h->cluster != st.cfg.cluster)
      return refuse_hello(self, c, errc::invalid_argument,
                          fmt::format("client for cluster '{}', this node is in cluster '{}'", h->cluster,
                                      st.cfg.cluster));
    if (auto why = client_refusal(st.cfg.credentials, c.tls.get(), *h)) {
      ++st.stats.auth_refused;
      return refuse_hello(self, c, errc::unauthenticated,
                          "authentication failed: " + *why,
                          "authentication failed (this node accepts a client certificate of its CA or a valid token)");
    }
    c.kind = role::client;
    // Accepted: our hello says role = client, what the connection was accepted as, and the
    // client's version (an older client checks that it is its own; it sends nothing newer).
    replication::hello yes = our_hello(st, true);
    yes.version = h->version;
    write_frame(self, c, replication::encode_message(yes));
    st.cfg.log->debug("transport: {} connected", describe(c));
    return;
  }
  if (h->cluster != st.cfg.cluster)
    return refuse_hello(self, c, errc::invalid_argument,
                        fmt::format("node {} is in cluster '{}', this node is in cluster '{}'", node_name(h->node),
                                    h->cluster, st.cfg.cluster));
  if (h->node == st.cfg.self)
    return refuse_hello(self, c, errc::invalid_argument, "it is this node itself (same node id)");
  if (auto why = peer_refusal(c.tls.get(), *h)) {
    ++st.stats.auth_refused;
    return refuse_hello(self, c, errc::unauthenticated, "authentication failed: " + *why,
                        "authentication failed (a node certificate of this cluster's CA naming the announced host)");
  }
  if (c.dialed.empty()) write_frame(self, c, st.hello_frame);
  accept_peer(self, c, *h);
}

void evict_pending_beyond(broker_ptr self, size_t keep) {
  auto& st = self->state;
  std::vector<uint64_t> pending;  // by serial: oldest first
  for (const auto& [serial, c] : st.conns)
    if (c.kind == role::pending && c.dialed.empty()) pending.push_back(serial);
  if (pending.size() <= keep) return;
  size_t evict = pending.size() - keep;
  if (st.stats.handshakes_evicted == 0 || evict > 1)
    st.cfg.log->warn("transport: {} connections are in their handshake; closing the {} oldest", pending.size(), evict);
  for (size_t i = 0; i < evict; ++i) {
    ++st.stats.handshakes_evicted;
    if (connection* c = find(st, pending[i])) close_connection(self, *c, "too many pending handshakes");
  }
}

// The first byte of a TLS connection is a handshake record's type (22).
constexpr char tls_handshake_record = 0x16;

bool take_bytes(broker_ptr self, connection& c, std::string_view data) {
  auto& st = self->state;
  bool first = !c.saw_data && !data.empty();
  c.saw_data = c.saw_data || !data.empty();
  if (!c.tls) {
    if (first && c.kind == role::pending && data.front() == tls_handshake_record) {
      refuse(self, c, "it speaks TLS, and this node has no TLS configured (--tls-ca, --tls-cert, --tls-key)");
      return false;
    }
    c.reader.feed(data);
    return true;
  }
  if (first && c.dialed.empty() && data.front() != tls_handshake_record) {
    // A plaintext hello (a client or node without TLS): told in plaintext, which it can read.
    replication::hello no = our_hello(st, false);
    no.version = replication::client_protocol_version;
    no.refusal = "this node requires TLS (connect with --tls-ca, and a client certificate or a token)";
    no.refusal_code = errc::unavailable;
    write_bytes(self, c, replication::encode_message(no));
    ++st.stats.tls_failures;
    refuse(self, c, "it did not start a TLS handshake (a plaintext client or node?)");
    return false;
  }
  std::string plain;
  auto st_rx = c.tls->receive(data, plain);
  write_bytes(self, c, c.tls->take_output());  // handshake messages, or the alert of a failure
  if (!st_rx) {
    ++st.stats.tls_failures;
    refuse(self, c, st_rx.err().message);
    return false;
  }
  c.reader.feed(plain);
  return true;
}

}  // namespace rumor::actors::transport_internal
