#include "persistence/key_range.hpp"

namespace rumor::persistence {

std::optional<std::string> prefix_successor(std::string_view prefix) {
  std::string s{prefix};
  while (!s.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(s.back());
    if (last != 0xff) {
      ++last;
      return s;
    }
    s.pop_back();
  }
  return std::nullopt;
}

key_range key_range::all() { return key_range{}; }

key_range key_range::with_prefix(std::string_view prefix) {
  return key_range{std::string{prefix}, prefix_successor(prefix)};
}

key_range key_range::between(std::string_view from, std::string_view to) {
  return key_range{std::string{from}, std::string{to}};
}

key_range key_range::starting_at(std::string_view from) {
  return key_range{std::string{from}, std::nullopt};
}

bool key_range::contains(std::string_view key) const noexcept {
  return key >= std::string_view{from} && !past_end(key);
}

}  // namespace rumor::persistence
