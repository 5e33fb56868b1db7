#pragma once
// bench_report: the figures `rumor bench` measured, with their parameters and goals; printed as a
// table, written as JSON (--json) and drawn with gnuplot (--plot).

#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rumor::cli::bench {

struct figure {
  std::string scenario;                        // local, replicate, disseminate, ...
  std::string name;                            // e.g. "end_to_end_throughput"
  double value = 0;
  std::string unit;                            // updates/s, ms, bytes, ...
  std::vector<std::pair<std::string, std::string>> params;  // everything the value depends on
  std::string goal;                            // human-readable goal ("" = none)
  std::optional<bool> meets;                   // goal verdict, when there is a goal
};

// Named series for the plot and the JSON (raw samples, progress over time).
struct series {
  std::string name;                            // e.g. "disseminate_n16_ms"
  std::vector<std::pair<double, double>> points;  // (x, y); samples use x = index
};

class report {
 public:
  void add(figure f) { figures_.push_back(std::move(f)); }
  void add_series(series s) { series_.push_back(std::move(s)); }
  void add_failure(std::string scenario, std::string message) { failures_.emplace_back(std::move(scenario), std::move(message)); }
  void set_run_info(std::vector<std::pair<std::string, std::string>> info) { info_ = std::move(info); }

  const std::vector<figure>& figures() const { return figures_; }
  const std::vector<series>& all_series() const { return series_; }
  const std::vector<std::pair<std::string, std::string>>& failures() const { return failures_; }

  // The table on `out` (stdout).
  void print_table(std::FILE* out) const;
  // Writes the JSON document to `path`; false (and a message on stderr) if it cannot.
  bool write_json(const std::string& path) const;
  // Draws the dissemination latency distribution and catch-up progress into `png` with gnuplot,
  // using `work_dir` for data files. Returns false with a message on stderr when gnuplot is
  // missing or fails (the caller goes on: the plot is optional).
  bool plot(const std::string& png, const std::string& work_dir) const;

 private:
  std::vector<figure> figures_;
  std::vector<series> series_;
  std::vector<std::pair<std::string, std::string>> failures_;
  std::vector<std::pair<std::string, std::string>> info_;
};

// Formats a number for tables and params: integers without decimals, others with 3 significant
// digits after the point where useful.
std::string fmt(double v);

}  // namespace rumor::cli::bench
