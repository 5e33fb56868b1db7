#pragma once
// The git commit `rumor` was built from: 12 hex digits, with "-dirty" when the tree had local
// changes, or "unknown" when built outside a git checkout. Defined in the generated
// ${PROJECT_BINARY_DIR}/generated/build_commit.cpp (cmake/build_commit.cmake, run at every
// build; the file only changes, and only it recompiles, when the commit does).

namespace rumor::cli {

const char* build_commit();

}  // namespace rumor::cli
