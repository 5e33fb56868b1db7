#pragma once
// `rumor bench [SCENARIO...] [--json FILE] [--plot FILE.png]`: measures rumor with real node
// processes on 127.0.0.1 (this same binary, in a temp dir it removes afterwards) and in-process
// state machines, prints a table, and optionally writes every figure with its parameters as
// JSON and a PNG (gnuplot) of the dissemination latency distribution and catch-up over time.
// Scenarios: local, wire, replicate, disseminate, insync, catchup, memory (default: all).
// Every scenario is bounded by --scenario-timeout; it only stops processes it started (by PID).

#include <CLI/CLI.hpp>

#include <string>

#include "bench_context.hpp"

namespace rumor::cli {

// Adds the `bench` subcommand with its options (stored into `o`) to `app`.
CLI::App* add_bench_command(CLI::App& app, bench::options& o);

// Runs the scenarios. `self` is the path of the rumor binary. Returns the exit code: 0 when
// every scenario produced its figures, 1 when one failed or timed out (the others still ran and
// are reported), 2 for bad arguments.
int run_bench(bench::options o, const std::string& self);

}  // namespace rumor::cli
