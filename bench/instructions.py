"""Instructions per request under callgrind: ``.venv/bin/python bench/instructions.py [--modes a,b] [-n N]``.

Wall-clock figures on a shared 2-core machine are noisy; the number of
instructions a request executes is not. For each mode this runs one child
process under ``valgrind --tool=callgrind --instr-atstart=no`` (startup and
app setup run uninstrumented, so fast), which signs in, warms up, and then
for each path switches instrumentation on, zeroes the counters, replays
``N`` requests exactly as the timed loop of ``bench/run.py`` does, and dumps
the counters. Instructions per request = the dump's total / ``N``.

The counters are switched by callgrind client requests from a ten-line C
helper compiled on first use (``gcc`` and valgrind's ``callgrind.h``).
Kernel time (syscalls, the network round trip to PostgreSQL or Redis) is not
counted: callgrind sees user-space instructions of this process only, so the
figures measure the CPU a request costs the app server, and the µs column of
``run.py`` stays the one that includes waiting for the server.

``run.py`` calls :func:`measure` and prints these beside the times; run this
file directly for the instruction table alone.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import typing as t

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

PATHS = ("/me", "/whoami")
_HELPER_C = r"""
#include <valgrind/callgrind.h>
void bench_start(void) { CALLGRIND_START_INSTRUMENTATION; CALLGRIND_ZERO_STATS; }
void bench_dump(const char *label) { CALLGRIND_DUMP_STATS_AT(label); }
int bench_on_valgrind(void) { return RUNNING_ON_VALGRIND; }
"""


def available() -> str | None:
    """Why instruction counts cannot be taken here (``None``: they can)."""
    for tool in ("valgrind", "gcc"):
        if shutil.which(tool) is None:
            return f"{tool} not found"
    if not os.path.exists("/usr/include/valgrind/callgrind.h"):
        return "valgrind's callgrind.h not found"
    return None


def _helper() -> ctypes.CDLL:
    digest = hashlib.sha256(_HELPER_C.encode()).hexdigest()[:12]
    path = os.path.join(tempfile.gettempdir(), f"sessionauth-bench-callgrind-{digest}.so")
    if not os.path.exists(path):
        src = path[:-3] + ".c"
        with open(src, "w") as f:
            f.write(_HELPER_C)
        tmp = f"{path}.{os.getpid()}"
        subprocess.run(["gcc", "-O1", "-shared", "-fPIC", "-o", tmp, src], check=True)
        os.replace(tmp, path)
    lib = ctypes.CDLL(path)
    lib.bench_dump.argtypes = [ctypes.c_char_p]
    return lib


def child(mode: str, n: int) -> None:
    """Runs under callgrind: set up ``mode``, then count ``n`` requests per path."""
    from bench import apps
    from bench.run import Harness

    lib = _helper()
    if not lib.bench_on_valgrind():
        raise SystemExit("the child must run under valgrind")
    if os.environ.get("BENCH_ABLATE"):  # study only: see bench/ablate.py
        from bench import ablate

        ablate.apply_from_env()
    with tempfile.TemporaryDirectory(prefix="sessionauth-bench-ir-") as data_dir:
        app = apps.setup(mode, data_dir)
        harness = Harness(app)
        harness.sign_in()
        loops = {path: harness.timer(path) for path in PATHS}
        for loop in loops.values():
            loop(max(n // 4, 20))  # warm-up: caches, pools, prepared statements
        gc.collect()
        gc.disable()
        for path, loop in loops.items():
            # The same loop as the timed one; the timer's two perf_counter
            # calls are a few hundred instructions, spread over n requests.
            lib.bench_start()
            loop(n)
            lib.bench_dump(path.encode())
        gc.enable()
        print(f"reissues {loops['/me'].reissues} {loops['/whoami'].reissues}")  # type: ignore[attr-defined]
        db = app.extensions["bench_db"]
        with app.app_context():
            db.engine.dispose()


def measure(modes: t.Sequence[str], n: int, *, log: t.TextIO = sys.stderr) -> dict[str, dict[str, float]]:
    """``{mode: {path: instructions per request}}`` for each mode that ran."""
    results: dict[str, dict[str, float]] = {}
    env = dict(os.environ, PYTHONHASHSEED="0")
    for mode in modes:
        with tempfile.TemporaryDirectory(prefix="sessionauth-bench-cg-") as out:
            command = [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={out}/cg.out",
                sys.executable,
                os.path.abspath(__file__),
                "--child",
                mode,
                "-n",
                str(n),
            ]
            proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
            if proc.returncode != 0:
                tail = "\n".join(proc.stderr.splitlines()[-15:])
                print(f"  callgrind {mode} failed:\n{tail}", file=log)
                continue
            counts = {}
            for path in glob.glob(f"{out}/cg.out*"):
                with open(path) as f:
                    text = f.read()
                label = re.search(r"^desc: Trigger: Client Request: (.*)$", text, re.M)
                total = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
                if label and total and label.group(1) in PATHS:
                    counts[label.group(1)] = int(total.group(1)) / n
            results[mode] = counts
            reissued = re.search(r"^reissues (\d+) (\d+)", proc.stdout, re.M)
            note = f" (cookies re-issued: /me {reissued.group(1)}, /whoami {reissued.group(2)})" if reissued else ""
            figures = "  ".join(f"{p} {counts.get(p, float('nan')) / 1000:7.1f}k" for p in PATHS)
            print(f"  callgrind {mode:34} {figures}{note}", file=log)
    return results


def render(results: dict[str, dict[str, float]]) -> str:
    from bench.run import LABELS

    plain = results.get("plain", {})
    lines = ["| mode | /me kIr | × plain | /whoami kIr | × plain |", "|---|---:|---:|---:|---:|"]
    for mode, counts in results.items():
        cells = []
        for path in PATHS:
            value = counts.get(path)
            base = plain.get(path)
            cells.append(f"{value / 1000:.1f}" if value else "n/a")
            cells.append(f"{value / base:.2f}" if value and base else "")
        lines.append(f"| {LABELS.get(mode, mode)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    from bench import apps

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", help="comma-separated subset (plain is always included)")
    parser.add_argument("-n", type=int, default=200, help="requests counted per path (default 200)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.n)
        return
    why = available()
    if why:
        raise SystemExit(f"cannot count instructions: {why}")
    modes = list(apps.MODES)
    if args.modes:
        wanted = set(args.modes.split(",")) | {"plain"}
        modes = [m for m in modes if m in wanted]
    print(render(measure(modes, args.n)))


if __name__ == "__main__":
    main()
