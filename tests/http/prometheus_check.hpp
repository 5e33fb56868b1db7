#pragma once
// A strict checker of the Prometheus text exposition format (0.0.4) for tests: every sample
// belongs to a family declared by HELP and TYPE lines before it; names and label names match the
// format's grammar; label values are quoted with only \\ \" \n escapes; values parse as floats;
// counters end in _total; a histogram has cumulative _bucket samples per label set ending with
// le="+Inf" equal to its _count, and a _sum. Returns the problems (empty: valid) and the samples.

#include <cmath>
#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace rumor::test {

struct prom_sample {
  std::string name;
  std::string labels;  // as written, without braces
  double value = 0;
};

struct prom_result {
  std::vector<std::string> problems;
  std::vector<prom_sample> samples;
  // The value of `name` with exactly `labels` (as written), or NAN.
  double value(const std::string& name, const std::string& labels = "") const {
    for (const auto& s : samples)
      if (s.name == name && s.labels == labels) return s.value;
    return NAN;
  }
};

inline prom_result check_prometheus(const std::string& text) {
  prom_result r;
  static const std::regex name_re("[a-zA-Z_:][a-zA-Z0-9_:]*");
  static const std::regex label_re(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)")re");
  std::map<std::string, std::string> types;
  std::set<std::string> helped;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  auto bad = [&](const std::string& why) { r.problems.push_back("line " + std::to_string(n) + ": " + why + ": " + line); };
  auto family_of = [&](const std::string& sample) -> std::string {
    if (types.count(sample)) return sample;
    for (const char* suf : {"_bucket", "_sum", "_count"}) {
      std::string s(suf);
      if (sample.size() > s.size() && sample.ends_with(s)) {
        std::string base = sample.substr(0, sample.size() - s.size());
        if (types.count(base) && (types[base] == "histogram" || types[base] == "summary")) return base;
      }
    }
    return {};
  };
  // histogram checks: per (family, labels without le) the buckets in order
  std::map<std::string, std::vector<std::pair<std::string, double>>> buckets;
  std::map<std::string, double> counts;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      std::istringstream ls(line.substr(7));
      std::string name, rest;
      ls >> name;
      std::getline(ls, rest);
      if (!std::regex_match(name, name_re)) bad("bad metric name");
      if (line.starts_with("# HELP ")) {
        if (helped.count(name)) bad("second HELP");
        helped.insert(name);
      } else {
        std::string t = rest.empty() ? "" : rest.substr(1);
        if (t != "counter" && t != "gauge" && t != "histogram" && t != "summary" && t != "untyped") bad("bad TYPE");
        if (types.count(name)) bad("second TYPE");
        if (t == "counter" && !name.ends_with("_total")) bad("counter not named *_total");
        types[name] = t;
      }
      continue;
    }
    if (line[0] == '#') continue;
    std::string name, labels, value;
    auto brace = line.find('{');
    auto space = line.rfind(' ');
    if (space == std::string::npos) {
      bad("no value");
      continue;
    }
    if (brace != std::string::npos && brace < space) {
      auto close = line.rfind('}', space);
      if (close == std::string::npos || close < brace) {
        bad("unclosed labels");
        continue;
      }
      name = line.substr(0, brace);
      labels = line.substr(brace + 1, close - brace - 1);
      if (close + 1 != space) bad("junk after labels");
      // labels: label="value"(,label="value")*
      std::string rest = labels;
      bool first = true;
      while (!rest.empty()) {
        if (!first) {
          if (rest[0] != ',') {
            bad("labels not comma-separated");
            break;
          }
          rest = rest.substr(1);
        }
        std::smatch m;
        if (!std::regex_search(rest, m, label_re, std::regex_constants::match_continuous)) {
          bad("bad label");
          break;
        }
        rest = m.suffix();
        first = false;
      }
    } else {
      name = line.substr(0, space);
    }
    value = line.substr(space + 1);
    if (!std::regex_match(name, name_re)) bad("bad sample name");
    char* end = nullptr;
    double v = std::strtod(value.c_str(), &end);
    if (value == "+Inf") v = INFINITY;
    else if (value == "-Inf") v = -INFINITY;
    else if (end == value.c_str() || *end != '\0') bad("bad value");
    std::string fam = family_of(name);
    if (fam.empty()) bad("sample without TYPE");
    else if (!helped.count(fam)) bad("sample without HELP");
    if (!fam.empty() && types[fam] == "histogram") {
      std::string key_labels = std::regex_replace(labels, std::regex(R"re(,?le="[^"]*")re"), "");
      if (name == fam + "_bucket") {
        std::smatch m;
        if (!std::regex_search(labels, m, std::regex(R"re(le="([^"]*)")re"))) bad("bucket without le");
        else buckets[fam + "{" + key_labels + "}"].push_back({m[1], v});
      } else if (name == fam + "_count") {
        counts[fam + "{" + key_labels + "}"] = v;
      }
    }
    r.samples.push_back(prom_sample{name, labels, v});
  }
  for (const auto& [k, bs] : buckets) {
    double prev = -1;
    for (const auto& [le, v] : bs) {
      if (v < prev) r.problems.push_back(k + ": buckets not cumulative");
      prev = v;
    }
    if (bs.empty() || bs.back().first != "+Inf") r.problems.push_back(k + ": last bucket is not le=\"+Inf\"");
    else if (!counts.count(k) || counts[k] != bs.back().second) r.problems.push_back(k + ": +Inf bucket != _count");
  }
  return r;
}

}  // namespace rumor::test
