// The transport broker (see transport.hpp for the contract).
//
// Structure: one stateful caf::io::broker. Every connection has a serial number (never reused,
// unlike CAF's connection handles, which are socket numbers) so that late replies for a closed
// client connection can never reach a newer connection on the same socket. All handlers run on
// CAF's network thread: they only cut frames, decode, and hand work to the replica actor.
//
// Connection life: opened -> a dialed connection writes our hello at once; an accepted one waits
// for the other side's hello, checks it, and answers with our hello (role = the connection's) or
// with a refusal hello saying why, then closes (replication/wire.capnp, "handshake") -> role peer
// or client -> frames flow -> closed by either side, by a bad frame, by the handshake timer, or
// by stop. With TLS, every byte passes the connection's TLS session first, and the hello waits for
// its handshake. The handshake and admission live in transport_handshake.cpp; the types both
// files share in transport_internal.hpp.

#include "actors/transport.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <map>
#include <memory>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include <unistd.h>

#include "actors/actor_messages.hpp"
#include "actors/transport_dial.hpp"
#include "actors/transport_internal.hpp"
#include "client/client_codec.hpp"
#include "replication/wire_codec.hpp"
#include "security/tls_session.hpp"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<rumor::actors::dialed_socket>)

namespace rumor::actors {
namespace transport_internal {
// ---- small helpers ----

using replication::kind_name;

// A peer message's index in transport_stats' arrays by kind.
std::size_t kind_index(const replication::message& m) { return m.index(); }
std::size_t kind_index(const replication::cas_message& m) { return replication::message_kinds + m.index(); }

std::string node_name(node_id n) { return fmt::format("{:016x}", n); }

std::string describe(const connection& c) {
  std::string where = c.dialed.empty() ? c.remote : c.dialed;
  switch (c.kind) {
    case role::peer: return "node " + node_name(c.node) + " (" + where + ")";
    case role::client: return "client " + where;
    case role::pending: break;
  }
  return (c.dialed.empty() ? "connection from " : "connection to ") + where;
}

// Decoding and encoding never throw out of here (the codecs promise not to; this is the guard
// the platform notes ask for: an escaping kj::Exception would kill the broker).
result<replication::message> decode_peer(std::string_view frame) {
  try {
    return replication::decode_message(frame);
  } catch (const std::exception& e) {
    return error{errc::decode_error, std::string("decoder threw: ") + e.what()};
  }
}

result<replication::peer_frame> decode_any_peer(std::string_view frame) {
  try {
    return replication::decode_peer_frame(frame);
  } catch (const std::exception& e) {
    return error{errc::decode_error, std::string("decoder threw: ") + e.what()};
  }
}

result<client::client_message> decode_client_frame(std::string_view frame) {
  try {
    return client::decode_client(frame);
  } catch (const std::exception& e) {
    return error{errc::decode_error, std::string("decoder threw: ") + e.what()};
  }
}

template <class Message>
result<std::string> encode_peer(const Message& m) {
  try {
    return replication::encode_message(m);
  } catch (const std::exception& e) {
    return error{errc::too_large, std::string("encoder threw: ") + e.what()};
  }
}

connection* find(transport_state& st, uint64_t serial) {
  auto it = st.conns.find(serial);
  return it == st.conns.end() ? nullptr : &it->second;
}

connection* find(transport_state& st, caf::io::connection_handle hdl) {
  auto it = st.serial_of.find(hdl.id());
  return it == st.serial_of.end() ? nullptr : find(st, it->second);
}

caf::actor_clock::time_point now(broker_ptr self) { return self->clock().now(); }

// ---- writing ----

// Hands `bytes` to CAF as they are (ciphertext on a TLS connection).
void write_bytes(broker_ptr self, connection& c, std::string_view bytes) {
  if (bytes.empty()) return;
  self->write(c.hdl, bytes.size(), bytes.data());
  self->flush(c.hdl);
  c.backlog += bytes.size();
}

// Writes one frame (through TLS when the connection has it). A failed TLS session takes nothing:
// whoever saw it fail is closing the connection.
void write_frame(broker_ptr self, connection& c, std::string_view frame) {
  if (c.tls) {
    if (!c.tls->send(frame)) return;
    write_bytes(self, c, c.tls->take_output());
  } else {
    write_bytes(self, c, frame);
  }
  auto& stats = self->state.stats;
  ++stats.frames_out;
  (c.kind == role::client ? stats.client_bytes_out : stats.peer_bytes_out) += frame.size();
}

// Writes a peer frame unless the peer is too far behind (then drops and counts it: gossip is
// loss tolerant).
void send_to_peer(broker_ptr self, connection& c, std::string_view frame) {
  auto& st = self->state;
  if (c.backlog + frame.size() > st.cfg.max_peer_backlog_bytes) {
    ++st.stats.dropped;
    if (!c.dropping) {
      c.dropping = true;
      st.cfg.log->warn("transport: {} has {} bytes unwritten; dropping messages to it until it catches up",
                       describe(c), c.backlog);
    }
    return;
  }
  write_frame(self, c, frame);
}

// ---- connection bookkeeping ----

void dial_failed(broker_ptr self, const std::string& address, std::string_view reason) {
  auto& st = self->state;
  auto& ds = st.dials[address];
  ds.connecting = false;
  ds.serial = 0;
  ++ds.failures;
  ++st.stats.dial_failures;
  st.stats.dropped += ds.queue.size();
  size_t lost = ds.queue.size();
  ds.queue.clear();
  ds.queued_bytes = 0;
  if (ds.backoff_ms == 0) ds.backoff_ms = st.cfg.reconnect_min_ms;
  ds.retry_at = now(self) + std::chrono::milliseconds(ds.backoff_ms);
  if (ds.failures == 1)
    st.cfg.log->warn("transport: cannot reach {}: {} ({} messages dropped; retrying after {} ms)", address, reason,
                     lost, ds.backoff_ms);
  else
    st.cfg.log->debug("transport: cannot reach {} (failure {}): {}; retrying after {} ms", address, ds.failures,
                      reason, ds.backoff_ms);
  uint64_t cap = std::max(st.cfg.reconnect_max_ms, st.cfg.reconnect_min_ms);
  ds.backoff_ms = std::min(std::max<uint64_t>(ds.backoff_ms * 2, 1), cap);
}

void unwatch_all(broker_ptr self, const connection& c) {
  for (uint64_t id : c.watches) {
    client::request req;
    req.id = id;
    req.body = client::unwatch{id};
    self->send(self->state.replica, call{c.serial, std::move(req), [](client::response) {}, {}});
  }
}

// Re-points `peers[node]` at another open connection to the same node, if there is one (both
// sides may have dialed each other).
void remap_peer(transport_state& st, node_id node) {
  for (auto& [serial, c] : st.conns)
    if (c.kind == role::peer && c.node == node) {
      st.peers[node] = serial;
      return;
    }
}

// Drops every trace of connection `serial` (the socket is already closed or being closed).
void forget(broker_ptr self, uint64_t serial, std::string_view reason) {
  auto& st = self->state;
  auto it = st.conns.find(serial);
  if (it == st.conns.end()) return;
  connection c = std::move(it->second);
  st.conns.erase(it);
  if (auto h = st.serial_of.find(c.hdl.id()); h != st.serial_of.end() && h->second == serial) st.serial_of.erase(h);
  switch (c.kind) {
    case role::pending:
      if (!c.dialed.empty()) dial_failed(self, c.dialed, reason);
      break;
    case role::peer: {
      auto p = st.peers.find(c.node);
      if (p != st.peers.end() && p->second == serial) {
        st.peers.erase(p);
        remap_peer(st, c.node);
      }
      for (const auto* a : {&c.announced, &c.dialed}) {
        auto b = st.by_address.find(*a);
        if (b != st.by_address.end() && b->second == serial) st.by_address.erase(b);
      }
      break;
    }
    case role::client:
      unwatch_all(self, c);
      break;
  }
}

void close_connection(broker_ptr self, connection& c, std::string_view reason) {
  auto serial = c.serial;
  self->close(c.hdl);
  forget(self, serial, reason);
}

// Hands the requests read so far from a client connection to the replica actor: one message for
// the whole burst, in arrival order (the replica actor answers with client_out frames).
void send_burst(broker_ptr self, connection& c) {
  if (c.burst.empty()) return;
  client_burst b;
  b.session = c.serial;
  b.transport = caf::actor_cast<caf::actor>(self);
  b.requests = std::move(c.burst);
  c.burst.clear();
  self->send(self->state.replica, std::move(b));
}

// Closes a connection that broke the protocol, logging who and why. The requests read before the
// bad frame still reach the replica actor (as they did when each went on its own).
void refuse(broker_ptr self, connection& c, std::string_view problem) {
  auto& st = self->state;
  send_burst(self, c);
  ++st.stats.refused;
  st.cfg.log->warn("transport: closing {}: {}", describe(c), problem);
  close_connection(self, c, problem);
}

// Registers a new connection, writes our hello when we dialed it (an accepted one is answered
// after its hello) and arms the handshake timer. nullptr: it could not be set up (closed, logged).
connection* open_connection(broker_ptr self, caf::io::connection_handle hdl, std::string dialed) {
  auto& st = self->state;
  uint64_t serial = st.next_serial++;
  auto [it, inserted] = st.conns.try_emplace(serial, hdl, serial, st.max_frame);
  connection& c = it->second;
  c.remote = join_host_port(self->remote_addr(hdl), self->remote_port(hdl));
  c.dialed = std::move(dialed);
  st.serial_of[hdl.id()] = serial;
  self->configure_read(hdl, caf::io::receive_policy::at_most(read_chunk_bytes));
  self->ack_writes(hdl, true);
  if (st.cfg.credentials.tls) {
    auto side = c.dialed.empty() ? security::tls_side::accept : security::tls_side::connect;
    // A dialed connection: the certificate must name the host we dialed.
    std::string dialed_host;
    if (auto hp = split_host_port(c.dialed)) dialed_host = hp->first;
    auto s = security::tls_session::make(st.cfg.credentials.tls, side, dialed_host);
    if (!s) {
      ++st.stats.tls_failures;
      st.cfg.log->error("transport: no TLS session for {}: {}", describe(c), s.err().describe());
      close_connection(self, c, s.err().message);  // a dialed address backs off
      return nullptr;
    }
    c.tls = std::move(*s);
  }
  if (!c.dialed.empty()) write_frame(self, c, st.hello_frame);  // with TLS: sent after the handshake
  // Anonymous: with CAF 0.17, a timer still pending at shutdown that names the broker as its
  // sender is never freed, nor is the stopped broker with its state and buffers (LeakSanitizer).
  // The handler needs no sender.
  caf::delayed_anon_send(caf::actor_cast<caf::actor>(self), std::chrono::milliseconds(st.cfg.handshake_timeout_ms),
                         hs_timeout_atom::value, serial);
  return &c;
}

// ---- dialing ----

// Runs on its own thread (a blocking actor): connects and hands the socket to the broker, then
// ends without waiting: if the broker is gone by then, the dropped message closes the socket
// (dialed_socket), so a stopping node never waits for a dialer.
void dial_worker(caf::blocking_actor* self, caf::actor broker, std::string address, std::string host,
                 uint16_t port, uint64_t timeout_ms) {
  auto fd = connect_tcp(host, port, std::chrono::milliseconds(timeout_ms));
  auto sock = std::make_shared<dialed_socket>(fd ? *fd : -1);
  std::string why = fd ? std::string{} : fd.err().message;
  self->send(broker, dial_done_atom::value, std::move(address), std::move(sock), std::move(why));
}

void dial_connected(broker_ptr self, const std::string& address, caf::io::connection_handle hdl) {
  auto& st = self->state;
  ++st.stats.dialed;
  auto& ds = st.dials[address];
  ds.connecting = false;
  connection* c = open_connection(self, hdl, address);
  if (c == nullptr) return;
  ds.serial = c->serial;
  st.cfg.log->debug("transport: connected to {}, waiting for its hello", address);
}

// Starts connecting to `address` (REQUIRES: no dial to it in progress). On an immediate failure
// the dial state records it (backoff).
void start_dial(broker_ptr self, const std::string& address) {
  auto& st = self->state;
  auto hp = split_host_port(address);
  if (!hp) {
    dial_failed(self, address, hp.err().message);
    return;
  }
  if (st.cfg.background_dial) {
    st.dials[address].connecting = true;
    auto me = caf::actor_cast<caf::actor>(self);
    self->home_system().spawn(dial_worker, me, address, hp->first, hp->second, st.cfg.connect_timeout_ms);
    return;
  }
  auto hdl = self->add_tcp_scribe(hp->first, hp->second);
  if (!hdl) {
    dial_failed(self, address, self->home_system().render(hdl.error()));
    return;
  }
  dial_connected(self, address, *hdl);
}

// Queues `frame` for the node at `address`, dialing it unless a dial is under way or backing off.
void send_via_dial(broker_ptr self, const std::string& address, node_id to, std::string frame) {
  auto& st = self->state;
  auto& ds = st.dials[address];
  if (!ds.in_progress()) {
    if (now(self) < ds.retry_at) {
      ++st.stats.dropped;
      return;
    }
    start_dial(self, address);
    if (!st.dials[address].in_progress()) {  // failed at once
      ++st.stats.dropped;
      return;
    }
  }
  auto& q = st.dials[address];
  if (q.queued_bytes + frame.size() > st.cfg.max_peer_backlog_bytes) {
    ++st.stats.dropped;
    return;
  }
  q.queued_bytes += frame.size();
  q.queue.push_back(queued_frame{to, std::move(frame)});
}

// Delivers one outgoing message: on the node's connection, else via its address.
// Sends one encoded message to node `to` (0: whoever is at `address`) over its connection, or
// dials `address` (or the address last known for `to`) and sends it once connected.
template <class Message>
void route(broker_ptr self, node_id to, const std::string& to_address, const Message& msg) {
  auto& st = self->state;
  if (to != 0 && to == st.cfg.self) return;  // to ourselves: nothing to send
  auto frame = encode_peer(msg);
  if (!frame) {
    ++st.stats.dropped;
    st.cfg.log->error("transport: cannot encode a {} for {}: {}", kind_name(msg), to ? node_name(to) : to_address,
                      frame.err().describe());
    return;
  }
  st.stats.sent_bytes_by_kind[kind_index(msg)] += frame->size();
  if (to != 0) {
    if (auto p = st.peers.find(to); p != st.peers.end()) {
      send_to_peer(self, st.conns.at(p->second), *frame);
      return;
    }
  }
  std::string address = to_address;
  if (address.empty()) {
    if (auto a = st.addresses.find(to); a != st.addresses.end()) address = a->second;
  }
  if (address.empty()) {
    ++st.stats.dropped;
    st.cfg.log->debug("transport: no connection to and no address of node {}: {} dropped", node_name(to),
                      kind_name(msg));
    return;
  }
  if (address == st.address) return;  // our own address (e.g. a seed list naming this node)
  if (auto b = st.by_address.find(address); b != st.by_address.end()) {
    auto& c = st.conns.at(b->second);
    if (to == 0 || c.node == to) {
      send_to_peer(self, c, *frame);
    } else {
      ++st.stats.dropped;
      st.cfg.log->debug("transport: {} is now node {}, not {}: {} dropped", address, node_name(c.node),
                        node_name(to), kind_name(msg));
    }
    return;
  }
  send_via_dial(self, address, to, std::move(*frame));
}

// ---- frames after the handshake ----

void on_peer_frame(broker_ptr self, connection& c, std::string_view frame) {
  auto any = decode_any_peer(frame);
  if (!any) return refuse(self, c, "bad frame: " + any.err().describe());
  if (auto* cm = std::get_if<replication::cas_message>(&*any)) {
    self->state.stats.received_bytes_by_kind[kind_index(*cm)] += frame.size();
    self->send(self->state.replica, cas_peer_message{c.node, std::move(*cm)});
    return;
  }
  auto& m = std::get<replication::message>(*any);
  if (std::holds_alternative<replication::hello>(m)) return refuse(self, c, "a second hello");
  self->state.stats.received_bytes_by_kind[kind_index(m)] += frame.size();
  self->send(self->state.replica, peer_message{c.node, std::move(m)});
}

// Queues a client request for the burst this read is building (sent by on_new_data).
void on_client_request(connection& c, client::request req) {
  if (std::holds_alternative<client::watch>(req.body)) c.watches.insert(req.id);
  if (auto* u = std::get_if<client::unwatch>(&req.body)) c.watches.erase(u->watch_id);
  c.burst.push_back(std::move(req));
}

void on_client_frame(broker_ptr self, connection& c, std::string_view frame) {
  auto m = decode_client_frame(frame);
  if (!m) {
    // A well-formed request the node cannot read costs that request only: it is answered with
    // decode_error, and the connection and the other requests on it go on. Any other bad frame
    // closes the connection (client.capnp, "Errors").
    if (auto id = client::request_id_of(frame)) {
      client::response r;
      r.id = *id;
      r.code = errc::decode_error;
      r.message = "request " + std::to_string(*id) + " refused: " + m.err().message;
      write_frame(self, c, client::encode_client(client::client_message{std::move(r)}));
      return;
    }
    return refuse(self, c, "bad client frame: " + m.err().describe());
  }
  auto* req = std::get_if<client::request>(&*m);
  if (req == nullptr) return refuse(self, c, "a client sent a response or an event, not a request");
  on_client_request(c, std::move(*req));
}

void on_frame(broker_ptr self, connection& c, std::string_view frame) {
  switch (c.kind) {
    case role::pending: return on_first_frame(self, c, frame);
    case role::peer: return on_peer_frame(self, c, frame);
    case role::client: return on_client_frame(self, c, frame);
  }
}

// Cuts and handles every whole frame buffered on connection `serial`; stops when it is closed.
void drain_frames(broker_ptr self, uint64_t serial) {
  auto& st = self->state;
  while (connection* c = find(st, serial)) {
    auto f = c->reader.next();
    if (!f) return refuse(self, *c, "unreadable frame header: " + f.err().describe());
    if (!*f) return;
    ++st.stats.frames_in;
    (c->kind == role::client ? st.stats.client_bytes_in : st.stats.peer_bytes_in) += (*f)->size();
    on_frame(self, *c, **f);
  }
}

// ---- handlers ----

void on_new_data(broker_ptr self, caf::io::new_data_msg& msg) {
  auto& st = self->state;
  connection* c = find(st, msg.handle);
  if (c == nullptr) return;
  uint64_t serial = c->serial;
  try {
    std::string_view data(msg.buf.data(), msg.buf.size());
    if (!take_bytes(self, *c, data)) return;
    drain_frames(self, serial);
    c = find(st, serial);
    if (c != nullptr) send_burst(self, *c);
    if (c != nullptr && c->kind == role::pending && c->reader.buffered() > max_hello_bytes)
      refuse(self, *c, fmt::format("more than {} bytes before a complete hello", max_hello_bytes));
  } catch (const std::exception& e) {  // never let one connection take the broker down
    if (connection* still = find(st, serial)) refuse(self, *still, std::string("internal error: ") + e.what());
  }
}

// `frames`: one or more whole client frames (the replica actor's answers of one step).
void on_client_out(broker_ptr self, uint64_t serial, const std::string& frame) {
  auto& st = self->state;
  connection* c = find(st, serial);
  if (c == nullptr || c->kind != role::client) return;  // gone: drop the late reply
  if (c->backlog > st.cfg.max_client_backlog_bytes && !c->watches.empty())
    return refuse(self, *c, fmt::format("watcher fell behind ({} bytes unwritten)", c->backlog));
  write_frame(self, *c, frame);
  if (c->backlog > st.cfg.max_client_backlog_bytes && !c->paused) {
    c->paused = true;
    self->halt(c->hdl);
    st.cfg.log->debug("transport: {} has {} bytes unwritten; not reading from it until they drain", describe(*c),
                      c->backlog);
  }
}

// Runs synchronously inside CAF's write path: only bookkeeping here (no close/quit; see the
// platform notes), the rest is deferred by a message to ourselves.
void on_transferred(broker_ptr self, const caf::io::data_transferred_msg& m) {
  auto& st = self->state;
  connection* c = find(st, m.handle);
  if (c == nullptr) return;
  c->backlog = static_cast<size_t>(m.remaining);
  if (c->paused && c->backlog <= st.cfg.max_client_backlog_bytes / 2)
    self->send(self, resume_atom::value, c->serial);
  if (c->dropping && c->backlog <= st.cfg.max_peer_backlog_bytes / 2) c->dropping = false;
}

void on_resume(broker_ptr self, uint64_t serial) {
  auto& st = self->state;
  connection* c = find(st, serial);
  if (c == nullptr || !c->paused || c->backlog > st.cfg.max_client_backlog_bytes / 2) return;
  c->paused = false;
  self->trigger(c->hdl);
}

void on_dial_done(broker_ptr self, const std::string& address, dialed_socket& sock, const std::string& why) {
  auto& st = self->state;
  if (st.stopped) return;  // sock closes itself
  int fd = sock.take();
  if (fd < 0) return dial_failed(self, address, why);
  dial_connected(self, address, self->add_scribe(caf::io::network::native_socket{fd}));
}

transport_stats current_stats(const transport_state& st) {
  transport_stats s = st.stats;
  s.open_connections = st.conns.size();
  s.peer_connections = 0;
  s.client_connections = 0;
  for (const auto& [serial, c] : st.conns) {
    if (c.kind == role::peer) ++s.peer_connections;
    if (c.kind == role::client) ++s.client_connections;
  }
  return s;
}

void stop(broker_ptr self) {
  auto& st = self->state;
  if (st.stopped) return;
  st.stopped = true;
  st.cfg.log->debug("transport: stopping ({} connections)", st.conns.size());
  self->close_all();  // pending writes still drain
  st.conns.clear();
  st.serial_of.clear();
  self->quit();
}

caf::behavior transport_broker(broker_ptr self, caf::io::doorman_ptr listener, transport_config cfg,
                               caf::actor replica, std::string address) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.replica = std::move(replica);
  st.address = std::move(address);
  st.max_frame = std::clamp<size_t>(st.cfg.max_frame_bytes, 64, replication::max_frame_bytes);
  st.hello_frame = replication::encode_message(our_hello(st, false));
  self->add_doorman(std::move(listener));
  self->monitor(st.replica);
  self->set_down_handler([=](caf::down_msg& dm) {
    if (dm.source != self->state.replica) return;
    self->state.cfg.log->debug("transport: the replica actor is gone; stopping");
    stop(self);
  });
  return {
      [=](const caf::io::new_connection_msg& m) {
        ++self->state.stats.accepted;
        evict_pending_beyond(self, std::max<size_t>(self->state.cfg.max_pending_handshakes, 1) - 1);
        if (connection* c = open_connection(self, m.handle, {}))
          self->state.cfg.log->debug("transport: accepted {}", describe(*c));
      },
      [=](caf::io::new_data_msg& m) { on_new_data(self, m); },
      [=](const caf::io::connection_closed_msg& m) {
        connection* c = find(self->state, m.handle);
        if (c == nullptr) return;
        self->state.cfg.log->debug("transport: {} closed by the other side", describe(*c));
        forget(self, c->serial, "closed by the other side");
      },
      [=](const caf::io::acceptor_closed_msg&) {
        self->state.cfg.log->error("transport: the listener on {} closed; no new connections", self->state.address);
      },
      [=](const caf::io::data_transferred_msg& m) { on_transferred(self, m); },
      [=](send_atom, outbox_msg& out) {
        for (auto& o : out.messages) route(self, o.to, o.address, o.msg);
      },
      [=](send_atom, cas_outbox_msg& out) {
        for (auto& o : out.messages) route(self, o.to, o.address, o.msg);
      },
      [=](client_out_atom, uint64_t serial, const std::string& frame) { on_client_out(self, serial, frame); },
      [=](hs_timeout_atom, uint64_t serial) {
        connection* c = find(self->state, serial);
        if (c != nullptr && c->kind == role::pending)
          refuse(self, *c, fmt::format("no hello within {} ms", self->state.cfg.handshake_timeout_ms));
      },
      [=](resume_atom, uint64_t serial) { on_resume(self, serial); },
      [=](dial_done_atom, const std::string& addr, const std::shared_ptr<dialed_socket>& sock,
          const std::string& why) {
        if (sock) on_dial_done(self, addr, *sock, why);
      },
      [=](caf::get_atom) { return current_stats(self->state); },
      [=](reload_atom, transport_credentials& cred) {
        auto& st = self->state;
        st.cfg.log->info("transport: new credentials for new connections (TLS {}, {} client tokens)",
                         cred.tls ? "on" : "off", cred.client_tokens.size());
        st.cfg.credentials = std::move(cred);
      },
      [=](stop_atom) { stop(self); },
  };
}

}  // namespace transport_internal

