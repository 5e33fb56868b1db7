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
//
// thp:always asks for transparent huge pages (madvise) on the memory jemalloc maps, where the
// kernel allows them ("madvise" or "always" in /sys/kernel/mm/transparent_hugepage/enabled; a
// no-op under "never"). A node's hot memory is large and dense — write-behind layers of tens of
// MiB filled at every commit, their indexes, the 2 MiB presence filter — and each 4 KiB
// page of it first costs a fault: ~12 % of a catching-up node's CPU in `perf` on this VM. With
// huge pages, measured back to back on this machine kind (2026-12-06): `rumor bench replicate`
// 64,140 and 68,983 -> 92,703 and 86,973 updates/s; `rumor bench catchup` after kill -9 1,450,
// 1,525, 1,562 -> 1,200, 1,262, 1,048 ms; `rumor bench memory` (1M counters) unchanged: 121 B RSS
// and 14.7 B anonymous per key, against 123 and 16.8.
extern "C" {
// NOLINTNEXTLINE: the name and linkage are jemalloc's interface.
const char* malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,thp:always";
}
