#include "replication/wire_codec.hpp"

#include <algorithm>
#include <utility>

#include "replication/capnp_frame.hpp"
#include "replication/wire.capnp.h"

namespace rumor::replication {

namespace w = wire;

namespace {

// The union ordinals of wire::Message follow the alternatives of `message` (the spec says so; see
// ordinal_of_alternative).
template <class T> struct kind_of;
#define RUMOR_WIRE_KIND(T, K) \
  template <> struct kind_of<T> { static constexpr w::Message::Which value = w::Message::K; };
RUMOR_WIRE_KIND(hello, HELLO)
RUMOR_WIRE_KIND(ping, PING)
RUMOR_WIRE_KIND(ack, ACK)
RUMOR_WIRE_KIND(ping_req, PING_REQ)
RUMOR_WIRE_KIND(join_request, JOIN_REQUEST)
RUMOR_WIRE_KIND(join_response, JOIN_RESPONSE)
RUMOR_WIRE_KIND(push, PUSH)
RUMOR_WIRE_KIND(push_ack, PUSH_ACK)
RUMOR_WIRE_KIND(sync_request, SYNC_REQUEST)
RUMOR_WIRE_KIND(sync_response, SYNC_RESPONSE)
RUMOR_WIRE_KIND(read_request, READ_REQUEST)
RUMOR_WIRE_KIND(read_response, READ_RESPONSE)
RUMOR_WIRE_KIND(state_push, STATE_PUSH)
RUMOR_WIRE_KIND(recon_request, RECON_REQUEST)
RUMOR_WIRE_KIND(recon_buckets, RECON_BUCKETS)
RUMOR_WIRE_KIND(full_sync_request, FULL_SYNC_REQUEST)
RUMOR_WIRE_KIND(full_sync_chunk, FULL_SYNC_CHUNK)
RUMOR_WIRE_KIND(set_recon_request, SET_RECON_REQUEST)
RUMOR_WIRE_KIND(set_recon_answer, SET_RECON_ANSWER)
#undef RUMOR_WIRE_KIND

// Ordinals 17-21 are the compare-and-set lane's (cas_message); the alternatives after them follow.
constexpr size_t ordinal_of_alternative(size_t i) { return i < 17 ? i : i + 5; }
template <size_t... I>
constexpr bool ordinals_match(std::index_sequence<I...>) {
  return ((static_cast<size_t>(kind_of<std::variant_alternative_t<I, message>>::value) == ordinal_of_alternative(I)) &&
          ...);
}
static_assert(ordinals_match(std::make_index_sequence<std::variant_size_v<message>>{}),
              "wire.capnp Message union ordinals must follow the alternatives of replication::message");

// ---------------------------------------------------------------------------------------------
// Encoding

kj::ArrayPtr<const kj::byte> data_of(const std::string& s) {
  return {reinterpret_cast<const kj::byte*>(s.data()), s.size()};
}

// Keeps every byte (std::string is NUL-terminated; embedded NULs survive, unlike c_str()).
capnp::Text::Reader text_of(const std::string& s) { return {s.data(), s.size()}; }

unsigned count(size_t n) { return static_cast<unsigned>(n); }  // REQUIRES: n < 2^29

void put(w::MemberUpdate::Builder b, const member_update& m) {
  b.setId(m.id);
  b.setAddress(text_of(m.address));
  b.setIncarnation(m.incarnation);
  b.setStatus(static_cast<w::MemberStatus>(static_cast<uint16_t>(m.status)));
}

void put(capnp::List<w::MemberUpdate>::Builder l, const std::vector<member_update>& v) {
  for (unsigned i = 0; i < l.size(); ++i) put(l[i], v[i]);
}

void put(capnp::List<w::VvEntry>::Builder l, const version_vector& vv) {
  unsigned i = 0;
  for (const auto& [node, counter] : vv.entries()) {
    l[i].setNode(node);
    l[i++].setCounter(counter);
  }
}

void put(capnp::List<w::DeltaEntry>::Builder l, const std::vector<delta_entry>& v) {
  for (unsigned i = 0; i < l.size(); ++i) {
    auto b = l[i];
    const delta_entry& d = v[i];
    b.setOrigin(d.origin);
    b.setSeq(d.seq);
    b.setKey(data_of(d.record.key));
    b.setType(static_cast<w::CrdtType>(static_cast<uint16_t>(d.record.type)));
    b.setHlc(d.record.hlc);
    b.setDelta(data_of(d.record.delta));
    put(b.initDeps(count(d.record.deps.size())), d.record.deps);
  }
}

void put(capnp::List<w::KeyState>::Builder l, const std::vector<key_state>& v) {
  for (unsigned i = 0; i < l.size(); ++i) {
    l[i].setKey(data_of(v[i].key));
    l[i].setValue(data_of(v[i].value));
  }
}

void put(capnp::List<capnp::Data>::Builder l, const std::vector<std::string>& v) {
  for (unsigned i = 0; i < l.size(); ++i) l.set(i, data_of(v[i]));
}

void put_body(w::Message::Builder m, const hello& x) {
  auto b = m.initHello();
  b.setCluster(text_of(x.cluster));
  b.setNode(x.node);
  b.setVersion(x.version);
  b.setAddress(text_of(x.address));
  b.setRole(x.client ? w::Role::CLIENT : w::Role::PEER);
  if (!x.refusal.empty()) {
    b.setRefusal(text_of(x.refusal));
    b.setRefusalCode(static_cast<uint16_t>(x.refusal_code));
  }
}

void put_body(w::Message::Builder m, const ping& x) {
  auto b = m.initPing();
  b.setProbe(x.probe);
  put(b.initGossip(count(x.gossip.size())), x.gossip);
  b.setSentMs(x.sent_ms);
}

void put_body(w::Message::Builder m, const ack& x) {
  auto b = m.initAck();
  b.setProbe(x.probe);
  b.setTarget(x.target);
  put(b.initGossip(count(x.gossip.size())), x.gossip);
  b.setEchoMs(x.echo_ms);
  b.setNowMs(x.now_ms);
}

void put_body(w::Message::Builder m, const ping_req& x) {
  auto b = m.initPingReq();
  b.setProbe(x.probe);
  b.setTarget(x.target);
  b.setTargetAddress(text_of(x.target_address));
  put(b.initGossip(count(x.gossip.size())), x.gossip);
}

void put_body(w::Message::Builder m, const join_request& x) {
  put(m.initJoinRequest().initMember(), x.self);
}

void put_body(w::Message::Builder m, const join_response& x) {
  put(m.initJoinResponse().initMembers(count(x.members.size())), x.members);
}

void put_body(w::Message::Builder m, const push& x) {
  auto b = m.initPush();
  put(b.initDeltas(count(x.deltas.size())), x.deltas);
  b.setWantAck(x.want_ack);
}

void put_body(w::Message::Builder m, const push_ack& x) {
  put(m.initPushAck().initApplied(count(x.applied.size())), x.applied);
}

void put_body(w::Message::Builder m, const sync_request& x) {
  put(m.initSyncRequest().initVv(count(x.vv.size())), x.vv);
}

void put_body(w::Message::Builder m, const sync_response& x) {
  auto b = m.initSyncResponse();
  put(b.initVv(count(x.vv.size())), x.vv);
  put(b.initDeltas(count(x.deltas.size())), x.deltas);
  b.setMore(x.more);
  auto t = b.initTruncated(count(x.truncated.size()));
  for (unsigned i = 0; i < t.size(); ++i) t.set(i, x.truncated[i]);
}

void put_body(w::Message::Builder m, const read_request& x) {
  auto b = m.initReadRequest();
  b.setId(x.id);
  b.setKey(data_of(x.key));
}

void put_body(w::Message::Builder m, const read_response& x) {
  auto b = m.initReadResponse();
  b.setId(x.id);
  put(b.initValues(count(x.values.size())), x.values);
}

void put(capnp::List<uint64_t>::Builder l, const std::vector<uint64_t>& v) {
  for (unsigned i = 0; i < l.size(); ++i) l.set(i, v[i]);
}

void put_body(w::Message::Builder m, const state_push& x) {
  auto b = m.initStatePush();
  b.setSession(x.session);
  put(b.initStates(count(x.states.size())), x.states);
  put(b.initWanted(count(x.wanted.size())), x.wanted);
  if (!x.wanted_hashes.empty()) put(b.initWantedHashes(count(x.wanted_hashes.size())), x.wanted_hashes);
}

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_le64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// ReconRequest.packedCells: counts and id sums are small (ids are bucket numbers), so varints
// save about a third of the 32 bytes a cell takes in List(IbltCell).
std::string pack_cells(const std::vector<iblt_cell>& cells) {
  std::string out;
  out.reserve(cells.size() * 22);
  for (const iblt_cell& c : cells) {
    auto n = static_cast<uint64_t>(c.count);
    put_varint(out, (n << 1) ^ static_cast<uint64_t>(c.count >> 63));  // zigzag
    put_varint(out, c.id_sum);
    put_le64(out, c.digest_sum);
    put_le64(out, c.hash_sum);
  }
  return out;
}

void put_body(w::Message::Builder m, const recon_request& x) {
  auto b = m.initReconRequest();
  b.setSession(x.session);
  if (!x.cells.empty()) b.setPackedCells(data_of(pack_cells(x.cells)));
}

void put_body(w::Message::Builder m, const recon_buckets& x) {
  auto b = m.initReconBuckets();
  b.setSession(x.session);
  b.setDecoded(x.decoded);
  auto l = b.initBuckets(count(x.buckets.size()));
  for (unsigned i = 0; i < l.size(); ++i) {
    const bucket_keys& bk = x.buckets[i];
    l[i].setBucket(bk.bucket);
    auto keys = l[i].initKeys(count(bk.keys.size()));
    for (unsigned j = 0; j < keys.size(); ++j) {
      keys[j].setKey(data_of(bk.keys[j].key));
      keys[j].setValueHash(bk.keys[j].value_hash);
    }
  }
  if (!x.hashed_buckets.empty()) {
    auto hb = b.initHashedBuckets(count(x.hashed_buckets.size()));
    for (unsigned i = 0; i < hb.size(); ++i) hb.set(i, x.hashed_buckets[i]);
  }
  if (!x.hashed.empty()) {
    auto hk = b.initHashedKeys(count(x.hashed.size()));
    for (unsigned i = 0; i < hk.size(); ++i) {
      hk[i].setKeyHash(x.hashed[i].key_hash);
      hk[i].setValueHash(x.hashed[i].value_hash);
    }
  }
}

void put_body(w::Message::Builder m, const full_sync_request& x) {
  auto b = m.initFullSyncRequest();
  b.setSession(x.session);
  b.setAfterKey(data_of(x.after_key));
}

void put_body(w::Message::Builder m, const full_sync_chunk& x) {
  auto b = m.initFullSyncChunk();
  b.setSession(x.session);
  put(b.initStates(count(x.states.size())), x.states);
  b.setDone(x.done);
}

void put_body(w::Message::Builder m, const set_recon_request& x) {
  auto b = m.initSetReconRequest();
  b.setSession(x.session);
  b.setKey(data_of(x.key));
  if (!x.cells.empty()) b.setPackedCells(data_of(pack_cells(x.cells)));
  b.setAfter(data_of(x.after));
}

void put_body(w::Message::Builder m, const set_recon_answer& x) {
  auto b = m.initSetReconAnswer();
  b.setSession(x.session);
  b.setKey(data_of(x.key));
  switch (x.status) {
    case set_recon_status::ok: b.setStatus(w::SetReconStatus::OK); break;
    case set_recon_status::undecoded: b.setStatus(w::SetReconStatus::UNDECODED); break;
    case set_recon_status::absent: b.setStatus(w::SetReconStatus::ABSENT); break;
  }
  auto ids = b.initIds(count(x.ids.size()));
  for (unsigned i = 0; i < ids.size(); ++i) ids.set(i, x.ids[i]);
  b.setState(data_of(x.state));
  b.setMore(x.more);
  b.setLast(data_of(x.last));
  b.setPage(x.page);
  b.setCells(x.cells);
}

void put(w::Ballot::Builder b, const ballot& x) {
  b.setCounter(x.counter);
  b.setNode(x.node);
}

void put(w::CasValue::Builder b, const cas_value& v) {
  if (v) b.setBytes(data_of(*v));
  else b.setAbsent();
}

void put(capnp::List<w::Ballot>::Builder l, const std::vector<ballot>& v) {
  for (unsigned i = 0; i < l.size(); ++i) put(l[i], v[i]);
}

void put_body(w::Message::Builder m, const cas_prepare& x) {
  auto b = m.initCasPrepare();
  b.setKey(data_of(x.key));
  put(b.initBallot(), x.b);
}

void put_body(w::Message::Builder m, const cas_promise& x) {
  auto b = m.initCasPromise();
  b.setKey(data_of(x.key));
  put(b.initBallot(), x.b);
  put(b.initAccepted(), x.accepted);
  put(b.initValue(), x.value);
  put(b.initLineage(count(x.lineage.size())), x.lineage);
}

void put_body(w::Message::Builder m, const cas_accept& x) {
  auto b = m.initCasAccept();
  b.setKey(data_of(x.key));
  put(b.initBallot(), x.b);
  put(b.initValue(), x.value);
  put(b.initLineage(count(x.lineage.size())), x.lineage);
  put(b.initNext(), x.next);
}

void put_body(w::Message::Builder m, const cas_accepted& x) {
  auto b = m.initCasAccepted();
  b.setKey(data_of(x.key));
  put(b.initBallot(), x.b);
}

void put_body(w::Message::Builder m, const cas_nack& x) {
  auto b = m.initCasNack();
  b.setKey(data_of(x.key));
  put(b.initBallot(), x.b);
  put(b.initPromised(), x.promised);
}

// ---------------------------------------------------------------------------------------------
// Decoding. A violation throws (violation(), capnp_frame.hpp) and never escapes decode_message;
// capnp's kj::Exception for malformed structure is caught at the same place.

class decoder {
 public:
  explicit decoder(size_t element_budget) : budget_(element_budget) {}

