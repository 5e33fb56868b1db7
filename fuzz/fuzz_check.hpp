#pragma once
// fuzz_check: the one way a fuzz target reports a broken property. FUZZ_CHECK(cond, what) prints
// the failed condition and `what` to stderr and aborts: libFuzzer records the input as a crash,
// and the replay driver (replay_main.cpp) dies, so ctest fails. Unlike assert() it stays on under
// NDEBUG (the normal RelWithDebInfo build replays every target).

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond, what)                                                             \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed: %s\n", __FILE__, __LINE__, #cond, \
                   (what));                                                                \
      std::abort();                                                                        \
    }                                                                                      \
  } while (false)
