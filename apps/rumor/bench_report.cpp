#include "bench_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "client/render.hpp"

namespace rumor::cli::bench {

namespace {

std::string quote(const std::string& s) { return client::json_quote(s); }

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  std::ostringstream o;
  o.precision(10);
  o << v;
  return o.str();
}

std::string params_text(const figure& f) {
  std::string s;
  for (const auto& [k, v] : f.params) {
    if (!s.empty()) s += ' ';
    s += k + "=" + v;
  }
  return s;
}

}  // namespace

std::string fmt(double v) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  double a = std::fabs(v);
  if (a >= 100 || v == std::floor(v)) std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (a >= 1) std::snprintf(buf, sizeof buf, "%.2f", v);
  else std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

void report::print_table(std::FILE* out) const {
  std::fprintf(out, "\n%-12s %-34s %14s %-10s %-6s %s\n", "scenario", "figure", "value", "unit", "goal", "parameters / goal");
  std::fprintf(out, "%s\n", std::string(120, '-').c_str());
  for (const auto& f : figures_) {
    const char* verdict = !f.meets ? "" : *f.meets ? "ok" : "MISS";
    std::fprintf(out, "%-12s %-34s %14s %-10s %-6s %s%s%s\n", f.scenario.c_str(), f.name.c_str(), fmt(f.value).c_str(),
                 f.unit.c_str(), verdict, params_text(f).c_str(), f.goal.empty() ? "" : "  | goal: ", f.goal.c_str());
  }
  for (const auto& [sc, msg] : failures_) std::fprintf(out, "%-12s FAILED: %s\n", sc.c_str(), msg.c_str());
  std::fflush(out);
}

bool report::write_json(const std::string& path) const {
  std::ofstream o(path);
  if (!o) {
    std::cerr << "rumor bench: cannot write " << path << "\n";
    return false;
  }
  o << "{\n  \"run\": {";
  for (size_t i = 0; i < info_.size(); ++i)
    o << (i ? ", " : "") << quote(info_[i].first) << ": " << quote(info_[i].second);
  o << "},\n  \"figures\": [\n";
  for (size_t i = 0; i < figures_.size(); ++i) {
    const auto& f = figures_[i];
    o << "    {\"scenario\": " << quote(f.scenario) << ", \"name\": " << quote(f.name)
      << ", \"value\": " << json_number(f.value) << ", \"unit\": " << quote(f.unit) << ", \"params\": {";
    for (size_t j = 0; j < f.params.size(); ++j)
      o << (j ? ", " : "") << quote(f.params[j].first) << ": " << quote(f.params[j].second);
    o << "}, \"goal\": " << (f.goal.empty() ? "null" : quote(f.goal))
      << ", \"meets_goal\": " << (!f.meets ? "null" : *f.meets ? "true" : "false") << "}"
      << (i + 1 < figures_.size() ? "," : "") << "\n";
  }
  o << "  ],\n  \"failures\": [";
  for (size_t i = 0; i < failures_.size(); ++i)
    o << (i ? ", " : "") << "{\"scenario\": " << quote(failures_[i].first) << ", \"message\": " << quote(failures_[i].second) << "}";
  o << "],\n  \"series\": {\n";
  for (size_t i = 0; i < series_.size(); ++i) {
    o << "    " << quote(series_[i].name) << ": [";
    for (size_t j = 0; j < series_[i].points.size(); ++j)
      o << (j ? ", " : "") << "[" << json_number(series_[i].points[j].first) << ", "
        << json_number(series_[i].points[j].second) << "]";
    o << "]" << (i + 1 < series_.size() ? "," : "") << "\n";
  }
  o << "  }\n}\n";
  o.close();
  if (!o) {
    std::cerr << "rumor bench: writing " << path << " failed\n";
    return false;
  }
  return true;
}

bool report::plot(const std::string& png, const std::string& work_dir) const {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    std::cerr << "rumor bench: gnuplot is not installed, so no plot was drawn (" << png
              << "); install it with `apt-get install gnuplot-nox` (scripts/setup does) and run again\n";
    return false;
  }
  // Dissemination: sorted samples as an empirical CDF per series; catch-up: progress series.
  std::vector<std::pair<std::string, std::string>> cdf_files, progress_files;
  for (const auto& s : series_) {
    bool diss = s.name.rfind("disseminate_", 0) == 0;
    bool prog = s.name.rfind("catchup_", 0) == 0;
    if (!diss && !prog) continue;
    std::string file = work_dir + "/" + s.name + ".dat";
    std::ofstream o(file);
    if (diss) {
      std::vector<double> ys;
      for (auto& p : s.points) ys.push_back(p.second);
      std::sort(ys.begin(), ys.end());
      for (size_t i = 0; i < ys.size(); ++i) o << ys[i] << " " << double(i + 1) / double(ys.size()) << "\n";
      cdf_files.emplace_back(file, s.name);
    } else {
      for (auto& p : s.points) o << p.first << " " << p.second << "\n";
      progress_files.emplace_back(file, s.name);
    }
  }
  if (cdf_files.empty() && progress_files.empty()) {
    std::cerr << "rumor bench: nothing to plot (run the disseminate and/or catchup scenarios); no " << png << "\n";
    return false;
  }
  std::string script = work_dir + "/plot.gp";
  {
    std::ofstream g(script);
    g << "set terminal pngcairo size 1400,600 noenhanced\n";
    g << "set output " << quote(png) << "\n";
    int panels = (cdf_files.empty() ? 0 : 1) + (progress_files.empty() ? 0 : 1);
    g << "set multiplot layout 1," << panels << "\n";
    g << "set grid\nset key bottom right\n";
    if (!cdf_files.empty()) {
      g << "set title 'dissemination latency: update on a random node until every node has it'\n";
      g << "set xlabel 'ms'\nset ylabel 'fraction of samples'\nset logscale x\nset yrange [0:1.02]\n";
      g << "plot ";
      for (size_t i = 0; i < cdf_files.size(); ++i)
        g << (i ? ", " : "") << quote(cdf_files[i].first) << " using 1:2 with steps lw 2 title " << quote(cdf_files[i].second);
      g << "\nunset logscale x\nset yrange [*:*]\n";
    }
    if (!progress_files.empty()) {
      g << "set title 'catch-up: keys held by the syncing node over time'\n";
      g << "set xlabel 's since the node process started'\nset ylabel 'keys'\nset key top left\n";
      g << "plot ";
      for (size_t i = 0; i < progress_files.size(); ++i)
        g << (i ? ", " : "") << quote(progress_files[i].first) << " using ($1/1000):2 with lines lw 2 title "
          << quote(progress_files[i].second);
      g << "\n";
    }
    g << "unset multiplot\n";
  }
  std::string cmd = "gnuplot " + quote(script) + " 2>" + quote(work_dir + "/gnuplot.err");
  if (std::system(cmd.c_str()) != 0) {
    std::ifstream e(work_dir + "/gnuplot.err");
    std::stringstream ss;
    ss << e.rdbuf();
    std::cerr << "rumor bench: gnuplot failed, no plot: " << ss.str() << "\n";
    return false;
  }
  std::cerr << "rumor bench: plot written to " << png << "\n";
  return true;
}

}  // namespace rumor::cli::bench
