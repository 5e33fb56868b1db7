# RUMOR_SANITIZE=ON: AddressSanitizer + UndefinedBehaviorSanitizer for every target of this
# project (scripts/sanitize builds and runs the tests with it). Any UB report is fatal
# (-fno-sanitize-recover). The third-party libraries (CAF, Cap'n Proto, LMDB, spdlog, the C++
# standard library) stay uninstrumented: ASan still catches rumor's own bad accesses to their
# memory (malloc and free are intercepted process-wide); it cannot see bad accesses inside them.
# libstdc++ 12 annotates no containers unless _GLIBCXX_SANITIZE_VECTOR is defined, so mixing
# instrumented and uninstrumented code raises no container-overflow false positives.
option(RUMOR_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
if(RUMOR_SANITIZE)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    message(FATAL_ERROR "RUMOR_SANITIZE needs gcc or clang (got ${CMAKE_CXX_COMPILER_ID})")
  endif()
  # -fno-sanitize=vptr: the dynamic-type check of every polymorphic member call costs about a sixth
  # of the compile time of a CAF-heavy file (CI builds this stage cold); rumor has no downcasts
  # for it to check beyond what CAF does inside its own (uninstrumented) library.
  set(RUMOR_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=undefined
                           -fno-omit-frame-pointer)
  add_compile_options(${RUMOR_SANITIZE_FLAGS})
  add_link_options(${RUMOR_SANITIZE_FLAGS})
endif()