  message get(w::Message::Reader r) {
    switch (r.which()) {
      case w::Message::HELLO: return get(r.getHello());
      case w::Message::PING: return get(r.getPing());
      case w::Message::ACK: return get(r.getAck());
      case w::Message::PING_REQ: return get(r.getPingReq());
      case w::Message::JOIN_REQUEST: return get(r.getJoinRequest());
      case w::Message::JOIN_RESPONSE: return get(r.getJoinResponse());
      case w::Message::PUSH: return get(r.getPush());
      case w::Message::PUSH_ACK: return get(r.getPushAck());
      case w::Message::SYNC_REQUEST: return get(r.getSyncRequest());
      case w::Message::SYNC_RESPONSE: return get(r.getSyncResponse());
      case w::Message::READ_REQUEST: return get(r.getReadRequest());
      case w::Message::READ_RESPONSE: return get(r.getReadResponse());
      case w::Message::STATE_PUSH: return get(r.getStatePush());
      case w::Message::RECON_REQUEST: return get(r.getReconRequest());
      case w::Message::RECON_BUCKETS: return get(r.getReconBuckets());
      case w::Message::FULL_SYNC_REQUEST: return get(r.getFullSyncRequest());
      case w::Message::FULL_SYNC_CHUNK: return get(r.getFullSyncChunk());
      case w::Message::SET_RECON_REQUEST: return get(r.getSetReconRequest());
      case w::Message::SET_RECON_ANSWER: return get(r.getSetReconAnswer());
      case w::Message::CAS_PREPARE:
      case w::Message::CAS_PROMISE:
      case w::Message::CAS_ACCEPT:
      case w::Message::CAS_ACCEPTED:
      case w::Message::CAS_NACK: violation("a compare-and-set lane message where a gossip message was expected");
    }
    violation("unknown message kind " + std::to_string(static_cast<unsigned>(r.which())));
  }

