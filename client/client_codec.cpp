#include "client/client_codec.hpp"

#include <utility>

#include "client/client.capnp.h"
#include "replication/capnp_frame.hpp"

namespace rumor::client {

namespace w = wire;

namespace {

// The union ordinals of wire::ClientMessage and wire::Request::Body follow the alternatives of
// client_message and request::body (the spec says so).
static_assert(static_cast<size_t>(w::ClientMessage::REQUEST) == 0 &&
              static_cast<size_t>(w::ClientMessage::RESPONSE) == 1 &&
              static_cast<size_t>(w::ClientMessage::EVENT) == 2 && std::variant_size_v<client_message> == 3);
static_assert(static_cast<size_t>(w::Request::Body::UPDATE) == 0 && static_cast<size_t>(w::Request::Body::GET) == 1 &&
              static_cast<size_t>(w::Request::Body::KEYS) == 2 && static_cast<size_t>(w::Request::Body::WATCH) == 3 &&
              static_cast<size_t>(w::Request::Body::UNWATCH) == 4 &&
              static_cast<size_t>(w::Request::Body::MEMBERS) == 5 &&
              static_cast<size_t>(w::Request::Body::STATUS) == 6 &&
              std::variant_size_v<decltype(request::body)> == 9);

// Highest enumerant of each enum this build knows (the decoder refuses larger values).
constexpr uint16_t max_consistency = static_cast<uint16_t>(consistency::all);
constexpr uint16_t max_op_kind = static_cast<uint16_t>(op_kind::splice);
constexpr uint16_t max_errc = static_cast<uint16_t>(errc::unauthenticated);
constexpr uint16_t max_member_status = 3;  // replication::member_status::left
constexpr uint16_t max_type_tag = static_cast<uint16_t>(crdt::type_tag::text);
constexpr uint16_t max_view_kind = static_cast<uint16_t>(view_kind::page);

// ---------------------------------------------------------------------------------------------
// Encoding

kj::ArrayPtr<const kj::byte> data_of(const std::string& s) {
  return {reinterpret_cast<const kj::byte*>(s.data()), s.size()};
}

// Keeps every byte (std::string is NUL-terminated; embedded NULs survive, unlike c_str()).
capnp::Text::Reader text_of(const std::string& s) { return {s.data(), s.size()}; }

unsigned count(size_t n) { return static_cast<unsigned>(n); }  // REQUIRES: n < 2^29

template <class E, class T>
E enum_of(T v) {
  return static_cast<E>(static_cast<uint16_t>(v));
}

void put(capnp::List<capnp::Data>::Builder l, const std::vector<std::string>& v) {
  for (unsigned i = 0; i < l.size(); ++i) l.set(i, data_of(v[i]));
}

void put_body(w::Request::Body::Builder b, const update& x) {
  auto u = b.initUpdate();
  u.setKey(data_of(x.key));
  put(u.initPath(count(x.path.size())), x.path);
  u.setOp(enum_of<w::OpKind>(x.op));
  u.setType(enum_of<w::CrdtType>(x.type));
  u.setAmount(x.amount);
  u.setValue(data_of(x.value));
  put(u.initMembers(count(x.members.size())), x.members);
  u.setFlag(x.flag);
  if (x.context) u.setContext(data_of(*x.context));
  u.setConditional(x.conditional);
  u.setReturnValue(x.return_value);
  u.setPosition(x.position);
  u.setDeleteCount(x.delete_count);
}

void put_body(w::Request::Body::Builder b, const get& x) {
  auto g = b.initGet();
  g.setKey(data_of(x.key));
  if (!x.path.empty()) put(g.initPath(count(x.path.size())), x.path);
  g.setView(enum_of<w::ViewKind>(x.view));
  if (!x.member.empty()) g.setMember(data_of(x.member));
  if (x.after) g.setAfter(data_of(*x.after));
  g.setLimit(x.limit);
}

void put_body(w::Request::Body::Builder b, const keys& x) {
  auto k = b.initKeys();
  k.setPrefix(data_of(x.prefix));
  k.setLimit(x.limit);
}

void put_body(w::Request::Body::Builder b, const watch& x) {
  auto wr = b.initWatch();
  wr.setPrefix(data_of(x.prefix));
  wr.setSetChanges(x.set_changes);
  wr.setFieldChanges(x.field_changes);
}

void put_body(w::Request::Body::Builder b, const unwatch& x) { b.initUnwatch().setWatchId(x.watch_id); }

void put_body(w::Request::Body::Builder b, const members&) { b.initMembers(); }

void put_body(w::Request::Body::Builder b, const status&) { b.initStatus(); }

void put_body(w::Request::Body::Builder b, const cas& x) {
  auto c = b.initCas();
  c.setKey(data_of(x.key));
  if (x.expected) c.setExpected(data_of(*x.expected));
  if (x.value) c.setValue(data_of(*x.value));
}

void put_body(w::Request::Body::Builder b, const lget& x) { b.initLget().setKey(data_of(x.key)); }

void put(w::ClientMessage::Builder m, const request& x) {
  auto r = m.initRequest();
  r.setId(x.id);
  r.setLevel(enum_of<w::Consistency>(x.level));
  r.setTimeoutMs(x.timeout_ms);
  std::visit([&](const auto& body) { put_body(r.initBody(), body); }, x.body);
}

void put(w::NodeStatus::Builder b, const node_status& x) {
  b.setNode(x.node);
  b.setAddress(text_of(x.address));
  b.setCluster(text_of(x.cluster));
  b.setReadiness(text_of(x.readiness));
  b.setKeys(x.keys);
  b.setDeltaLog(x.delta_log);
  b.setLocalUpdates(x.local_updates);
  b.setRemoteApplied(x.remote_applied);
  b.setTombstones(x.tombstones);
  b.setTombstonesCollected(x.tombstones_collected);
  b.setCasVoters(x.cas_voters);
  b.setWriteBehindBytes(x.write_behind_bytes);
  b.setLogBacklog(x.log_backlog);
  b.setCheckpoint(x.checkpoint);
  b.setLastMaterializeMs(x.last_materialize_ms);
  b.setWriteBehindError(text_of(x.write_behind_error));
  b.setStorageError(text_of(x.storage_error));
  b.setClockDriftRefusals(x.clock_drift_refusals);
  b.setClockError(text_of(x.clock_error));
  b.setSecurity(text_of(x.security));
  auto peers = b.initPeers(count(x.peers.size()));
  for (unsigned i = 0; i < peers.size(); ++i) {
    peers[i].setId(x.peers[i].id);
    peers[i].setBehind(x.peers[i].behind);
    peers[i].setLagMs(x.peers[i].lag_ms);
  }
}

void put(w::ClientMessage::Builder m, const response& x) {
  auto r = m.initResponse();
  r.setId(x.id);
  r.setCode(enum_of<w::ErrorCode>(x.code));
  r.setMessage(text_of(x.message));
  auto values = r.initValues(count(x.values.size()));
  for (unsigned i = 0; i < values.size(); ++i) {
    values[i].setKey(data_of(x.values[i].key));
    values[i].setValue(data_of(x.values[i].value));
    if (!x.values[i].context.empty()) values[i].setContext(data_of(x.values[i].context));
  }
  auto key_list = r.initKeyList(count(x.key_list.size()));
  for (unsigned i = 0; i < key_list.size(); ++i) {
    key_list[i].setKey(data_of(x.key_list[i].key));
    key_list[i].setType(enum_of<w::CrdtType>(x.key_list[i].type));
  }
  auto member_list = r.initMemberList(count(x.member_list.size()));
  for (unsigned i = 0; i < member_list.size(); ++i) {
    const member_info& mi = x.member_list[i];
    member_list[i].setId(mi.id);
    member_list[i].setAddress(text_of(mi.address));
    member_list[i].setStatus(enum_of<w::MemberStatus>(mi.status));
    member_list[i].setIncarnation(mi.incarnation);
  }
  if (x.node) put(r.initNode(), *x.node);
  if (x.collection) {
    const collection_view& cv = *x.collection;
    auto c = r.initCollection();
    c.setType(cv.type ? enum_of<w::CrdtType>(*cv.type) : w::CrdtType::UNKNOWN);
    c.setSize(cv.size);
    c.setContains(cv.contains);
    if (!cv.members.empty()) put(c.initMembers(count(cv.members.size())), cv.members);
    if (!cv.fields.empty()) {
      auto fields = c.initFields(count(cv.fields.size()));
      for (unsigned i = 0; i < fields.size(); ++i) {
        fields[i].setKey(data_of(cv.fields[i].key));
        fields[i].setValue(data_of(cv.fields[i].value));
        if (!cv.fields[i].context.empty()) fields[i].setContext(data_of(cv.fields[i].context));
      }
    }
    c.setMore(cv.more);
  }
  if (x.outcome) {
    auto o = r.initOutcome();
    o.setChanged(x.outcome->changed);
    o.setSize(x.outcome->size);
  }
}

void put(w::ClientMessage::Builder m, const event& x) {
  auto e = m.initEvent();
  e.setWatchId(x.watch_id);
  e.setKey(data_of(x.key));
  e.setValue(data_of(x.value));
  e.setOrigin(x.origin);
  if (x.set) {
    auto sc = e.initSetChanges();
    sc.setSize(x.set->size);
    if (!x.set->added.empty()) put(sc.initAdded(count(x.set->added.size())), x.set->added);
    if (!x.set->removed.empty()) put(sc.initRemoved(count(x.set->removed.size())), x.set->removed);
    if (!x.set->changed.empty()) put(sc.initChanged(count(x.set->changed.size())), x.set->changed);
    sc.setComplete(x.set->complete);
    sc.setType(enum_of<w::CrdtType>(x.set->type));
  }
  e.setValueOmitted(x.value_omitted);
}

// ---------------------------------------------------------------------------------------------
// Decoding. A violation throws (violation(), replication/capnp_frame.hpp) and never escapes
// decode_client; capnp's kj::Exception for malformed structure is caught at the same place.

using replication::str;
using replication::violation;

// Returns the raw number of enumerant `e`, refusing numbers above `max`.
template <class E>
uint16_t checked(E e, uint16_t max, const char* what) {
  auto n = static_cast<uint16_t>(e);
  if (n > max) violation(std::string(what) + " " + std::to_string(n) + " out of range 0.." + std::to_string(max));
  return n;
}

crdt::type_tag type_of(w::CrdtType t) {
  auto n = static_cast<uint16_t>(t);
  if (n < 1 || n > max_type_tag) violation("CRDT type tag " + std::to_string(n) + " out of range 1.." + std::to_string(max_type_tag));
  return static_cast<crdt::type_tag>(n);
}

class decoder {
 public:
  explicit decoder(size_t element_budget) : budget_(element_budget) {}

