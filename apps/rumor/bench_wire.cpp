// wire: bytes on the wire per update, by type — the encoded push frame
// (replication::encode_message of a push) carrying the real delta entry that an in-process
// replica appended to its delta log for the update. Two cases per type: the first write of a
// key (its delta carries the key's causal seed) and a later write of the same key; and the
// amortised bytes per update of one push carrying 1000 such deltas (pushes batch). Keys are
// "user:000001"-style (11 bytes); values and members 16 bytes.
#include "bench_client.hpp"
#include "bench_inproc.hpp"
#include "bench_scenarios.hpp"
#include "replication/wire_codec.hpp"

namespace rumor::cli::bench {

namespace {

client::update make(crdt::type_tag t, uint64_t i, const std::string& key) {
  client::update u;
  u.key = key;
  u.type = t;
  char v[32];
  std::snprintf(v, sizeof v, "value-%010llu", static_cast<unsigned long long>(i));
  switch (t) {
    case crdt::type_tag::pn_counter: u.op = client::op_kind::counter_add; u.amount = 1; break;
    case crdt::type_tag::lww_register: u.op = client::op_kind::register_set; u.value = v; break;
    case crdt::type_tag::mv_register: u.op = client::op_kind::mv_put; u.value = v; break;
    case crdt::type_tag::or_set: u.op = client::op_kind::set_add; u.members = {v}; break;
    case crdt::type_tag::ew_flag: u.op = client::op_kind::flag_set; u.flag = i % 2 == 0; break;
    default: break;
  }
  return u;
}

size_t push_bytes(const std::vector<replication::delta_entry>& d) {
  replication::push p;
  p.deltas = d;
  return replication::encode_message(replication::message{p}).size();
}

}  // namespace

void run_wire(context& ctx) {
  const std::vector<std::pair<crdt::type_tag, std::string>> types = {
      {crdt::type_tag::pn_counter, "counter"}, {crdt::type_tag::lww_register, "lww_register"},
      {crdt::type_tag::mv_register, "mv_register"}, {crdt::type_tag::or_set, "or_set_add"},
      {crdt::type_tag::ew_flag, "flag"}};
  const uint64_t batch = 1000;
  for (auto& [t, name] : types) {
    inproc_replica r;
    r.keep_deltas = true;
    char key[32];
    std::snprintf(key, sizeof key, "user:%06d", 1);
    // First write of a key, then a later write of the same key.
    r.submit(make(t, 0, key), 1'000);
    r.drain();
    if (r.last_deltas().size() != 1) throw std::runtime_error(name + ": expected one delta, got " + std::to_string(r.last_deltas().size()) + " (" + r.first_error() + ")");
    size_t first = push_bytes(r.last_deltas());
    r.submit(make(t, 1, key), 1'001);
    r.drain();
    size_t later = push_bytes(r.last_deltas());
    size_t delta_bytes = r.last_deltas().front().record.delta.size();
    // One push of `batch` first writes of distinct keys.
    std::vector<replication::delta_entry> all;
    for (uint64_t i = 0; i < batch; ++i) {
      std::snprintf(key, sizeof key, "user:%06llu", static_cast<unsigned long long>(i + 2));
      r.submit(make(t, i, key), 2'000 + i);
      r.drain();
      for (auto& d : r.last_deltas()) all.push_back(d);
    }
    double amortised = double(push_bytes(all)) / double(all.size());
    std::vector<std::pair<std::string, std::string>> params = {{"type", name}, {"key_bytes", "11"},
                                                                 {"value_bytes", t == crdt::type_tag::pn_counter || t == crdt::type_tag::ew_flag ? "-" : "16"}};
    auto p = params;
    p.push_back({"crdt_delta_bytes", std::to_string(delta_bytes)});
    ctx.out.add({"wire", name + "_push_first_write", double(first), "bytes", params, "", std::nullopt});
    ctx.out.add({"wire", name + "_push_later_write", double(later), "bytes", p, "", std::nullopt});
    auto pb = params;
    pb.push_back({"deltas_per_push", std::to_string(all.size())});
    ctx.out.add({"wire", name + "_per_update_in_batch", amortised, "bytes", pb, "", std::nullopt});
    ctx.check("wire sizes");
  }
}

}  // namespace rumor::cli::bench