  peer_frame get_any(w::Message::Reader r) {
    switch (r.which()) {
      case w::Message::CAS_PREPARE: {
        auto x = r.getCasPrepare();
        return cas_message{cas_prepare{key(x.getKey()), proposal(x.getBallot())}};
      }
      case w::Message::CAS_PROMISE: {
        auto x = r.getCasPromise();
        return cas_message{cas_promise{key(x.getKey()), proposal(x.getBallot()), get(x.getAccepted()),
                                       get(x.getValue()), get(x.getLineage())}};
      }
      case w::Message::CAS_ACCEPT: {
        auto x = r.getCasAccept();
        return cas_message{cas_accept{key(x.getKey()), proposal(x.getBallot()), get(x.getValue()),
                                      get(x.getLineage()), get(x.getNext())}};
      }
      case w::Message::CAS_ACCEPTED: {
        auto x = r.getCasAccepted();
        return cas_message{cas_accepted{key(x.getKey()), proposal(x.getBallot())}};
      }
      case w::Message::CAS_NACK: {
        auto x = r.getCasNack();
        return cas_message{cas_nack{key(x.getKey()), proposal(x.getBallot()), get(x.getPromised())}};
      }
      default: return get(r);
    }
  }

 private:
  // Charges `n` decoded list elements against the budget (one per word of the frame).
  void take(size_t n) {
    if (n > budget_) violation("lists hold more elements than the frame has words");
    budget_ -= n;
  }

