#!/usr/bin/env bash
# The whole GPU check in one run, for a machine lent for a few minutes (docs/gpu.md):
#
#   build once for this device's architecture only -> pytest tests/gpu (compiled module and
#   CuPy: the tests run both where both are usable) -> bench/bench_gpu.py -> a subset of the
#   compute-sanitizer memcheck / racecheck runs -> one archive of logs and JSON plus one
#   summary file in $OUT (few files come back from such a machine).
#
# Every step runs under its own `timeout`; a failed step does not stop the next.
#
#   OUT=/tmp/gpu-out bash bench/gpu_check.sh                  # on the GPU machine
#   SEGSCORE_GPU_TESTS_EMULATED=1 SKIP_BUILD=1 bash bench/gpu_check.sh   # dry run on a CPU
#
# Environment: OUT (default ./gpu-check-out), CUDA_ARCH (default 90-real: H100/H200),
# SKIP_BUILD=1 (use the installed segscore), QUICK=1 (small benchmark sizes), and wheels the
# machine lacks (monai, cucim, ...) in ./.whl, installed into /tmp/site first.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-check-out}
ARCH=${CUDA_ARCH:-90-real}
EMU=${SEGSCORE_GPU_TESTS_EMULATED:-0}
LOGS=$OUT/logs
mkdir -p "$LOGS"
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
export PYTHONUNBUFFERED=1

say() { printf '%s\n' "$*" | tee -a "$SUMMARY"; }

# step NAME SECONDS COMMAND...: run under timeout, log to logs/NAME.log, one summary line
step() {
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  timeout --kill-after=10 "$limit" "$@" >"$LOGS/$name.log" 2>&1
  local rc=$?
  local what="ok"
  [ $rc -eq 124 ] || [ $rc -eq 137 ] && what="TIMED OUT after ${limit}s"
  [ $rc -ne 0 ] && [ "$what" = ok ] && what="FAILED (rc $rc)"
  say "[$name] $what in $((SECONDS - t0)) s"
  # the last pytest / sanitizer summary line, if any
  grep -E "passed|failed|error|ERROR SUMMARY|RACECHECK SUMMARY|Error:" "$LOGS/$name.log" | tail -n 2 | sed 's/^/    /' | tee -a "$SUMMARY" >/dev/null
  return $rc
}

say "segscore GPU check: $(git rev-parse --short HEAD 2>/dev/null || echo '?') $(date -u +%FT%TZ) emulated=$EMU"
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  step wheels 300 python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
step device 60 bash -c 'nvidia-smi --query-gpu=name,memory.total,clocks.max.memory,driver_version --format=csv; nvcc --version | tail -n 2' || true

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  # one architecture only: the fat build of CI takes minutes the lease does not have
  step build 420 env SEGSCORE_CUDA=ON python3 -m pip install -v --no-build-isolation --no-deps \
    -C cmake.define.CMAKE_CUDA_ARCHITECTURES="$ARCH" -C build-dir=build/gpu-check . || {
    say "build failed: see logs/build.log"
  }
fi
step backends 60 python3 -c 'import json, segscore; print(json.dumps(segscore.backends(), indent=1))'

# tests/gpu: both backends where usable (the `dev` fixture parametrises compiled / CuPy);
# test_gpu_lesion.py: ss.lesionwise on device arrays (per-lesion distances in one GPU batch)
step tests 300 python3 -m pytest tests/gpu -q -p no:cacheprovider \
  --junitxml="$LOGS/tests.xml" -o junit_family=xunit2
step emulated-plan 300 env SEGSCORE_GPU_TESTS_EMULATED=1 python3 -m pytest -q -p no:cacheprovider \
  tests/unit/gpu

BENCH_ARGS=()
[ "${QUICK:-0}" = 1 ] && BENCH_ARGS+=(--quick)
[ "$EMU" = 1 ] && BENCH_ARGS+=(--emulate --quick --no-monai --no-cold)
step bench 420 python3 bench/bench_gpu.py "${BENCH_ARGS[@]}" --out "$LOGS/gpu.json"
[ "$EMU" != 1 ] && step bench-components 180 python3 bench/bench_components.py --gpu

if [ "$EMU" != 1 ] && command -v compute-sanitizer >/dev/null 2>&1; then
  CS="compute-sanitizer --error-exitcode 99 --print-limit 20"
  step memcheck-edt 240 $CS --tool memcheck python3 -m pytest tests/gpu/test_gpu_edt.py -q -x -p no:cacheprovider -k "random or multilabel"
  step memcheck-surface 240 $CS --tool memcheck python3 -m pytest tests/gpu/test_gpu_surface.py -q -x -p no:cacheprovider -k "evaluate"
  step racecheck-counting 240 $CS --tool racecheck python3 -m pytest tests/gpu/test_gpu_surface.py -q -x -p no:cacheprovider -k "counting"
  step memcheck-scores 240 $CS --tool memcheck python3 -m pytest tests/gpu/test_gpu_scores.py -q -x -p no:cacheprovider -k "cupy-cuda"
  step memcheck-components 240 $CS --tool memcheck python3 -m pytest tests/gpu/test_gpu_components.py -q -x -p no:cacheprovider -k "not large"
  step racecheck-components 240 $CS --tool racecheck python3 -m pytest tests/gpu/test_gpu_components.py -q -x -p no:cacheprovider -k "noise and 3"
  step memcheck-lesion 240 $CS --tool memcheck python3 -m pytest tests/gpu/test_gpu_lesion.py -q -x -p no:cacheprovider -k "cupy-cuda and not large"
  step memcheck-multirater 240 $CS --tool memcheck python3 -m pytest tests/gpu/test_gpu_scores.py -q -x -p no:cacheprovider -k "multirater_pass and not ct_sized"
  step racecheck-multirater 240 $CS --tool racecheck python3 -m pytest tests/gpu/test_gpu_scores.py -q -x -p no:cacheprovider -k "multirater_pass and not ct_sized"
else
  say "[sanitizer] skipped (emulated run or no compute-sanitizer)"
fi

# test counts per backend from the JUnit file
python3 - "$LOGS/tests.xml" >>"$SUMMARY" 2>&1 <<'EOF' || true
import collections, sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception as exc:  # no file: the test step did not run
    print(f"test counts: {exc}")
    raise SystemExit
tally = collections.defaultdict(collections.Counter)
for tc in root.iter("testcase"):
    name = tc.get("name", "")
    backend = "cupy" if "cupy" in name else "cuda" if "cuda" in name else "other"
    state = "failed" if tc.find("failure") is not None or tc.find("error") is not None else \
        "skipped" if tc.find("skipped") is not None else "passed"
    tally[backend][state] += 1
for backend, c in sorted(tally.items()):
    print(f"tests[{backend}]: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
EOF

tar -czf "$OUT/logs.tar.gz" -C "$OUT" logs && rm -rf "$LOGS"
say "logs: $OUT/logs.tar.gz"
