"""Does the time of an answer tell whether an email has an account? Sign-in, registration and "forgot password",
each timed for an email that has an account and one that does not, through the real app (argon2 included); and
signing in with the password of a sign-up still waiting for its link, for a taken email and a free one.

Requests alternate between the two cases, so load on the machine affects both alike. Prints the median, the
interquartile range and p95 per case, and the median difference against the spread of the samples.

    python -m bench.enumeration [--samples 300]
"""
from __future__ import annotations

import argparse
import re
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from flask_migrate import upgrade

from bench.fuzz import fuzz_app
from bench.harness import percentile
from local.embedded import start_postgres, start_redis
from webapp.auth.accounts import hash_password
from webapp.auth.signup import request_signup
from webapp.extensions import db
from webapp.models import User

PASSWORD = "correct horse battery"
SIGNUP_PASSWORD = "registered but not confirmed"


def timed_posts(app, url: str, forms: dict[str, callable], samples: int) -> dict[str, list[float]]:
    """Milliseconds per POST for each case, the cases taking turns; each request is a fresh browser."""
    timings: dict[str, list[float]] = {case: [] for case in forms}
    for index in range(samples):
        for case, make_form in forms.items():
            client = app.test_client()
            html = client.get(url).get_data(as_text=True)
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
            form = {**make_form(index), "csrf_token": token}
            started = time.perf_counter()
            response = client.post(url, data=form)
            timings[case].append((time.perf_counter() - started) * 1000)
            assert response.status_code in (200, 303, 422), (case, response.status_code)
    return timings


def report(name: str, timings: dict[str, list[float]]) -> None:
    (first, a), (second, b) = timings.items()
    for case, samples in timings.items():
        q1, median, q3 = statistics.quantiles(samples, n=4)
        print(f"| {name:<16} | {case:<24} | {len(samples):>7} | {median:>9.1f} | {q3 - q1:>7.1f} | "
              f"{percentile(samples, 0.95):>7.1f} |")
    difference = statistics.median(a) - statistics.median(b)
    spread = statistics.median([statistics.quantiles(s, n=4)[2] - statistics.quantiles(s, n=4)[0] for s in (a, b)])
    print(f"| {'':<16} | {'median difference':<24} | {'':>7} | {difference:>+9.1f} | {spread:>7.1f} | {'':>7} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="almanac-enum-") as root:
        postgres = start_postgres(Path(root) / "pg", delete_on_stop=True)
        redis = start_redis(Path(root) / "redis", persist=False)
        try:
            app = fuzz_app(postgres.url(), redis.url, RATELIMIT_ENABLED=False)
            with app.app_context():
                upgrade()
                known = User(email=f"known-{secrets.token_hex(3)}@example.com", password_hash=hash_password(PASSWORD))
                db.session.add(known)
                db.session.commit()
                email = known.email
            samples = arguments.samples
            print(f"\nTiming by whether the email has an account; {samples} requests per case, interleaved. "
                  "Milliseconds.\n")
            print(f"| {'form':<16} | {'case':<24} | {'samples':>7} | {'median':>9} | {'IQR':>7} | {'p95':>7} |")
            print(f"|{'-' * 18}|{'-' * 26}|{'-' * 9}|{'-' * 11}|{'-' * 9}|{'-' * 9}|")
            report("sign-in", timed_posts(app, "/login", {
                "account, wrong password": lambda i: {"email": email, "password": f"wrong password {i}"},
                "no such account": lambda i: {"email": f"ghost{i}@example.com", "password": f"wrong password {i}"},
            }, samples))
            with app.app_context():
                for address in (email, "waiting@example.com"):
                    request_signup(db.session, email=address, password=SIGNUP_PASSWORD, first_name=None,
                                   last_name=None)
                db.session.commit()
            report("sign-up password", timed_posts(app, "/login", {
                "email has an account": lambda i: {"email": email, "password": SIGNUP_PASSWORD},
                "no such account": lambda i: {"email": "waiting@example.com", "password": SIGNUP_PASSWORD},
            }, samples))
            report("register", timed_posts(app, "/register", {
                "email has an account": lambda i: {"email": email, "password": PASSWORD, "confirm": PASSWORD},
                "new email": lambda i: {"email": f"new{i}@example.com", "password": PASSWORD, "confirm": PASSWORD},
            }, samples))
            report("forgot password", timed_posts(app, "/forgot-password", {
                "email has an account": lambda i: {"email": email},
                "no such account": lambda i: {"email": f"ghost{i}@example.com"},
            }, samples))
            with app.app_context():
                db.engine.dispose()
        finally:
            redis.stop()
            postgres.stop()


if __name__ == "__main__":
    main()