  client_message get(w::ClientMessage::Reader r) {
    switch (r.which()) {
      case w::ClientMessage::REQUEST: return get(r.getRequest());
      case w::ClientMessage::RESPONSE: return get(r.getResponse());
      case w::ClientMessage::EVENT: return get(r.getEvent());
    }
    violation("unknown client message kind " + std::to_string(static_cast<unsigned>(r.which())));
  }

 private:
  // Charges `n` decoded list elements against the budget (one per word of the frame).
  void take(size_t n) {
    if (n > budget_) violation("lists hold more elements than the frame has words");
    budget_ -= n;
  }

  std::vector<std::string> get(capnp::List<capnp::Data>::Reader l) {
    take(l.size());
    std::vector<std::string> out;
    out.reserve(l.size());
    for (auto d : l) out.push_back(str(d));
    return out;
  }

  update get(w::UpdateRequest::Reader r) {
    update u;
    u.key = str(r.getKey());
    u.path = get(r.getPath());
    u.op = static_cast<op_kind>(checked(r.getOp(), max_op_kind, "update op kind"));
    u.type = type_of(r.getType());
    u.amount = r.getAmount();
    u.value = str(r.getValue());
    u.members = get(r.getMembers());
    u.flag = r.getFlag();
    if (r.hasContext()) u.context = str(r.getContext());
    u.conditional = r.getConditional();
    u.return_value = r.getReturnValue();
    u.position = r.getPosition();
    u.delete_count = r.getDeleteCount();
    return u;
  }

