#include "client/field_path.hpp"

namespace rumor::client {

result<std::vector<std::string>> parse_field_path(std::string_view text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  size_t start = 0;
  while (true) {
    size_t dot = text.find('.', start);
    std::string_view name = text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (name.empty()) return error{errc::invalid_argument, "field path '" + std::string(text) + "' has an empty field name"};
    out.emplace_back(name);
    if (dot == std::string_view::npos) return out;
    start = dot + 1;
  }
}

}  // namespace rumor::client
