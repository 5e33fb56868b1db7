#pragma once
// client_ops: translation between the client protocol (client/client_messages.hpp) and the
// replication state machine (replication/replica.hpp, operations.hpp). Pure functions, no CAF:
// the replica actor uses them for every request, whether it came over TCP or from the embedding
// API.

#include <memory>
#include <optional>
#include <string>

#include "base/result.hpp"
#include "client/client_messages.hpp"
#include "replication/replica.hpp"

namespace rumor::actors {

// How a request's reply becomes its response; kept with the request while the replica works.
struct response_plan {
  // A get with a path or a view (collection_view.hpp); nullopt: the whole value.
  std::optional<client::get> read;
  // An update of a collection (a set operation, a path, a key deletion): filled in by its mutator
  // when it runs (collection_view.hpp, outcome_probe); null for counters, registers and flags.
  std::shared_ptr<client::update_outcome> outcome;
  // An update: the response carries the value after it (client::update::return_value, or a key
  // whose value does not grow: not an or_set or or_map).
  bool update_value = true;
};

struct planned_update {
  crdt::type_tag key_type;       // the type stored under the key (or_map when path is non-empty)
  replication::mutator mutate;
  response_plan response;
  // The members a set update, or the top-level field a map update, touches when its answer needs
  // no value (replica::update's `touches`: the collection is read and written in proportion to
  // them, not to its size).
  std::optional<std::vector<std::string>> touches;
};

// Builds the mutator of `u`. For op remove_key with an empty path, `key_type` names the type to
// delete (the caller looks up what the key holds). Errors: invalid_argument (empty key, a
// decrement of a g_counter, conditional put without context, a `type` other than the one the
// operation implies (counterAdd: g_counter or pn_counter; registerSet: lww_register; mvPut:
// mv_register; setAdd/setRemove: or_set; flagSet: ew_flag; removeKey with a path: the field's
// type), undecodable context, empty member list), each with a message naming the problem.
result<planned_update> plan_update(const client::update& u, crdt::type_tag key_type_for_delete);

// The replica-level view of a get of a member, size or page, or of a path (replica::read answers
// it from the set's or map's records when the key holds a decomposed set or map); nullopt for a
// whole-value read of the key.
std::optional<replication::set_view_request> set_view_of(const client::get& g);

client::consistency to_client(replication::consistency c);
replication::consistency to_replication(client::consistency c);

// The context a later write of `v` supersedes, as crdt::encode_context bytes: for an mv_register
// exactly its siblings' dots (what a conditional put checks), otherwise the value's whole context.
std::string context_bytes(const crdt::value& v);

// The response to request `id` from a replica reply, shaped by `plan` (values encoded with
// crdt::encode; an mv_register's with its context_bytes).
client::response to_response(uint64_t id, const replication::reply& r, const response_plan& plan = {});

// The plan of a get: nullopt for a plain whole-value get.
response_plan plan_read(const client::get& g);

// An error response.
client::response error_response(uint64_t id, const error& e);

}  // namespace rumor::actors
