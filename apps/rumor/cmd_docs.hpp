#pragma once
// Completion scripts and the man page of `rumor`, derived at run time from the CLI11 definition
// itself, so they never drift from what the parser accepts; and the --version line.
//
// What is derived, for the app and every visible subcommand (hidden ones, group "", are left
// out): names and descriptions, each option's names, whether it takes a value, its type name,
// default and required-ness, and its value choices when an IsMember check gives them (CLI11 2.1
// exposes no set, so they are read from the check's description, "{a,b,c}"; choices are plain
// words). Global options (the app's own) are accepted after a subcommand too (fallthrough).
//
//   rumor completion bash  bash script: _rumor + `complete -o default -F _rumor rumor`. Completes
//                          command names, then the command's options plus the global ones, the
//                          choices of an option's value (`--opt V` and `--opt=V`) and of a
//                          positional; anything else falls back to file names.
//   rumor completion zsh   `#compdef rumor` script using _arguments / _describe.
//   rumor man              rumor(1) in roff (man(7) macros); text is escaped for roff.
// Each prints to stdout and exits 0. The build runs them to make the installed files.

#include <CLI/CLI.hpp>

#include <string>

namespace rumor::cli {

// "rumor 0.1.0 (commit 1a2b3c4d5e6f, protocol 2, store format 2)": project(VERSION), the build's
// git commit (build_commit.hpp), replication::protocol_version, persistence::store_format_version.
std::string version_line();

struct docs_commands {
  CLI::App* completion = nullptr;
  CLI::App* man = nullptr;
  std::string shell;  // completion's argument: bash | zsh
};

// Adds `completion SHELL` and `man` to `app`.
void add_docs_commands(CLI::App& app, docs_commands& d);

// If one of d's commands was parsed: prints its output for `app` and returns true (exit 0).
bool run_docs(CLI::App& app, const docs_commands& d);

// The generators. REQUIRES: every option and subcommand of `app` is defined.
std::string bash_completion(CLI::App& app);
std::string zsh_completion(CLI::App& app);
std::string man_page(CLI::App& app);

}  // namespace rumor::cli
