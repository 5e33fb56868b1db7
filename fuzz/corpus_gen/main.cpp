// fuzz_corpus_gen: writes the seed corpus of every fuzz target (samples.hpp) —
//
//   fuzz_corpus_gen OUTDIR      → OUTDIR/<target>/<name>, one file per valid input
//
// Targets: fuzz_peer_frame, fuzz_client_frame, fuzz_crdt_value, fuzz_stored_record. Existing
// files of the same name are overwritten; other files (e.g. what a fuzz run added) are kept. Exit
// status 1 when a file cannot be written. ctest runs it (fixture of the fuzz replay tests), and so
// does scripts/fuzz before fuzzing.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "fuzz/corpus_gen/samples.hpp"

namespace {

bool write_all(const std::filesystem::path& dir, const rumor::fuzz::inputs& in) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    std::fprintf(stderr, "fuzz_corpus_gen: cannot create %s: %s\n", dir.c_str(), ec.message().c_str());
    return false;
  }
  for (const auto& [name, bytes] : in) {
    std::ofstream f(dir / name, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f) {
      std::fprintf(stderr, "fuzz_corpus_gen: cannot write %s\n", (dir / name).c_str());
      return false;
    }
  }
  std::printf("fuzz_corpus_gen: %zu inputs in %s\n", in.size(), dir.c_str());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
    return 1;
  }
  std::filesystem::path out(argv[1]);
  bool ok = write_all(out / "fuzz_peer_frame", rumor::fuzz::peer_frame_inputs()) &&
            write_all(out / "fuzz_client_frame", rumor::fuzz::client_frame_inputs()) &&
            write_all(out / "fuzz_crdt_value", rumor::fuzz::crdt_value_inputs()) &&
            write_all(out / "fuzz_stored_record", rumor::fuzz::stored_record_inputs());
  return ok ? 0 : 1;
}
