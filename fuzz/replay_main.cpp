// replay_main: runs a fuzz target's LLVMFuzzerTestOneInput over files, without libFuzzer — how the
// normal (gcc) build replays the regression inputs and the generated seed corpus in every test run.
//
//   fuzz_replay_<target> PATH...
//
// Each PATH is a file (one input) or a directory (every regular file in it, in name order; not
// recursive). A PATH that does not exist is skipped with a note (a target may have no regression
// inputs yet). Exit status: 0 when every input ran, 1 on a usage or read error or when no input
// was found at all; a broken property aborts inside the target (FUZZ_CHECK), which ctest reports.
// Bounded: at most max_inputs files per directory.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

constexpr size_t max_inputs = 100'000;

bool run_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream content;
  if (f) content << f.rdbuf();  // an empty file inserts nothing: content's failbit, no error
  std::string bytes = std::move(content).str();
  if (!f || f.bad()) {
    std::fprintf(stderr, "replay: cannot read %s\n", p.c_str());
    return false;
  }
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
    return 1;
  }
  size_t ran = 0;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path path(argv[i]);
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      std::printf("replay: %s does not exist, skipped\n", argv[i]);
      continue;
    }
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(path, ec)) {
      for (const auto& e : std::filesystem::directory_iterator(path, ec)) {
        if (files.size() == max_inputs) break;
        if (e.is_regular_file()) files.push_back(e.path());
      }
      if (ec) {
        std::fprintf(stderr, "replay: cannot list %s: %s\n", argv[i], ec.message().c_str());
        return 1;
      }
      std::sort(files.begin(), files.end());
    } else {
      files.push_back(path);
    }
    for (const auto& f : files) {
      if (!run_file(f)) return 1;
      ++ran;
    }
    std::printf("replay: %s: %zu inputs\n", argv[i], files.size());
  }
  if (ran == 0) {
    std::fprintf(stderr, "replay: no input found\n");
    return 1;
  }
  std::printf("replay: %zu inputs, no finding\n", ran);
  return 0;
}
