"""Development tooling beside the app: `make run`'s launcher (`python -m local`), the embedded PostgreSQL and Redis
it starts (the test suite and the benchmarks start them too), and demo data (`flask demo-data`).

Nothing in `webapp/` imports this package: `wsgi.py`, the composition root, registers `flask demo-data` and, for a
`flask …` command in the checkout without DATABASE_URL, builds the app on the local default
(`local.launcher.command_config`).
"""
