# rumor_docs.cmake — run at build time (cmake -P) after `rumor` is built: writes the completion
# scripts and the man page that `rumor` derives from its own CLI definition (apps/rumor/cmd_docs.hpp).
#   cmake -DRUMOR=<rumor binary> -DOUT_DIR=<dir> [-DGZIP=<gzip>] -P rumor_docs.cmake
# Writes OUT_DIR/rumor.bash-completion, OUT_DIR/_rumor, OUT_DIR/rumor.1 and, with GZIP,
# OUT_DIR/rumor.1.gz (gzip -9n: no name or time stamp, so the bytes are reproducible).
if(NOT RUMOR OR NOT OUT_DIR)
  message(FATAL_ERROR "rumor_docs.cmake: RUMOR and OUT_DIR must be set")
endif()

function(run_into out)
  execute_process(COMMAND "${RUMOR}" ${ARGN} OUTPUT_FILE "${OUT_DIR}/${out}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "rumor ${ARGN} failed (${rc})")
  endif()
endfunction()

run_into(rumor.bash-completion completion bash)
run_into(_rumor completion zsh)
run_into(rumor.1 man)
if(GZIP)
  execute_process(COMMAND "${GZIP}" -9n -c "${OUT_DIR}/rumor.1" OUTPUT_FILE "${OUT_DIR}/rumor.1.gz" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gzip failed (${rc})")
  endif()
endif()