  client::get get(w::GetRequest::Reader r) {
    client::get g;
    g.key = str(r.getKey());
    g.path = get(r.getPath());
    g.view = static_cast<view_kind>(checked(r.getView(), max_view_kind, "get view"));
    g.member = str(r.getMember());
    if (r.hasAfter()) g.after = str(r.getAfter());
    g.limit = r.getLimit();
    return g;
  }

  std::vector<key_value> get(capnp::List<w::KeyValue>::Reader l) {
    take(l.size());
    std::vector<key_value> out;
    out.reserve(l.size());
    for (auto v : l) out.push_back(key_value{str(v.getKey()), str(v.getValue()), str(v.getContext())});
    return out;
  }

  collection_view get(w::CollectionView::Reader r) {
    collection_view c;
    if (r.getType() != w::CrdtType::UNKNOWN) c.type = type_of(r.getType());
    c.size = r.getSize();
    c.contains = r.getContains();
    c.members = get(r.getMembers());
    c.fields = get(r.getFields());
    c.more = r.getMore();
    return c;
  }

  request get(w::Request::Reader r) {
    request q;
    q.id = r.getId();
    q.level = static_cast<consistency>(checked(r.getLevel(), max_consistency, "consistency level"));
    q.timeout_ms = r.getTimeoutMs();
    auto body = r.getBody();
    switch (body.which()) {
      case w::Request::Body::UPDATE: q.body = get(body.getUpdate()); return q;
      case w::Request::Body::GET: q.body = get(body.getGet()); return q;
      case w::Request::Body::KEYS: {
        auto k = body.getKeys();
        q.body = client::keys{str(k.getPrefix()), k.getLimit()};
        return q;
      }
      case w::Request::Body::WATCH:
        q.body = client::watch{str(body.getWatch().getPrefix()), body.getWatch().getSetChanges(),
                               body.getWatch().getFieldChanges()};
        return q;
      case w::Request::Body::UNWATCH: q.body = client::unwatch{body.getUnwatch().getWatchId()}; return q;
      case w::Request::Body::MEMBERS: q.body = client::members{}; return q;
      case w::Request::Body::STATUS: q.body = client::status{}; return q;
      case w::Request::Body::CAS: {
        auto c = body.getCas();
        client::cas x;
        x.key = str(c.getKey());
        if (c.hasExpected()) x.expected = str(c.getExpected());
        if (c.hasValue()) x.value = str(c.getValue());
        q.body = std::move(x);
        return q;
      }
      case w::Request::Body::LGET: q.body = client::lget{str(body.getLget().getKey())}; return q;
    }
    violation("unknown request kind " + std::to_string(static_cast<unsigned>(body.which())));
  }