  std::string key(capnp::Data::Reader k) {
    if (k.size() == 0) violation("compare-and-set message with an empty key");
    if (k.size() > max_cas_key_bytes)
      violation("compare-and-set key of " + std::to_string(k.size()) + " bytes (at most " +
                std::to_string(max_cas_key_bytes) + ")");
    return str(k);
  }

  ballot get(w::Ballot::Reader r) {
    ballot b{r.getCounter(), r.getNode()};
    if (!b.is_zero() && (b.counter == 0 || b.node == 0))
      violation("ballot {" + std::to_string(b.counter) + ", " + std::to_string(b.node) +
                "}: a real ballot has counter >= 1 and node != 0");
    return b;
  }

  // The ballot a lane message is about: never zero.
  ballot proposal(w::Ballot::Reader r) {
    ballot b = get(r);
    if (b.is_zero()) violation("compare-and-set message about the zero ballot");
    return b;
  }

  cas_value get(w::CasValue::Reader r) {
    switch (r.which()) {
      case w::CasValue::ABSENT: return std::nullopt;
      case w::CasValue::BYTES: {
        auto d = r.getBytes();
        if (d.size() > max_cas_value_bytes)
          violation("compare-and-set value of " + std::to_string(d.size()) + " bytes (at most " +
                    std::to_string(max_cas_value_bytes) + ")");
        return str(d);
      }
    }
    violation("unknown compare-and-set value kind");
  }

