#pragma once
// samples: the seed corpus of the fuzz targets — valid inputs of every kind, made with the
// product's own encoders (so they track the formats as they change). Deterministic: a fixed seed,
// the same inputs on every machine and run. Each function returns (name, bytes) pairs for one
// target; corpus_gen_main.cpp writes them as files.
//
//   crdt_value_inputs      every CRDT type: bottom, one write, several origins, removals (context
//                          clouds), nested maps, binary and large payloads; states and deltas; in
//                          the compact, packed and old unpacked forms; contexts
//   peer_frame_inputs      every gossip message kind and every compare-and-set lane kind, empty
//                          and filled, one multi-segment frame; two frames back to back
//   client_frame_inputs    every request body kind, responses (values, keys, members, status,
//                          errors) and events
//   stored_record_inputs   stored values (format 2 and 1), log records (format 3 and 2), wal
//                          records of every operation kind, framed records, version vectors,
//                          storage keys

#include <string>
#include <utility>
#include <vector>

#include "crdt/value.hpp"

namespace rumor::fuzz {

using named_input = std::pair<std::string, std::string>;
using inputs = std::vector<named_input>;

// Values of every type (crdt_samples.cpp), for the other samples to carry as crdt bytes.
std::vector<crdt::value> sample_values();

inputs crdt_value_inputs();
inputs peer_frame_inputs();
inputs client_frame_inputs();
inputs stored_record_inputs();

}  // namespace rumor::fuzz