  node_status get(w::NodeStatus::Reader r) {
    node_status s;
    s.node = r.getNode();
    s.address = str(r.getAddress());
    s.cluster = str(r.getCluster());
    s.readiness = str(r.getReadiness());
    s.keys = r.getKeys();
    s.delta_log = r.getDeltaLog();
    s.local_updates = r.getLocalUpdates();
    s.remote_applied = r.getRemoteApplied();
    s.tombstones = r.getTombstones();
    s.tombstones_collected = r.getTombstonesCollected();
    s.cas_voters = r.getCasVoters();
    s.write_behind_bytes = r.getWriteBehindBytes();
    s.log_backlog = r.getLogBacklog();
    s.checkpoint = r.getCheckpoint();
    s.last_materialize_ms = r.getLastMaterializeMs();
    s.write_behind_error = str(r.getWriteBehindError());
    s.storage_error = str(r.getStorageError());
    s.clock_drift_refusals = r.getClockDriftRefusals();
    s.clock_error = str(r.getClockError());
    s.security = str(r.getSecurity());
    auto peers = r.getPeers();
    take(peers.size());
    s.peers.reserve(peers.size());
    for (auto p : peers) s.peers.push_back(peer_lag{p.getId(), p.getBehind(), p.getLagMs()});
    return s;
  }