  std::vector<ballot> get(capnp::List<w::Ballot>::Reader l) {
    if (l.size() > cas_max_lineage)
      violation("lineage of " + std::to_string(l.size()) + " ballots (at most " + std::to_string(cas_max_lineage) + ")");
    take(l.size());
    std::vector<ballot> out;
    out.reserve(l.size());
    for (auto b : l) out.push_back(proposal(b));
    return out;
  }

  member_update get(w::MemberUpdate::Reader r) {
    member_update m;
    m.id = r.getId();
    if (m.id == 0) violation("member update with node id 0");
    m.address = str(r.getAddress());
    m.incarnation = r.getIncarnation();
    auto status = static_cast<uint16_t>(r.getStatus());
    if (status > static_cast<uint16_t>(member_status::left))
      violation("member status " + std::to_string(status) + " out of range");
    m.status = static_cast<member_status>(status);
    return m;
  }

  std::vector<member_update> get(capnp::List<w::MemberUpdate>::Reader l) {
    take(l.size());
    std::vector<member_update> out;
    out.reserve(l.size());
    for (auto r : l) out.push_back(get(r));
    return out;
  }

  version_vector get(capnp::List<w::VvEntry>::Reader l) {
    take(l.size());
    version_vector vv;
    node_id prev = 0;
    for (auto e : l) {
      node_id node = e.getNode();
      uint64_t counter = e.getCounter();
      if (node == 0) violation("version vector entry for node id 0");
      if (counter == 0) violation("version vector entry with counter 0");
      if (node <= prev) violation("version vector node ids not strictly increasing");
      prev = node;
      vv.set(node, counter);
    }
    return vv;
  }

