// jemalloc's settings for the `rumor` binary (linked only when it links jemalloc:
// apps/CMakeLists.txt). jemalloc reads them from this symbol when the process starts; MALLOC_CONF
// in the environment overrides them.
//
// A background thread hands freed pages back to the system after a second instead of keeping
// them for ten (the default), so a node's memory after a burst of writes (write-behind layers,
// commit groups) shrinks back. Measured on this machine kind (issue 13's closing notes):
// `rumor bench memory`, 300k counters: 23-26 B of anonymous memory per key, against 208 B with
// jemalloc's defaults and 66 B with glibc malloc; `rumor bench local` durable: 11-26 % more
// updates per second than with glibc malloc.
extern "C" {
// NOLINTNEXTLINE: the name and linkage are jemalloc's interface.
const char* malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";
}
