"""Workload data: request traces and the prompts a replay sends (pure; no I/O beyond reading a file)."""