  response get(w::Response::Reader r) {
    response s;
    s.id = r.getId();
    s.code = static_cast<errc>(checked(r.getCode(), max_errc, "error code"));
    s.message = str(r.getMessage());
    s.values = get(r.getValues());
    auto key_list = r.getKeyList();
    take(key_list.size());
    s.key_list.reserve(key_list.size());
    for (auto k : key_list) s.key_list.push_back(key_type{str(k.getKey()), type_of(k.getType())});
    auto member_list = r.getMemberList();
    take(member_list.size());
    s.member_list.reserve(member_list.size());
    for (auto m : member_list) {
      member_info mi;
      mi.id = m.getId();
      mi.address = str(m.getAddress());
      mi.status = static_cast<uint8_t>(checked(m.getStatus(), max_member_status, "member status"));
      mi.incarnation = m.getIncarnation();
      s.member_list.push_back(std::move(mi));
    }
    if (r.hasNode()) s.node = get(r.getNode());
    if (r.hasCollection()) s.collection = get(r.getCollection());
    if (r.hasOutcome()) s.outcome = update_outcome{r.getOutcome().getChanged(), r.getOutcome().getSize()};
    return s;
  }

  event get(w::Event::Reader r) {
    event e{r.getWatchId(), str(r.getKey()), str(r.getValue()), r.getOrigin(), std::nullopt, r.getValueOmitted()};
    if (r.hasSetChanges()) {
      auto sc = r.getSetChanges();
      e.set = set_changes{sc.getSize(), get(sc.getAdded()), get(sc.getRemoved()), sc.getComplete(),
                          get(sc.getChanged()), crdt::type_tag::or_set};
      if (sc.getType() != w::CrdtType::UNKNOWN) {
        e.set->type = type_of(sc.getType());
        if (e.set->type != crdt::type_tag::or_set && e.set->type != crdt::type_tag::or_map)
          violation("set changes of a " + std::string(crdt::to_string(e.set->type)) + ", not a set or map");
      }
    }
    return e;
  }

  size_t budget_;
};

}  // namespace

void encode_client_into(const client_message& m, std::string& out) {
  // Most client messages are a few hundred bytes: a first segment of 64 words (512 B) holds them;
  // a big value or listing grows the message into further segments.
  replication::append_capnp_frame<w::ClientMessage>(
      out, [&](w::ClientMessage::Builder root) { std::visit([&](const auto& x) { put(root, x); }, m); }, 64);
}

std::string encode_client(const client_message& m) {
  std::string out;
  encode_client_into(m, out);
  return out;
}

result<client_message> decode_client(std::string_view frame) {
  return replication::read_capnp_frame<client_message, w::ClientMessage>(
      frame, "client", [](w::ClientMessage::Reader r, size_t words) { return decoder{words}.get(r); });
}

std::optional<uint64_t> request_id_of(std::string_view frame) {
  auto id = replication::read_capnp_frame<std::optional<uint64_t>, w::ClientMessage>(
      frame, "client", [](w::ClientMessage::Reader r, size_t) -> std::optional<uint64_t> {
        if (r.which() != w::ClientMessage::REQUEST) return std::nullopt;
        return r.getRequest().getId();
      });
  return id ? *id : std::nullopt;
}

}  // namespace rumor::client
