#!/bin/sh
# Checks of `rumor --version`, `rumor completion bash|zsh` and `rumor man` (ctest: apps/CMakeLists.txt).
#   check_docs.sh version RUMOR PROJECT_VERSION   the version line, exit 0
#   check_docs.sh bash RUMOR    bash -n; real completions: commands, options, choices
#   check_docs.sh zsh RUMOR     zsh -n (exit 77, "skipped", without zsh)
#   check_docs.sh man RUMOR     every command and every `rumor node` option in the page; renders
#                               without warnings when groff (or man) is installed
set -eu
what=$1
rumor=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The commands `rumor --help` lists.
commands() {
  "$rumor" --help | awk '/^Subcommands:/ { s = 1; next } s && /^  [a-z]/ { print $1 }'
}

case $what in
version)
  out=$("$rumor" --version) || fail "rumor --version exited $?"
  re=$(printf '%s' "$3" | sed 's/\./\\./g')
  printf '%s\n' "$out" | grep -Eqx "rumor $re \(commit ([0-9a-f]{12}(-dirty)?|unknown), protocol [0-9]+, store format [0-9]+\)" ||
    fail "unexpected version line: $out"
  echo "$out"
  ;;

bash)
  "$rumor" completion bash >"$tmp/rumor.bash" || fail "rumor completion bash failed"
  bash -n "$tmp/rumor.bash" || fail "bash -n"
  # complete WORD...: what the script offers for the last word (the one being typed).
  complete() {
    bash --norc --noprofile -c '. "$0"
      COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
      _rumor rumor "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
      printf "%s\n" "${COMPREPLY[@]}"' "$tmp/rumor.bash" "$@"
  }
  expect() {  # expect WANT WORD...
    want=$1; shift
    complete "$@" | grep -qx -- "$want" || fail "'$*' does not offer '$want' (offers: $(complete "$@" | tr '\n' ' '))"
  }
  expect get rumor ge
  expect --durability rumor node --dur
  expect --connect rumor node --con        # global options after the command
  expect relaxed rumor node --durability ""
  expect relaxed rumor cluster --durability = re
  expect majority rumor --consistency ""
  expect zsh rumor completion ""
  expect --absent rumor --json cas --ab
  complete rumor node --dur | grep -qx -- --nodes && fail "rumor node offers cluster's --nodes"
  n=0
  for c in $(commands); do
    expect "$c" rumor "$(printf '%s' "$c" | cut -c1)"
    expect "$c" rumor ""
    n=$((n + 1))
  done
  [ "$n" -gt 10 ] || fail "found only $n commands in rumor --help"
  echo "bash completion: ok ($n commands)"
  ;;

zsh)
  "$rumor" completion zsh >"$tmp/_rumor" || fail "rumor completion zsh failed"
  head -n1 "$tmp/_rumor" | grep -qx '#compdef rumor' || fail "no #compdef line"
  for c in $(commands); do grep -q "^ *'$c:" "$tmp/_rumor" || fail "command $c missing"; done
  if ! command -v zsh >/dev/null 2>&1; then
    echo "zsh is not installed: skipping zsh -n"
    exit 77
  fi
  zsh -n "$tmp/_rumor" || fail "zsh -n"
  echo "zsh completion: ok"
  ;;

man)
  "$rumor" man >"$tmp/rumor.1" || fail "rumor man failed"
  # The page with roff's \- as plain '-', to look names up.
  sed 's/\\-/-/g' "$tmp/rumor.1" >"$tmp/plain"
  for s in NAME SYNOPSIS DESCRIPTION '"GLOBAL OPTIONS"' COMMANDS '"EXIT STATUS"' ENVIRONMENT FILES '"SEE ALSO"'; do
    grep -qx ".SH $s" "$tmp/rumor.1" || fail "section $s missing"
  done
  grep -q '^\.B RUMOR_CONNECT$' "$tmp/rumor.1" || fail "RUMOR_CONNECT missing"
  n=0
  for c in $(commands); do
    grep -q "^\.SS \"rumor $c[ \"]" "$tmp/plain" || fail "command $c has no section"
    n=$((n + 1))
  done
  [ "$n" -gt 10 ] || fail "found only $n commands in rumor --help"
  # Every option of `rumor node --help` (its own and the global ones) appears as bold text.
  for o in $("$rumor" node --help | grep -oE -- '(^|[ ,])--?[a-z][a-z-]*' | sed 's/^[ ,]//' | sort -u); do
    grep -q -- "\\\\fB$o\\\\fR" "$tmp/plain" || fail "option $o of rumor node missing"
  done
  # No stray roff: a text line must not start with a control character it did not mean.
  if grep -n "^[.']" "$tmp/rumor.1" | grep -vE "^[0-9]+:\.(\\\\\"|TH|SH|SS|TP|PP|B|I|BR|br)( |$)"; then
    fail "unexpected request lines"
  fi
  if command -v groff >/dev/null 2>&1; then
    groff -man -Tutf8 -ww -z "$tmp/rumor.1" 2>"$tmp/warnings" || fail "groff failed"
    [ ! -s "$tmp/warnings" ] || { cat "$tmp/warnings" >&2; fail "groff warnings"; }
    echo "man page: ok ($n commands; groff renders it without warnings)"
  elif command -v man >/dev/null 2>&1; then
    MANWIDTH=80 man --warnings -l "$tmp/rumor.1" >/dev/null 2>"$tmp/warnings" || fail "man -l failed"
    [ ! -s "$tmp/warnings" ] || { cat "$tmp/warnings" >&2; fail "man warnings"; }
    echo "man page: ok ($n commands; man renders it without warnings)"
  else
    echo "man page: ok ($n commands; structure only: neither groff nor man is installed)"
  fi
  ;;

*) fail "unknown check $what" ;;
esac
