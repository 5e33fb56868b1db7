# build_commit.cmake — run at BUILD time (cmake -P) by the rumor_build_commit target.
# Writes OUT, a C++ file defining rumor::cli::build_commit() (apps/rumor/build_commit.hpp), with
# the git commit of SOURCE_DIR: 12 hex digits, "-dirty" appended when tracked files differ from
# it; "unknown" outside a git checkout (source tarball) or without git.
# OUT is rewritten only when its content changes, so a build without a new commit recompiles
# nothing, and a new commit recompiles this one file and relinks `rumor`.
#   cmake -DSOURCE_DIR=<dir> -DOUT=<file.cpp> -P build_commit.cmake
if(NOT SOURCE_DIR OR NOT OUT)
  message(FATAL_ERROR "build_commit.cmake: SOURCE_DIR and OUT must be set")
endif()

set(commit "unknown")
find_program(GIT_EXECUTABLE git)
if(GIT_EXECUTABLE)
  execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${SOURCE_DIR}" rev-parse --short=12 HEAD
                  RESULT_VARIABLE rc OUTPUT_VARIABLE head ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
  # Only a checkout whose top level is SOURCE_DIR counts: a tarball unpacked inside some other
  # repository must not report that repository's commit.
  execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${SOURCE_DIR}" rev-parse --show-toplevel
                  OUTPUT_VARIABLE top ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
  get_filename_component(top "${top}" REALPATH)
  get_filename_component(src "${SOURCE_DIR}" REALPATH)
  if(rc EQUAL 0 AND head MATCHES "^[0-9a-f]+$" AND top STREQUAL src)
    set(commit "${head}")
    execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${SOURCE_DIR}" diff --quiet HEAD --
                    RESULT_VARIABLE dirty ERROR_QUIET)
    if(dirty EQUAL 1)
      string(APPEND commit "-dirty")
    endif()
  endif()
endif()

set(content "// Generated at build time by cmake/build_commit.cmake; do not edit.
#include \"build_commit.hpp\"

namespace rumor::cli {

const char* build_commit() { return \"${commit}\"; }

}  // namespace rumor::cli
")
set(old "")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL content)
  file(WRITE "${OUT}" "${content}")
endif()
