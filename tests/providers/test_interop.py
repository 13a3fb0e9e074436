"""CalDAV interoperability for real: Radicale and Xandikos (from PyPI) started on loopback free ports and stopped
by pid, each put through discovery from the bare server address, full and incremental sync, create, edit, a
recurring edit, cancelling one occurrence, delete, a conflict and (where the server checks them) a wrong password.
The same scenario makes the table in bench/results/interop.txt (python -m bench interop)."""
from __future__ import annotations

import pytest

from bench.interop import OPERATIONS, SERVERS, run_against


@pytest.mark.parametrize("server", SERVERS)
def test_every_operation_works_against_a_real_server(server, tmp_path):
    outcomes = run_against(server, tmp_path)

    assert list(outcomes) == list(OPERATIONS)
    failed = {operation: outcome for operation, outcome in outcomes.items() if outcome not in ("pass", "n/a")}
    assert failed == {}
    assert outcomes["wrong password refused"] == ("pass" if server == "Radicale" else "n/a")
