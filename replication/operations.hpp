#pragma once
// operations: the client operations of rumor as replica mutators (replica.hpp), one function per
// operation. Each checks its arguments, applies one CRDT mutator to the key's current value and
// returns the delta. The node runtime and the CLI build every update from these.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crdt/dot_context.hpp"
#include "replication/replica.hpp"

namespace rumor::replication::ops {

// pn_counter += by (negative: decrement).
mutator counter_add(int64_t by);
// g_counter += by.
mutator grow_counter(uint64_t by);
// lww_register := value, at the node's HLC time.
mutator register_set(std::string value);
// mv_register := value. With `seen` (a context from an earlier read) supersedes exactly what it
// covers; with conditional = true fails with errc::conflict (changing nothing) when anything was
// written since that read. REQUIRES: conditional implies seen.
mutator mv_put(std::string value, std::optional<crdt::dot_context> seen, bool conditional);
// or_set += members / -= members (as observed here).
mutator set_add(std::vector<std::string> members);
mutator set_remove(std::vector<std::string> members);
// ew_flag on / off.
mutator flag_set(bool on);
// text: replaces `del` codepoints at codepoint `pos` with `ins` (UTF-8). With conditional = true
// and `seen` (the context of an earlier read), fails with errc::conflict (changing nothing) when
// the text changed since that read, so a client can splice at positions it computed from that
// read. errc::invalid_argument for a range past the end or bad UTF-8.
mutator text_splice(uint64_t pos, uint64_t del, std::string ins, std::optional<crdt::dot_context> seen, bool conditional);
// or_map field update: applies `inner` (any operation above, of type `field_type`) to the field.
mutator map_update(std::string field, crdt::type_tag field_type, mutator inner);
// or_map field removal (as observed here): every type of the name, or with `type` only that
// type's field (a field is identified by its name and type).
mutator map_remove(std::string field, std::optional<crdt::type_tag> type = std::nullopt);
// Deletes the key (any type): removes everything observed here. A concurrent update survives.
mutator remove_key();

}  // namespace rumor::replication::ops
