#!/usr/bin/env bash
# The Debian packages (packaging/): builds them with cpack into a scratch directory and checks
#   - the file names and each package's exact file list;
#   - control fields, conffiles, the maintainer scripts (sh -n), shlibs and ldconfig triggers;
#   - the unpacked tree (dpkg -x into a scratch root): `rumor --version`, librumor's SONAME and
#     that it exports only the public API;
#   - rumor.service: the required directives, and `systemd-analyze verify` when it exists;
#   - the packaged /etc/rumor/rumor.toml starts the packaged node, which speaks systemd's notify
#     protocol (READY=1, RELOADING=1 on SIGHUP, STOPPING=1 on SIGTERM) to a NOTIFY_SOCKET.
# Every wait is bounded; it stops only the node process it started, by its PID.
#
#   deb.sh BUILD_DIR VERSION
set -euo pipefail
build=$1
version=$2
work=$(mktemp -d)
node_pid=""
listener_pid=""
cleanup() {
  for p in $node_pid $listener_pid; do
    if kill -0 "$p" 2>/dev/null; then
      kill "$p" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$p" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

(cd "$build" && cpack -G DEB -B "$work/out" >"$work/cpack.log" 2>&1) || fail "cpack: $(tail -20 "$work/cpack.log")"
deb="$work/out/rumor_${version}_amd64.deb"
dev="$work/out/rumor-dev_${version}_amd64.deb"
[ -f "$deb" ] && [ -f "$dev" ] || fail "expected $(basename "$deb") and $(basename "$dev"); got: $(ls "$work/out")"

files() { dpkg-deb -c "$1" | awk '$1 !~ /^d/ {print $6}' | sort | tr '\n' ' '; }
want_runtime="./etc/rumor/rumor.toml ./usr/bin/rumor ./usr/lib/librumor.so.0.1 ./usr/lib/librumor.so.${version} \
./usr/lib/systemd/system/rumor.service ./usr/lib/sysusers.d/rumor.conf ./usr/share/bash-completion/completions/rumor \
./usr/share/man/man1/rumor.1.gz ./usr/share/zsh/vendor-completions/_rumor "
[ "$(files "$deb")" = "$want_runtime" ] || fail "rumor package files: $(files "$deb")"
want_dev="./usr/include/rumor/error.hpp ./usr/include/rumor/node.hpp ./usr/include/rumor/result.hpp \
./usr/include/rumor/value.hpp ./usr/include/rumor/version.hpp ./usr/lib/cmake/rumor/rumorConfig.cmake \
./usr/lib/cmake/rumor/rumorConfigVersion.cmake "
got_dev=$(files "$dev")
[ "${got_dev#"$want_dev"}" != "$got_dev" ] || fail "rumor-dev package files: $got_dev"
for f in ./usr/lib/cmake/rumor/rumorTargets.cmake ./usr/lib/librumor.so ./usr/lib/pkgconfig/rumor.pc; do
  grep -qF " $f " <<<" $got_dev" || fail "rumor-dev lacks $f"
done
echo "ok: file lists"

field() { dpkg-deb -f "$1" "$2"; }
[ "$(field "$deb" Package)" = rumor ] && [ "$(field "$deb" Version)" = "$version" ] &&
  [ "$(field "$deb" Architecture)" = amd64 ] || fail "rumor control fields"
for d in libcaf-core0.17 libcapnp-0.9.2 liblmdb0 libsystemd0 libjemalloc2 libssl3 passwd; do
  field "$deb" Depends | grep -q "$d" || fail "rumor does not depend on $d: $(field "$deb" Depends)"
done
[ "$(field "$dev" Depends)" = "rumor (= $version)" ] || fail "rumor-dev Depends: $(field "$dev" Depends)"
mkdir "$work/control"
dpkg-deb -e "$deb" "$work/control"
[ "$(cat "$work/control/conffiles")" = "/etc/rumor/rumor.toml" ] || fail "conffiles: $(cat "$work/control/conffiles")"
for s in postinst prerm postrm; do
  [ -x "$work/control/$s" ] || fail "$s is missing or not executable"
  sh -n "$work/control/$s" || fail "$s does not parse"
done
grep -q 'librumor 0.1' "$work/control/shlibs" 2>/dev/null || fail "no shlibs entry for librumor.so.0.1"
grep -q ldconfig "$work/control/triggers" 2>/dev/null || fail "no ldconfig trigger"
echo "ok: control ($(field "$deb" Depends))"

root="$work/root"
dpkg -x "$deb" "$root"
dpkg -x "$dev" "$root"
"$root/usr/bin/rumor" --version | grep -q "^rumor $version (commit " || fail "rumor --version: $("$root/usr/bin/rumor" --version)"
soname=$(readelf -d "$root/usr/lib/librumor.so.$version" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = "librumor.so.0.1" ] || fail "SONAME is '$soname'"
internal=$(nm -D --defined-only "$root/usr/lib/librumor.so.$version" | c++filt |
  grep -E 'rumor::(actors|crdt|replication|persistence|client|api|cli)::|caf::|capnp::|kj::|spdlog::' || true)
[ -z "$internal" ] || fail "librumor exports internal symbols: $(head -5 <<<"$internal")"
echo "ok: unpacked; SONAME $soname; only public symbols exported"

unit="$root/usr/lib/systemd/system/rumor.service"
for line in Type=notify User=rumor StateDirectory=rumor 'ExecReload=/bin/kill -HUP $MAINPID' NoNewPrivileges=yes \
  ProtectSystem=strict PrivateTmp=yes 'ExecStart=/usr/bin/rumor node --config /etc/rumor/rumor.toml'; do
  grep -qxF "$line" "$unit" || fail "rumor.service lacks '$line'"
done
if command -v systemd-analyze >/dev/null; then
  # verify resolves ExecStart: point it at the unpacked binary
  sed "s|/usr/bin/rumor|$root/usr/bin/rumor|" "$unit" >"$work/rumor.service"
  systemd-analyze verify --man=no "$work/rumor.service" >"$work/verify.log" 2>&1 ||
    fail "systemd-analyze verify: $(cat "$work/verify.log")"
  ! grep -v -e '^$' "$work/verify.log" | grep -qi rumor.service || fail "systemd-analyze verify warns: $(cat "$work/verify.log")"
  echo "ok: systemd-analyze verify"
else
  echo "skip: systemd-analyze not installed"
fi

# The packaged config and binary under the notify protocol.
py=$(command -v python3 || true)
if [ -z "$py" ]; then
  echo "skip: no python3 for the NOTIFY_SOCKET listener"
  exit 0
fi
sock="$work/notify.sock"
"$py" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); s.settimeout(30)
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        try: msg = s.recv(4096).decode()
        except socket.timeout: break
        out.write(msg.replace("\n", " ") + "\n")
        if "STOPPING=1" in msg: break
