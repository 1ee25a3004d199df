#!/usr/bin/env python3
"""Times float32 GEMM in numpy (OpenBLAS on Debian with libopenblas0-pthread) at the shapes `tessella bench` uses,
so the two can be compared on the same cores in the same run.

usage: tools/blas_peer.py [--threads 1,2] [--shapes 512,1024,2048,4096x256x768] [--seconds 1.0]
Prints one line per (threads, shape): GFLOP/s. Each thread count runs in a child process with OPENBLAS_NUM_THREADS
set, because OpenBLAS reads it at load time.
"""
import argparse
import os
import subprocess
import sys
import time


def parse_shape(s):
    p = [int(v) for v in s.split("x")]
    return (p[0], p[0], p[0]) if len(p) == 1 else tuple(p)


def child(shapes, seconds):
    import numpy as np
    rng = np.random.default_rng(1)
    for s in shapes:
        m, k, n = parse_shape(s)
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        c = a @ b  # warm
        t0 = time.perf_counter()
        reps = 0
        while True:
            np.matmul(a, b, out=c)
            reps += 1
            if time.perf_counter() - t0 > seconds:
                break
        gflops = 2.0 * m * k * n * reps / (time.perf_counter() - t0) / 1e9
        print(f"numpy/openblas threads {os.environ.get('OPENBLAS_NUM_THREADS')} gemm {s:>12}  {gflops:8.1f} GFLOP/s", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--shapes", default="512,1024,2048,4096x256x768,4096x768x256,4096x256x1024")
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    shapes = a.shapes.split(",")
    if a.child:
        child(shapes, a.seconds)
        return
    for t in a.threads.split(","):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=t, OMP_NUM_THREADS=t, MKL_NUM_THREADS=t)
        subprocess.run([sys.executable, __file__, "--child", "--shapes", a.shapes, "--seconds", str(a.seconds)], env=env, check=True)


if __name__ == "__main__":
    main()
