#pragma once
// collection_view: the parts of a key's value the client protocol answers without sending the
// whole of it (client.capnp: GetRequest path and view, CollectionView, UpdateOutcome). Pure
// functions over crdt values; the replica actor applies them to what the replica read or wrote.
//
// Where a path leads: path = {a, b} names the fields called b of the or_map held in the field
// (a, or_map) of the key's or_map. Fields share the context of the key's map, so a field read
// out of it is its store with that context (crdt::value_of). A view reads the or_set at the
// place, else the or_map (a place may hold several types when replicas created it concurrently);
// anything else there is a type_mismatch. A place that holds nothing is an empty collection.
//
// Cost: the view itself costs O(log n) for member and size, O(log n + limit) for a page — it
// walks the stores in place and copies only what it returns.

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "client/client_messages.hpp"
#include "crdt/value.hpp"

namespace rumor::actors {

// The values a get with `path` answers, from `key_values` (every type stored under the key):
// every field called path.back() at the path, each as a standalone value; `key_values` that hold
// something when the path is empty. Nothing there: empty.
std::vector<crdt::value> values_at(const std::vector<crdt::value>& key_values, const std::vector<std::string>& path);

// Whether `g` asks for something answerable. Errors: invalid_argument (a page limit of 0 or above
// client::max_page_limit). The replica actor checks before it reads; view_of checks again.
status check_view(const client::get& g);

// What a get `g` with a view other than `value` answers, from `key_values`. Errors:
// type_mismatch (the place holds something that is neither an or_set nor an or_map, or the path
// crosses a field that is not an or_map), invalid_argument (a page limit of 0 or above
// client::max_page_limit).
result<client::collection_view> view_of(const std::vector<crdt::value>& key_values, const client::get& g);

// What an update did to the collection it names: observe the key's value before the update's
// mutator runs and after it (client::update_outcome).
class outcome_probe {
 public:
  // `leaf_type`: the type the operation applies to (the field's type for a path).
  outcome_probe(const client::update& u, crdt::type_tag leaf_type);

  void before(const crdt::value& key_value) { before_ = observe(key_value); }
  client::update_outcome after(const crdt::value& key_value) const;

 private:
  struct seen {
    uint64_t size = 0;     // the collection's members / fields
    uint64_t present = 0;  // the update's members present / its field present / the key holds a value
  };
  seen observe(const crdt::value& v) const;

  client::op_kind op_;
  crdt::type_tag leaf_type_;
  std::vector<std::string> path_;
  std::vector<std::string> members_;  // distinct
  seen before_;
};

}  // namespace rumor::actors
