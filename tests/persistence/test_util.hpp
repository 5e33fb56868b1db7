#pragma once
// Helpers shared by the persistence tests: temporary directories, seeds, small options.

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "persistence/options.hpp"

namespace rumor::persistence::test {

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class temp_dir {
 public:
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "rumor-persist-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The seed of a randomized test: $RUMOR_SEED if set, else random. Printed so a failure can be
// replayed with RUMOR_SEED=<seed>.
inline uint64_t test_seed(const char* test_name) {
  uint64_t seed = 0;
  if (const char* env = std::getenv("RUMOR_SEED"); env != nullptr && *env != '\0') {
    seed = std::strtoull(env, nullptr, 0);
  } else {
    std::random_device rd;
    seed = (uint64_t{rd()} << 32) ^ rd();
  }
  std::fprintf(stderr, "[%s] seed %llu (replay with RUMOR_SEED=%llu)\n", test_name,
               static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  return seed;
}

inline options small_options(const std::string& dir, durability mode = durability::durable) {
  options o;
  o.dir = dir;
  o.mode = mode;
  o.initial_map_bytes = uint64_t{1} << 20;
  o.max_map_bytes = uint64_t{1} << 30;
  // Small write-behind layers: tests materialize often, mid-run.
  o.write_behind_bytes = 256 * 1024;
  o.materialize_bytes = 16 * 1024;
  o.materialize_interval_ms = 5;
  return o;
}

}  // namespace rumor::persistence::test
