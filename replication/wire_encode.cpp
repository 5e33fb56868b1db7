// wire_codec, encoding (wire_codec.hpp): replication::message and cas_message -> one frame of
// wire.capnp's Message. Every union ordinal is checked against the alternatives at compile time.

#include <cstring>
#include <utility>
#include <variant>

#include "replication/capnp_frame.hpp"
#include "replication/delta_batch.hpp"
#include "replication/wire.capnp.h"
#include "replication/wire_codec.hpp"

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
RUMOR_WIRE_KIND(ihave, IHAVE)
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
  if (!x.token.empty()) b.setToken(text_of(x.token));
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

// Deltas travel in the batch form (delta_batch.hpp), copied once into the frame's Data.
template <class Builder>
void put_batch(Builder b, const std::vector<delta_entry>& deltas) {
  if (deltas.empty()) return;
  std::string batch;
  encode_delta_batch(deltas, batch);
  auto d = b.initBatch(static_cast<unsigned>(batch.size()));
  std::memcpy(d.begin(), batch.data(), batch.size());
}

void put_body(w::Message::Builder m, const push& x) {
  auto b = m.initPush();
  put_batch(b, x.deltas);
  b.setWantAck(x.want_ack);
}

void put_body(w::Message::Builder m, const push_ack& x) {
  put(m.initPushAck().initApplied(count(x.applied.size())), x.applied);
}

void put_body(w::Message::Builder m, const sync_request& x) {
  auto b = m.initSyncRequest();
  put(b.initVv(count(x.vv.size())), x.vv);
  b.setPeriodic(x.periodic);
}

void put_body(w::Message::Builder m, const ihave& x) { put(m.initIhave().initHave(count(x.have.size())), x.have); }

void put_body(w::Message::Builder m, const sync_response& x) {
  auto b = m.initSyncResponse();
  put(b.initVv(count(x.vv.size())), x.vv);
  put_batch(b, x.deltas);
  b.setMore(x.more);
  auto t = b.initTruncated(count(x.truncated.size()));
  for (unsigned i = 0; i < t.size(); ++i) t.set(i, x.truncated[i]);
}

void put_body(w::Message::Builder m, const read_request& x) {
  auto b = m.initReadRequest();
  b.setId(x.id);
  b.setKey(data_of(x.key));
  b.setVectorOnly(x.vector_only);
}

void put_body(w::Message::Builder m, const read_response& x) {
  auto b = m.initReadResponse();
  b.setId(x.id);
  put(b.initValues(count(x.values.size())), x.values);
  b.setVectorOnly(x.vector_only);
  if (x.vector_only) put(b.initKeyVector(count(x.key_vector.size())), x.key_vector);
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
    case set_recon_status::too_big: b.setStatus(w::SetReconStatus::TOO_BIG); break;
  }
  auto ids = b.initIds(count(x.ids.size()));
  for (unsigned i = 0; i < ids.size(); ++i) ids.set(i, x.ids[i]);
  b.setState(data_of(x.state));
  b.setMore(x.more);
  b.setLast(data_of(x.last));
  b.setAfter(data_of(x.after));
  b.setTo(x.to);
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

// One frame holding the alternative `m` holds (a message or a cas_message), flat or packed.
template <class Variant>
std::string encode_frame(const Variant& m, bool packed) {
  return write_capnp_frame<w::Message>(
      [&](w::Message::Builder root) { std::visit([&](const auto& x) { put_body(root, x); }, m); },
      capnp::SUGGESTED_FIRST_SEGMENT_WORDS, packed);
}

}  // namespace

std::string encode_message(const message& m) { return encode_frame(m, !std::holds_alternative<hello>(m)); }

std::string encode_message(const cas_message& m) { return encode_frame(m, true); }

std::string encode_message_flat(const message& m) { return encode_frame(m, false); }

std::string encode_message_flat(const cas_message& m) { return encode_frame(m, false); }

}  // namespace rumor::replication