  std::vector<delta_entry> get(capnp::List<w::DeltaEntry>::Reader l) {
    take(l.size());
    std::vector<delta_entry> out;
    out.reserve(l.size());
    for (auto r : l) {
      delta_entry d;
      d.origin = r.getOrigin();
      if (d.origin == 0) violation("delta from origin node id 0");
      d.seq = r.getSeq();
      if (d.seq == 0) violation("delta with seq 0");
      d.record.key = str(r.getKey());
      auto type = static_cast<uint16_t>(r.getType());
      if (type < 1 || type > 7) violation("CRDT type tag " + std::to_string(type) + " out of range 1..7");
      d.record.type = static_cast<crdt::type_tag>(type);
      d.record.hlc = r.getHlc();
      d.record.delta = str(r.getDelta());
      d.record.deps = get(r.getDeps());
      out.push_back(std::move(d));
    }
    return out;
  }

  std::vector<key_state> get(capnp::List<w::KeyState>::Reader l) {
    take(l.size());
    std::vector<key_state> out;
    out.reserve(l.size());
    for (auto r : l) out.push_back(key_state{str(r.getKey()), str(r.getValue())});
    return out;
  }

  std::vector<std::string> get(capnp::List<capnp::Data>::Reader l) {
    take(l.size());
    std::vector<std::string> out;
    out.reserve(l.size());
    for (auto d : l) out.push_back(str(d));
    return out;
  }

  message get(w::Hello::Reader r) {
    hello h;
    auto role = r.getRole();
    if (role != w::Role::PEER && role != w::Role::CLIENT) violation("hello with an unknown role");
    h.client = role == w::Role::CLIENT;
    h.cluster = str(r.getCluster());
    if (h.cluster.empty() && !h.client) violation("hello with an empty cluster name");
    h.node = r.getNode();
    if (h.node == 0 && !h.client) violation("hello from node id 0");
    h.version = r.getVersion();
    if (h.version == 0) violation("hello with protocol version 0");
    h.address = str(r.getAddress());
    h.refusal = str(r.getRefusal());
    if (!h.refusal.empty()) {
      uint16_t code = r.getRefusalCode();
      // An unknown code (a newer sender) still refuses: it reads as unavailable.
      h.refusal_code = code >= 1 && code <= static_cast<uint16_t>(errc::too_large) ? static_cast<errc>(code)
                                                                                  : errc::unavailable;
    }
    return h;
  }

  message get(w::Ping::Reader r) { return ping{r.getProbe(), get(r.getGossip()), r.getSentMs()}; }

  message get(w::Ack::Reader r) {
    return ack{r.getProbe(), r.getTarget(), get(r.getGossip()), r.getEchoMs(), r.getNowMs()};
  }

  message get(w::PingReq::Reader r) {
    ping_req p;
    p.probe = r.getProbe();
    p.target = r.getTarget();
    if (p.target == 0) violation("ping_req for node id 0");
    p.target_address = str(r.getTargetAddress());
    p.gossip = get(r.getGossip());
    return p;
  }

  message get(w::JoinRequest::Reader r) { return join_request{get(r.getMember())}; }

  message get(w::JoinResponse::Reader r) { return join_response{get(r.getMembers())}; }

  message get(w::Push::Reader r) { return push{get(r.getDeltas()), r.getWantAck()}; }

  message get(w::PushAck::Reader r) { return push_ack{get(r.getApplied())}; }

  message get(w::SyncRequest::Reader r) { return sync_request{get(r.getVv())}; }

  message get(w::SyncResponse::Reader r) {
    sync_response s;
    s.vv = get(r.getVv());
    s.deltas = get(r.getDeltas());
    s.more = r.getMore();
    auto t = r.getTruncated();
    take(t.size());
    s.truncated.reserve(t.size());
    for (uint64_t n : t) {
      if (n == 0) violation("sync_response truncated origin node id 0");
      s.truncated.push_back(n);
    }
    return s;
  }

  message get(w::ReadRequest::Reader r) { return read_request{r.getId(), str(r.getKey())}; }

  message get(w::ReadResponse::Reader r) { return read_response{r.getId(), get(r.getValues())}; }

