"""Late Fusion network: CPU seconds, wall seconds and peak RSS per forward pass.

Usage:
    python benchmarks/latefusion_speed.py [--sizes 512x512,800x800] [--repeat 3]

Each size runs in a fresh process (so peak RSS is that size's own). The weights are the
network's random initial values: speed and memory do not depend on their values.
"""
from __future__ import annotations

import subprocess
import sys

import click

CHILD = r"""
import resource, sys, time
import numpy as np
from fusionmat.engines.latefusion_net.model import build_latefusion
import tensorflow as tf
h, w, repeat = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
t0 = time.perf_counter(); model = build_latefusion(); build = time.perf_counter() - t0
forward = tf.function(lambda x: model(x, training=False))
x = np.random.default_rng(0).normal(0, 50, (1, h, w, 3)).astype(np.float32)
forward(x)  # trace and warm up
walls, cpus = [], []
for _ in range(repeat):
    c0, w0 = time.process_time(), time.perf_counter()
    forward(x)[0].numpy()
    cpus.append(time.process_time() - c0); walls.append(time.perf_counter() - w0)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{h}x{w}: forward wall {min(walls):.2f} s, CPU {min(cpus):.2f} s (best of {repeat}); "
      f"peak RSS {peak:.0f} MB; model build {build:.1f} s")
"""


@click.command()
@click.option("--sizes", default="512x512,800x800", show_default=True, help="WIDTHxHEIGHT, comma-separated.")
@click.option("--repeat", default=3, show_default=True)
def main(sizes, repeat):
    for size in sizes.split(","):
        w, h = size.split("x")  # WIDTHxHEIGHT, as everywhere
        out = subprocess.run([sys.executable, "-c", CHILD, h, w, str(repeat)], capture_output=True, text=True)
        click.echo(out.stdout.strip() or out.stderr.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
