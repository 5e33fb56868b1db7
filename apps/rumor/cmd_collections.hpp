#pragma once
// The `rumor` commands that read parts of a collection (sismember, scard, smembers, get --field)
// and the paged reading of a set or map too big for one frame: each asks the node for a view
// (client::get with path and view, client.capnp GetRequest) instead of the whole value. Output is
// printed as it arrives, a page at a time, so memory stays bounded by one page (10,000 members)
// whatever the collection's size.

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "client/client_messages.hpp"

namespace rumor::cli {

// Sends one request and returns the node's response (its transport errors as errors).
using call_fn = std::function<result<client::response>(client::request)>;

inline constexpr uint32_t whole_page_limit = 10'000;

// One view of the collection `g` names. Errors: the call's, or the node's answer.
result<client::collection_view> fetch_view(const call_fn& call, client::get g);

// Members (or "name: value" fields) after g.after, one per line (JSON: one object), page by page:
// with `limit` one page of at most that many, and when more follow, a last line saying where the
// next page starts (JSON: "more" and "next"); without it, every page. Stops with an error if the
// node's pages do not advance.
status print_pages(const call_fn& call, bool json, client::get g, std::optional<uint32_t> limit, std::ostream& out);

// The whole or_set / or_map at g.key / g.path, printed exactly as `rumor get` prints a value
// (client/render.hpp: text or JSON), built from pages. Nothing stored there: prints nothing and
// returns false.
result<bool> print_whole(const call_fn& call, bool json, client::get g, std::ostream& out);

}  // namespace rumor::cli
