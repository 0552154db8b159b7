"""Timing of Python twins, done the way benchmarks/src/harness.ts times metagrad.

A twin calls report_timing once; python.ts reads the JSON line it prints.
"""

import json
import statistics
import time


def report_timing(run, warmup=2, repetitions=10):
    """Call run() warmup times untimed, then repetitions times timed, and print the timing as JSON."""
    for _ in range(warmup):
        run()

    samples_ms = []
    for _ in range(repetitions):
        start = time.perf_counter_ns()
        run()
        samples_ms.append((time.perf_counter_ns() - start) / 1e6)

    timing = {
        "median_ms": statistics.median(samples_ms),
        "min_ms": min(samples_ms),
        "warmup": warmup,
        "repetitions": repetitions,
        "samples_ms": samples_ms,
    }
    print(json.dumps(timing), flush=True)