using transport_internal::transport_broker;

result<transport_handle> spawn_transport(caf::actor_system& sys, transport_config cfg, caf::actor replica) {
  if (!cfg.log) return error{errc::invalid_argument, "transport: no logger given"};
  if (!replica) return error{errc::invalid_argument, "transport: no replica actor given"};
  if (cfg.listen_host.empty() || !resolvable(cfg.listen_host))
    return error{errc::invalid_argument, "cannot listen on '" + cfg.listen_host + "': not a known host or address"};
  auto& mm = sys.middleman();
  auto listener = mm.backend().new_tcp_doorman(cfg.listen_port, cfg.listen_host.c_str(), true);
  if (!listener)
    return error{errc::busy, "cannot listen on " + join_host_port(cfg.listen_host, cfg.listen_port) +
                                 " (port in use, or not an address of this machine): " + sys.render(listener.error())};
  uint16_t port = (*listener)->port();
  std::string address = cfg.advertise.empty() ? join_host_port(cfg.listen_host, port) : cfg.advertise;
  if (cfg.advertise.empty() && (cfg.listen_host == "0.0.0.0" || cfg.listen_host == "::"))
    cfg.log->warn("transport: listening on {} but announcing {}; set an advertise address peers can reach",
                  join_host_port(cfg.listen_host, port), address);
  auto broker = mm.spawn_broker(transport_broker, std::move(*listener), std::move(cfg), std::move(replica), address);
  return transport_handle{std::move(broker), port, std::move(address)};
}

}  // namespace rumor::actors