  message get(w::StatePush::Reader r) {
    state_push s;
    s.session = r.getSession();
    s.states = get(r.getStates());
    s.wanted = get(r.getWanted());
    auto h = r.getWantedHashes();
    take(h.size());
    s.wanted_hashes.reserve(h.size());
    for (uint64_t x : h) s.wanted_hashes.push_back(x);
    return s;
  }

  static uint64_t varint(std::string_view in, size_t& at) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at >= in.size()) violation("packed iblt cells end inside a varint");
      auto byte = static_cast<uint8_t>(in[at++]);
      if (shift == 63 && byte > 1) violation("packed iblt cell varint exceeds 64 bits");
      v |= uint64_t{byte & 0x7fu} << shift;
      if (!(byte & 0x80)) return v;
    }
    violation("packed iblt cell varint longer than 10 bytes");
  }

  static uint64_t le64(std::string_view in, size_t& at) {
    if (in.size() - at < 8) violation("packed iblt cells end inside a cell");
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(in[at + i])} << (8 * i);
    at += 8;
    return v;
  }

  std::vector<iblt_cell> unpack_cells(std::string_view in) {
    std::vector<iblt_cell> out;
    size_t at = 0;
    while (at < in.size()) {
      take(1);
      uint64_t z = varint(in, at);
      iblt_cell c;
      c.count = static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));  // zigzag
      c.id_sum = varint(in, at);
      c.digest_sum = le64(in, at);
      c.hash_sum = le64(in, at);
      out.push_back(c);
    }
    return out;
  }

  message get(w::ReconRequest::Reader r) {
    recon_request q;
    q.session = r.getSession();
    auto cells = r.getCells();
    auto packed = r.getPackedCells();
    if (cells.size() > 0 && packed.size() > 0) violation("recon_request with both cells and packed cells");
    if (packed.size() > 0) {
      q.cells = unpack_cells(std::string_view(reinterpret_cast<const char*>(packed.begin()), packed.size()));
      return q;
    }
    take(cells.size());
    q.cells.reserve(cells.size());
    for (auto c : cells) q.cells.push_back(iblt_cell{c.getCount(), c.getIdSum(), c.getDigestSum(), c.getHashSum()});
    return q;
  }

  message get(w::ReconBuckets::Reader r) {
    recon_buckets rb;
    rb.session = r.getSession();
    rb.decoded = r.getDecoded();
    auto buckets = r.getBuckets();
    take(buckets.size());
    rb.buckets.reserve(buckets.size());
    for (auto b : buckets) {
      bucket_keys bk;
      bk.bucket = b.getBucket();
      auto keys = b.getKeys();
      take(keys.size());
      bk.keys.reserve(keys.size());
      for (auto k : keys) bk.keys.push_back(key_hash{str(k.getKey()), k.getValueHash()});
      rb.buckets.push_back(std::move(bk));
    }
    auto hb = r.getHashedBuckets();
    take((hb.size() + 1) / 2);  // UInt32: two per word
    rb.hashed_buckets.reserve(hb.size());
    for (uint32_t b : hb) {
      if (!rb.hashed_buckets.empty() && b <= rb.hashed_buckets.back())
        violation("recon_buckets hashed buckets not strictly ascending");
      rb.hashed_buckets.push_back(b);
    }
    auto hk = r.getHashedKeys();
    take(hk.size());
    rb.hashed.reserve(hk.size());
    for (auto k : hk) rb.hashed.push_back(hashed_key{k.getKeyHash(), k.getValueHash()});
    return rb;
  }

  message get(w::SetReconRequest::Reader r) {
    set_recon_request q;
    q.session = r.getSession();
    q.key = str(r.getKey());
    auto packed = r.getPackedCells();
    q.cells = unpack_cells(std::string_view(reinterpret_cast<const char*>(packed.begin()), packed.size()));
    q.after = str(r.getAfter());
    return q;
  }

  message get(w::SetReconAnswer::Reader r) {
    set_recon_answer a;
    a.session = r.getSession();
    a.key = str(r.getKey());
    switch (r.getStatus()) {
      case w::SetReconStatus::OK: a.status = set_recon_status::ok; break;
      case w::SetReconStatus::UNDECODED: a.status = set_recon_status::undecoded; break;
      case w::SetReconStatus::ABSENT: a.status = set_recon_status::absent; break;
      default: violation("set_recon_answer with an unknown status");
    }
    auto ids = r.getIds();
    take((ids.size() + 1) / 2);  // UInt32: two per word
    a.ids.reserve(ids.size());
    for (uint32_t id : ids) {
      if (!a.ids.empty() && id <= a.ids.back()) violation("set_recon_answer ids not strictly ascending");
      a.ids.push_back(id);
    }
    a.state = str(r.getState());
    a.page = r.getPage();
    a.cells = r.getCells();
    a.more = r.getMore();
    a.last = str(r.getLast());
    return a;
  }

  message get(w::FullSyncRequest::Reader r) { return full_sync_request{r.getSession(), str(r.getAfterKey())}; }

  message get(w::FullSyncChunk::Reader r) {
    return full_sync_chunk{r.getSession(), get(r.getStates()), r.getDone()};
  }

  size_t budget_;
};

