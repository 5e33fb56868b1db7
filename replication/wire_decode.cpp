// wire_codec, decoding (wire_codec.hpp): one frame of wire.capnp's Message -> replication::message
// or cas_message, with every structural check wire_codec.hpp lists.

#include <algorithm>
#include <utility>

#include "replication/capnp_frame.hpp"
#include "replication/delta_batch.hpp"
#include "replication/wire.capnp.h"
#include "replication/wire_codec.hpp"

namespace rumor::replication {

namespace w = wire;

namespace {

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
      case w::Message::IHAVE: return get(r.getIhave());
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
      if (type < crdt::first_type_tag || type > crdt::last_type_tag)
        violation("CRDT type tag " + std::to_string(type) + " out of range 1.." + std::to_string(crdt::last_type_tag));
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
    h.token = str(r.getToken());
    if (!h.refusal.empty()) {
      uint16_t code = r.getRefusalCode();
      // An unknown code (a newer sender) still refuses: it reads as unavailable.
      h.refusal_code = code >= 1 && code <= static_cast<uint16_t>(errc::unauthenticated) ? static_cast<errc>(code)
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

  // The deltas of a push or sync_response: any in the old list, then the batch's.
  std::vector<delta_entry> deltas(capnp::List<w::DeltaEntry>::Reader list, capnp::Data::Reader batch) {
    std::vector<delta_entry> out = get(list);
    if (batch.size() == 0) return out;
    auto b = decode_delta_batch({reinterpret_cast<const char*>(batch.begin()), batch.size()});
    if (!b) violation(b.err().message);
    take(b->size());
    if (out.empty()) return std::move(*b);
    out.insert(out.end(), std::make_move_iterator(b->begin()), std::make_move_iterator(b->end()));
    return out;
  }

  message get(w::Push::Reader r) { return push{deltas(r.getDeltas(), r.getBatch()), r.getWantAck()}; }

  message get(w::PushAck::Reader r) { return push_ack{get(r.getApplied())}; }

  message get(w::SyncRequest::Reader r) { return sync_request{get(r.getVv()), r.getPeriodic()}; }
  message get(w::IHave::Reader r) { return ihave{get(r.getHave())}; }

  message get(w::SyncResponse::Reader r) {
    sync_response s;
    s.vv = get(r.getVv());
    s.deltas = deltas(r.getDeltas(), r.getBatch());
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

  message get(w::ReadRequest::Reader r) { return read_request{r.getId(), str(r.getKey()), r.getVectorOnly()}; }

  message get(w::ReadResponse::Reader r) {
    // keyVector counts only in a vectorOnly answer (the encoder writes it only there).
    return read_response{r.getId(), get(r.getValues()), r.getVectorOnly(),
                         r.getVectorOnly() ? get(r.getKeyVector()) : version_vector{}};
  }

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
      case w::SetReconStatus::TOO_BIG: a.status = set_recon_status::too_big; break;
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
    a.after = str(r.getAfter());
    a.to = r.getTo();
    return a;
  }

  message get(w::FullSyncRequest::Reader r) { return full_sync_request{r.getSession(), str(r.getAfterKey())}; }

  message get(w::FullSyncChunk::Reader r) {
    return full_sync_chunk{r.getSession(), get(r.getStates()), r.getDone()};
  }

  size_t budget_;
};

}  // namespace

result<message> decode_message(std::string_view frame) {
  return read_capnp_frame<message, w::Message>(frame, "wire",
                                               [](w::Message::Reader r, size_t words) { return decoder{words}.get(r); }, true);
}

result<peer_frame> decode_peer_frame(std::string_view frame) {
  return read_capnp_frame<peer_frame, w::Message>(
      frame, "wire", [](w::Message::Reader r, size_t words) { return decoder{words}.get_any(r); }, true);
}

}  // namespace rumor::replication
