"""Benchmarks: one command each, printing ratios against a baseline timed in the same process."""
