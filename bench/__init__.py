"""Benchmarks of the relay against a bare signalbot echo bot, both driving the simulator.

`python -m bench [--quick]` runs every figure of issue 8 and prints a table and one summary line
per figure; see `bench/README.md` for what each figure measures and the last full run.
"""
