"""Jobs for the worker shutdown tests, imported by a real worker subprocess."""
import time


def sleep_for(seconds: float) -> str:
    time.sleep(seconds)
    return f"slept {seconds}"
