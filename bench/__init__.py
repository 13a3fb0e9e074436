"""Benchmarks: `python -m bench` runs them all against throwaway embedded servers."""
