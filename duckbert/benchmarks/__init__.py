"""Benchmarks behind `duckbert bench`: speed (this package's speed* modules) and quality.

Each benchmark measures on this machine in one run, prints a table, writes JSON and updates
its own section of docs/BENCHMARKS.md with the exact command and date. Figures are reported
as ratios between measurements taken in the same run (interleaved, medians), because the
machines this project runs on are small and shared: absolute times move with the load.
"""