uint32_t le32(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
}

// One frame holding the alternative `m` holds (a message or a cas_message).
template <class Variant>
std::string encode_frame(const Variant& m) {
  return write_capnp_frame<w::Message>([&](w::Message::Builder root) { std::visit([&](const auto& x) { put_body(root, x); }, m); });
}

}  // namespace

std::string encode_message(const message& m) { return encode_frame(m); }

std::string encode_message(const cas_message& m) { return encode_frame(m); }

result<size_t> frame_size_from_prefix(std::string_view prefix, size_t limit) {
  if (prefix.size() < 4) return size_t{0};
  // Segment table: u32 (segment count - 1), u32 size in words of each segment, padded to 8 bytes.
  uint64_t segments = uint64_t{le32(prefix.data())} + 1;
  if (segments > max_segments)
    return error{errc::too_large, "wire frame with " + std::to_string(segments) + " segments (at most " +
                                      std::to_string(max_segments) + ")"};
  uint64_t header = (4 * (segments + 1) + 7) & ~uint64_t{7};
  uint64_t total = header;
  if (total > limit)
    return error{errc::too_large, "wire frame segment table of " + std::to_string(header) + " bytes (frame limit " +
                                      std::to_string(limit) + ")"};
  uint64_t known = std::min<uint64_t>(segments, (prefix.size() - 4) / 4);
  for (uint64_t i = 0; i < known; ++i) {
    total += uint64_t{le32(prefix.data() + 4 + 4 * i)} * 8;  // at most 512 * 2^35: no overflow
    if (total > limit)
      return error{errc::too_large, "wire frame of at least " + std::to_string(total) + " bytes (at most " +
                                        std::to_string(limit) + ")"};
  }
  if (known < segments || prefix.size() < header) return size_t{0};
  return static_cast<size_t>(total);
}

result<message> decode_message(std::string_view frame) {
  return read_capnp_frame<message, w::Message>(frame, "wire",
                                               [](w::Message::Reader r, size_t words) { return decoder{words}.get(r); });
}

result<peer_frame> decode_peer_frame(std::string_view frame) {
  return read_capnp_frame<peer_frame, w::Message>(
      frame, "wire", [](w::Message::Reader r, size_t words) { return decoder{words}.get_any(r); });
}

frame_reader::frame_reader(size_t max_frame) : max_frame_(max_frame) {}

void frame_reader::feed(std::string_view bytes) {
  if (error_) return;
  if (start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  } else if (start_ > 0 && start_ >= buffer_.size() / 2) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  buffer_.append(bytes);
}

result<std::optional<std::string>> frame_reader::next() {
  if (error_) return *error_;
  std::string_view pending(buffer_.data() + start_, buffer_.size() - start_);
  auto size = frame_size_from_prefix(pending, max_frame_);
  if (!size) {
    error_ = size.err();
    return *error_;
  }
  if (*size == 0 || *size > pending.size()) return std::optional<std::string>{};
  std::string frame(pending.substr(0, *size));
  start_ += *size;
  return std::optional<std::string>{std::move(frame)};
}

}  // namespace rumor::replication
