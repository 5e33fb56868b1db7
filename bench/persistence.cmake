# persistence_bench: durable group-commit throughput of lmdb_store beside bare LMDB batched puts.
# The bare baseline (persistence/bench_bare_lmdb.cpp) is compiled into this program only, so that
# lmdb.h stays inside persistence/.
add_executable(persistence_bench
  ${CMAKE_CURRENT_LIST_DIR}/persistence_bench.cpp
  ${PROJECT_SOURCE_DIR}/persistence/bench_bare_lmdb.cpp)
target_link_libraries(persistence_bench PRIVATE rumor_persistence LMDB::lmdb)
