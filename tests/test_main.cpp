// doctest main shared by every test program.
//
// ctest runs each doctest case as `program --test-case=<name>`. doctest exits 0 when a filter
// matches nothing, so a case whose name ctest mangles (a ';' splits a CMake list) would pass
// without running. This main fails instead: a run in which no test case passed the filters is an
// error (listing options such as --list-test-cases are not runs and are left alone).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

namespace {

// Counts the test cases that passed the filters; one counter per process run.
unsigned& cases_run() {
  static unsigned n = 0;
  return n;
}

struct run_counter : doctest::IReporter {
  explicit run_counter(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& s) override {
    cases_run() = s.numTestCasesPassingFilters;
  }
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

REGISTER_LISTENER("run_counter", 1, run_counter);

}  // namespace

int main(int argc, char** argv) {
  doctest::Context ctx(argc, argv);
  int rc = ctx.run();
  if (ctx.shouldExit()) return rc;
  const doctest::ContextOptions* opt = doctest::getContextOptions();
  bool listing = opt != nullptr && (opt->list_test_cases || opt->list_test_suites ||
                                    opt->list_reporters || opt->count || opt->help ||
                                    opt->version || opt->no_run);
  if (!listing && cases_run() == 0) {
    std::fprintf(stderr, "test_main: no test case matched the filters (is a name mangled?)\n");
    return rc == 0 ? 1 : rc;
  }
  return rc;
}
