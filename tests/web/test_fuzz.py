"""A short run of the fuzz benchmark's engine (bench/fuzz.py) over every URL pattern and method: no example may
answer 5xx or leave a half-written row. Hypothesis shrinks a failure to a small request before reporting it."""
from __future__ import annotations

import functools

import pytest
from redis import Redis

from bench.fuzz import Fuzzer, endpoints
from tests.factories import make_config
from webapp import create_app

EXAMPLES = 25


@pytest.fixture(scope="module")
def fuzzer(app):
    redis = Redis.from_url(app.config["REDIS_URL"])
    fuzzer = Fuzzer(app, redis)
    yield fuzzer
    fuzzer.close()
    redis.flushdb()


@functools.cache  # one app built per test process, for the parameters and the count alike
def all_endpoints():
    # The URL map does not depend on the database or Redis: any config lists the same rules.
    return endpoints(create_app({"CONFIG": make_config("postgresql://localhost/unused", "redis://localhost/15")}))


@pytest.mark.parametrize("endpoint", all_endpoints(), ids=lambda endpoint: endpoint.label)
def test_no_input_causes_a_5xx_or_a_half_written_row(fuzzer, endpoint):
    tally = fuzzer.run(endpoint, EXAMPLES, check=True)
    assert tally.requests >= EXAMPLES


def test_every_endpoint_is_fuzzed_as_every_visitor(fuzzer):
    assert len(all_endpoints()) >= 40
    assert set(fuzzer.world.cookies) == {"anonymous", "member", "admin"}
