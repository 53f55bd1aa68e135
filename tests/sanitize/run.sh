#!/usr/bin/env bash
# Run tests under ASan and UBSan (`make test-asan`): run.sh VENV TEST...
#
# VENV holds lxcpy built with LXCPY_SANITIZE=1 and lxcpy_sanitize.py/.pth
# (see there: how the ASan runtime gets preloaded into Python). The tests
# run in both helper modes. ASan's reports, also from lxcpy-helper (whose
# stderr is /dev/null) and from forked children, go to files in a fresh log
# directory (log_path). UBSan's do not (combined with ASan, gcc's UBSan
# writes to stderr whatever log_path says): the helper of a sanitizer build
# sends its stderr to $LXCPY_SANITIZE_STDERR, a file in that directory, and
# in Python, halt_on_error=1 makes undefined behaviour abort the test run
# (the report then is on pytest's stderr). The run fails if a report file
# appears, as well as when a test fails. First, a canary proves that ASan
# reports reach that directory from a forked child whose stderr is
# /dev/null, and that the helper's stderr is the file.
set -u
cd "$(dirname "$0")/../.."
venv=$(cd "$1" && pwd)
shift

runtime=$(gcc -print-file-name=libasan.so)
if [ ! -e "$runtime" ]; then
  echo "run.sh: no libasan.so for gcc ($runtime): install libasan8" >&2
  exit 1
fi
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("platlib"))')
for f in "$site"/lxcpy/_lxc*.so "$site/lxcpy/lxcpy-helper"; do
  if ! readelf -d "$f" | grep -q 'NEEDED.*libasan'; then
    echo "run.sh: $f is not built with ASan (LXCPY_SANITIZE=1)" >&2
    exit 1
  fi
done

# Both runtimes share their common flags (log_path among them) and the one
# parsed last wins, so both name the same directory: reports land in
# asan.<pid> or ubsan.<pid> files there.
san_options() {  # log directory
  ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:disable_coredump=1"
  ASAN_OPTIONS="$ASAN_OPTIONS:handle_abort=0:log_path=$1/asan"
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$1/ubsan"
  export ASAN_OPTIONS UBSAN_OPTIONS
}

# The canary.
scratch=$(mktemp -d /tmp/lxcpy-sanitize-canary.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
gcc -fsanitize=address,undefined -fno-omit-frame-pointer -g -O1 \
  -o "$scratch/canary" tests/sanitize/canary.c
for kind in asan:AddressSanitizer; do
  mkdir "$scratch/${kind%%:*}.d"
  san_options "$scratch/${kind%%:*}.d"
  "$scratch/canary" "${kind%%:*}"
  if ! cat "$scratch/${kind%%:*}.d"/* 2>/dev/null | grep -q "${kind#*:}"; then
    echo "run.sh: the ${kind%%:*} canary left no report in $scratch/${kind%%:*}.d: reports would be lost" >&2
    exit 1
  fi
done

logdir=$(mktemp -d /tmp/lxcpy-sanitize.XXXXXX)
san_options "$logdir"
export LXCPY_ASAN_RUNTIME="$runtime"
export LXCPY_SANITIZE_STDERR="$logdir/helper-stderr"
# The helper's stderr is that file (it exists then, empty: removed below).
(cd / && LXCPY_HELPER=1 "$venv/bin/python" -c '
import os, sys
from lxcpy import _testing
pid = _testing.helper_pid()
where = os.readlink(f"/proc/{pid}/fd/2")
if where != os.environ["LXCPY_SANITIZE_STDERR"]:
    sys.exit(f"run.sh: lxcpy-helper writes its stderr to {where}, not to $LXCPY_SANITIZE_STDERR")
') || { echo "run.sh: the helper check failed" >&2; exit 1; }
[ -s "$LXCPY_SANITIZE_STDERR" ] || rm -f "$LXCPY_SANITIZE_STDERR"
status=0
start=$(date +%s)
# In-process, the tests where several threads attach at once are left
# out: liblxc's attach forks the calling process and its child allocates
# (getcwd), and ASan's allocator, unlike glibc's, is not fork-safe: a child
# forked while another thread held one of its locks waits on it for ever
# (seen: test_close_during_calls_from_many_threads; google/sanitizers#1814).
# They run in both modes without the sanitizers (`make test`).
for mode in 1 0; do
  echo "== LXCPY_HELPER=$mode, under ASan+UBSan (reports: $logdir)"
  select=()
  if [ "$mode" = 0 ]; then
    select=(-m "not threaded_attach")
    echo "== (without the threaded_attach tests: ASan's allocator is not fork-safe)"
  fi
  LXCPY_HELPER=$mode "$venv/bin/pytest" -q -p no:cacheprovider "${select[@]}" "$@" || status=1
done
echo "== sanitizer run took $(( $(date +%s) - start )) s"
# The helper's stderr may hold its own messages too: a report is what a
# sanitizer wrote.
if [ -e "$LXCPY_SANITIZE_STDERR" ] && ! grep -q "Sanitizer\|runtime error" "$LXCPY_SANITIZE_STDERR"; then
  rm -f "$LXCPY_SANITIZE_STDERR"
fi
reports=$(find "$logdir" -type f -size +0)
if [ -n "$reports" ]; then
  echo "== sanitizer reports:"
  for r in $reports; do echo "--- $r"; cat "$r"; done
  status=1
else
  echo "== no sanitizer report"
  rm -rf "$logdir"
fi
exit $status