' "$sock" "$work/notify.log" &
listener_pid=$!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || fail "notify listener did not start"
sed "s|^data = .*|data = \"$work/data\"|; s|^listen = .*|listen = \"127.0.0.1:0\"|" "$root/etc/rumor/rumor.toml" >"$work/rumor.toml"
NOTIFY_SOCKET="$sock" "$root/usr/bin/rumor" node --config "$work/rumor.toml" >"$work/node.log" 2>&1 &
node_pid=$!
wait_for() {  # wait_for FILE PATTERN WHAT
  for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  fail "$3 within 10 s (log: $(cat "$work/node.log"))"
}
wait_for "$work/notify.log" 'READY=1' "no READY=1"
grep -q 'STATUS=serving on 127.0.0.1:' "$work/notify.log" || fail "READY without STATUS: $(cat "$work/notify.log")"
sed -i 's/^log-level = .*/log-level = "debug"/' "$work/rumor.toml"
kill -HUP "$node_pid"
wait_for "$work/node.log" 'SIGHUP: log level debug' "SIGHUP did not reload log-level"
wait_for "$work/notify.log" 'RELOADING=1' "no RELOADING=1"
kill -TERM "$node_pid"
wait_for "$work/notify.log" 'STOPPING=1' "no STOPPING=1"
code=0
wait "$node_pid" || code=$?
node_pid=""
[ "$code" = 0 ] || fail "the node exited with $code after SIGTERM"
echo "ok: packaged config starts the node; READY, RELOADING (SIGHUP), STOPPING; exit 0"
