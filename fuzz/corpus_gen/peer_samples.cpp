// peer_samples: frames of every peer message kind (gossip and compare-and-set lane) for the seed
// corpus (samples.hpp).

#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/corpus_gen/samples.hpp"
#include "crdt/codec.hpp"
#include "replication/stored_value.hpp"
#include "replication/wire_codec.hpp"

namespace rumor::fuzz {

using namespace rumor::replication;

namespace {

version_vector vv(uint64_t n) {
  version_vector v;
  for (uint64_t i = 1; i <= n; ++i) v.set(i * 1000003, i * 7);
  return v;
}

std::vector<member_update> members(size_t n) {
  std::vector<member_update> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back({100 + i, "10.0.0." + std::to_string(i) + ":7000", i, static_cast<member_status>(i % 4)});
  return out;
}

std::vector<delta_entry> deltas(size_t n) {
  std::vector<crdt::value> values = sample_values();
  std::vector<delta_entry> out;
  for (size_t i = 0; i < n; ++i) {
    const crdt::value& v = values[i % values.size()];
    out.push_back({1 + i % 3, 1 + i, delta_record{"key-" + std::to_string(i), v.type(), 1000 + i, crdt::encode(v), vv(i % 4)}});
  }
  return out;
}

std::vector<key_state> states(size_t n) {
  std::vector<crdt::value> values = sample_values();
  std::vector<key_state> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back({"k/" + std::to_string(i), encode_stored(vv(i % 3), crdt::encode(values[i % values.size()]))});
  return out;
}

std::vector<message> gossip() {
  return {
      hello{"cluster", 42, protocol_version, "127.0.0.1:7000"},
      hello{"", 0, protocol_version, "", true},
      hello{"", 0, client_protocol_version, "", true, "", errc::ok, "0123456789abcdef0123"},
      hello{"cluster", 42, protocol_version, "127.0.0.1:7000", false, "wrong cluster", errc::invalid_argument},
      ping{}, ping{7, members(3)},
      ack{7, 101, members(2)},
      ping_req{8, 102, "10.0.0.2:7000", members(1)},
      join_request{member_update{55, "10.0.0.9:7000", 3, member_status::alive}},
      join_response{members(8)},
      push{}, push{deltas(4), true},
      push_ack{vv(3)},
      sync_request{}, sync_request{vv(5)}, sync_request{vv(3), true},
      sync_response{vv(2), deltas(6), true, {3, 4}},
      read_request{9, "key"},
      read_request{10, "big", true},
      read_response{9, states(3)},
      read_response{10, {}, true, vv(3)},
      state_push{1, states(2), {"a", "b"}, {0xdeadbeef, 1}},
      recon_request{2, {{1, 2, 3, 4}, {-1, 5, 6, 7}, {0, 0, 0, 0}}},
      recon_buckets{2, true, {{3, {{"k", 9}, {"l", 10}}}}, {4, 7}, {{0x1234, 5}, {0x5678, 6}}},
      recon_buckets{2, false},
      full_sync_request{3, ""}, full_sync_request{3, "after"},
      full_sync_chunk{3, states(5), false}, full_sync_chunk{3, {}, true},
      set_recon_request{4, "s\x05big", {{1, 2, 3, 4}, {-1, 5, 6, 7}, {0, 0, 0, 0}, {2, 9, 9, 9}}},
      set_recon_answer{4, "s\x05big", set_recon_status::ok, {3, 17, 4000000000u}, states(1).front().value},
      set_recon_answer{4, "s\x05big", set_recon_status::undecoded, {}, ""},
      set_recon_answer{0, "s\x05big", set_recon_status::absent, {}, ""},
      set_recon_answer{6, "m\x06fields", set_recon_status::too_big, {}, ""},
      set_recon_request{5, "s\x05big", {}, "member-17"},
      set_recon_answer{5, "s\x05big", set_recon_status::ok, {}, states(1).front().value, 0, true, true, "member-20"},
      ihave{}, ihave{vv(4)},
  };
}

std::vector<cas_message> lane() {
  ballot b{3, 42}, later{4, 42};
  std::vector<ballot> lineage = {b, {2, 41}, {1, 40}};
  return {
      cas_prepare{"lock", b},
      cas_promise{"lock", b, {}, std::nullopt, {}},
      cas_promise{"lock", later, b, std::string("owner"), lineage},
      cas_accept{"lock", b, std::string(""), lineage, later},
      cas_accept{"lock", b, std::nullopt, {}, {}},
      cas_accepted{"lock", b},
      cas_nack{"lock", b, later},
  };
}

}  // namespace

inputs peer_frame_inputs() {
  inputs out;
  int i = 0;
  for (const message& m : gossip()) out.emplace_back("gossip-" + std::to_string(m.index()) + "-" + std::to_string(i++), encode_message(m));
  for (const cas_message& m : lane()) out.emplace_back("lane-" + std::to_string(m.index()) + "-" + std::to_string(i++), encode_message(m));
  // The flat form of each (what hellos use, and what version 7 sent): both forms are read.
  for (const message& m : gossip()) out.emplace_back("gossip-flat-" + std::to_string(m.index()) + "-" + std::to_string(i++), encode_message_flat(m));
  // More than one segment (a first segment holds 8 KiB).
  out.emplace_back("gossip-push-multi-segment", encode_message(push{deltas(40), false}));
  // Two frames back to back: what a stream carries (frame_reader cuts them).
  out.emplace_back("stream-two-frames", encode_message(ping{1, members(1)}) + encode_message(sync_request{vv(2)}));
  return out;
}

}  // namespace rumor::fuzz
