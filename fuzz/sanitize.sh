#!/usr/bin/env bash
# Build the C extensions with AddressSanitizer + UndefinedBehaviorSanitizer into a scratch
# copy of the repository, then run the fuzz corpora and the protocol tests over them.
# Any sanitizer report fails the run (exit non-zero). ~2-4 min on 2 cores.
#   fuzz/sanitize.sh [extra pytest args]
# Environment: PYTHON (default .venv/bin/python), CC (default gcc), KEEP=1 keeps the copy.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${PYTHON:-$here/.venv/bin/python}"
cc="${CC:-gcc}"
asan="$("$cc" -print-file-name=libasan.so)"
if [ ! -e "$asan" ]; then
    # gcc's sanitizer runtimes (Debian: libasan8, libubsan1 with libgcc-12-dev)
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libasan8 libubsan1 >/dev/null
        asan="$("$cc" -print-file-name=libasan.so)"
    fi
    [ -e "$asan" ] || { echo "sanitize: no libasan.so for $cc" >&2; exit 1; }
fi

scratch="$(mktemp -d /tmp/whalewire-sanitize.XXXXXX)"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$scratch"' EXIT
# the tracked and new files as they are now (not .venv, not built .so files)
(cd "$here" && git ls-files -z --cached --others --exclude-standard \
    | grep -zv '\.so$' | xargs -0 cp --parents -t "$scratch" 2>/dev/null) || true

flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1"
echo "sanitize: building the C extensions with $cc $flags"
(cd "$scratch" && CC="$cc" CFLAGS="$flags" LDFLAGS="-fsanitize=address,undefined" \
    "$py" setup.py -q build_ext --inplace >build.log 2>&1) \
    || { cat "$scratch/build.log" >&2; exit 1; }
built="$(cd "$scratch" && find src -name '*.so' | wc -l)"
echo "sanitize: built $built extensions"
[ "$built" -ge 4 ] || { cat "$scratch/build.log" >&2; echo "sanitize: missing extensions" >&2; exit 1; }

log="$scratch/sanitize.log"
status=0
# PYTHONMALLOC=malloc: Python's objects come from the sanitized malloc, so a C read past a
# bytes object's end is caught too. Leaks are not checked (the interpreter keeps its own).
(cd "$scratch" && env \
    PYTHONPATH="$scratch/src:$scratch" \
    PYTHONMALLOC=malloc \
    LD_PRELOAD="$asan" \
    ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:halt_on_error=1:exitcode=99" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=99" \
    WHALEWIRE_REQUIRE_SPEEDUPS=1 \
    "$py" -m pytest -q -p no:cacheprovider -x \
        tests/test_fuzz_corpora.py tests/ws tests/mempool/test_scan.py \
        tests/venues/test_templates.py "$@" 2>&1 | tee "$log") || status=$?
if grep -qE "ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer" "$log"; then
    echo "sanitize: a sanitizer reported an error (above)" >&2
    exit 1
fi
if [ "$status" != 0 ]; then
    echo "sanitize: the tests failed under the sanitizers (status $status)" >&2
    exit "$status"
fi
echo "sanitize: no sanitizer report"
