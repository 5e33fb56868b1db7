#!/usr/bin/env bash
# Out-of-tree consumers of an installed rumor (the packaging issue's acceptance):
#   1. `cmake --install` of this build into a temporary prefix installs only the public headers,
#      and none of them includes CAF, Cap'n Proto (capnp/, kj/) or LMDB;
#   2. examples/embed, a separate CMake project, builds against the prefix with find_package(rumor)
#      and its embedded node joins a `rumor node` process (the installed binary) on 127.0.0.1:
#      the node process serves the example's counter afterwards;
#   3. the same program builds with pkg-config alone and runs.
# Every wait is bounded; the script stops only the node process it started, by its PID.
#
#   consumers.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d)
node_pid=""
cleanup() {
  if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then
    kill "$node_pid"
    for _ in $(seq 50); do kill -0 "$node_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$node_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$work/node.log" ] && sed 's/^/  node: /' "$work/node.log" >&2; exit 1; }

prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >"$work/install.log" || fail "cmake --install: $(cat "$work/install.log")"

# 1. the installed headers are exactly the public ones and name no third-party library
headers=$(cd "$prefix/include" && find . -type f | sort | tr '\n' ' ')
[ "$headers" = "./rumor/error.hpp ./rumor/node.hpp ./rumor/result.hpp ./rumor/value.hpp ./rumor/version.hpp " ] ||
  fail "installed headers are not the public set: $headers"
if grep -rnE '#[[:space:]]*include[[:space:]]*[<"](caf/|capnp/|kj/|lmdb\.h|spdlog/)' "$prefix/include"; then
  fail "an installed header includes a third-party library"
fi
if grep -rnE '#[[:space:]]*include[[:space:]]*"' "$prefix/include"; then
  fail "an installed header includes a project-internal (quoted) header"
fi
echo "ok: public headers only ($headers)"

# 2. find_package consumer, joined to a node process
cmake -S "$src/examples/embed" -B "$work/embed" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
  >"$work/configure.log" 2>&1 || fail "configure examples/embed: $(cat "$work/configure.log")"
cmake --build "$work/embed" >"$work/build.log" 2>&1 || fail "build examples/embed: $(cat "$work/build.log")"
echo "ok: examples/embed built with find_package(rumor)"

"$prefix/bin/rumor" node --listen 127.0.0.1:0 --data "$work/node" >"$work/node.log" 2>&1 &
node_pid=$!
address=""
for _ in $(seq 100); do
  address=$(sed -n 's/.*serving on \([0-9.]*:[0-9]*\);.*/\1/p' "$work/node.log" | head -1)
  [ -n "$address" ] && break
  kill -0 "$node_pid" 2>/dev/null || fail "rumor node exited"
  sleep 0.1
done
[ -n "$address" ] || fail "rumor node did not report its address within 10 s"

out=$(timeout 60 "$work/embed/embed_example" "$work/embedded" "$address") || fail "embed_example: $out"
echo "$out"
grep -q '^runs counted by the cluster: 1$' <<<"$out" || fail "the embedded node did not count its run"
grep -q '^watched: 1$' <<<"$out" || fail "the subscription did not see the change"
grep -q '^nodes seen: 1$' <<<"$out" || fail "the read did not return the set"
# The update reached the node process: it now serves the counter (gossip, bounded wait).
got=""
for _ in $(seq 100); do
  got=$("$prefix/bin/rumor" --connect "$address" get example:runs 2>/dev/null || true)
  [ "$got" = "1" ] && break
  sleep 0.1
done
[ "$got" = "1" ] || fail "the node process serves example:runs = '$got', expected 1"
echo "ok: the embedded node joined the node process at $address and its update arrived there"

# 3. pkg-config consumer
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
[ "$(pkg-config --modversion rumor)" = "$(sed -n 's/.*version_string = "\(.*\)";/\1/p' "$prefix/include/rumor/version.hpp")" ] ||
  fail "pkg-config version differs from rumor/version.hpp"
# shellcheck disable=SC2046
${CXX:-c++} -std=c++20 -o "$work/embed_pc" "$src/examples/embed/main.cpp" $(pkg-config --cflags --libs rumor) \
  -Wl,-rpath,"$(pkg-config --variable=libdir rumor)" 2>"$work/pc.log" || fail "pkg-config build: $(cat "$work/pc.log")"
out=$(timeout 60 "$work/embed_pc" "$work/alone") || fail "embed_pc: $out"
grep -q '^runs counted by the cluster: 1$' <<<"$out" || fail "the pkg-config build did not run: $out"
echo "ok: built with pkg-config alone and ran"
