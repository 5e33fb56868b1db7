#pragma once
// field_path: the text form of a nested or_map path, "a.b" -> {"a", "b"} (the CLI's --field and
// the HTTP API's ?field=). Field names containing '.' cannot be written this way; the protocol's
// path (client::get::path, client::update::path) takes any bytes.

#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace rumor::client {

// "" -> {} (the key itself). Errors: invalid_argument naming `text` when a name is empty ("a..b",
// ".a", "a.").
result<std::vector<std::string>> parse_field_path(std::string_view text);

}  // namespace rumor::client
