"""The contract every live channel adapter keeps, checked against its fake platform.

Every registered adapter but the simulated one must come with a fake platform on loopback
(``tests/fakes/fake_<name>.py``), and through it: without credentials it says clearly why it is
not configured and refuses to send; secrets never show in its settings; HTTP 401/403/429/5xx
(or their SMTP/IMAP equivalents) and dropped connections become the project's errors, for
sending and for polling alike.
"""

from __future__ import annotations

import importlib
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from harness.channels.registry import adapter_names
from harness.errors import (
    AccessDenied,
    AuthenticationFailed,
    ChannelError,
    NotConfigured,
    RateLimited,
    TransientError,
)
from tests.fakes.platform import FAILURES, RESET_AFTER_S, Failure, Operation
from tests.fakes.race import live_adapter, new_world

LIVE = [name for name in adapter_names() if name not in ("simulated", "manual")]
EXPECTED: dict[Failure, type[ChannelError]] = {
    "auth": AuthenticationFailed,
    "denied": AccessDenied,
    "rate_limited": RateLimited,
    "rate_limited_no_reset": RateLimited,
    "server_error": TransientError,
    "dropped": TransientError,
}


def test_the_internet_is_out_of_reach_of_the_tests() -> None:
    with pytest.raises(OSError, match="only reach loopback"), socket.socket() as sock:
        sock.connect(("93.184.216.34", 443))


def test_every_live_adapter_has_a_fake_platform() -> None:
    for name in LIVE:
        assert importlib.util.find_spec(f"tests.fakes.fake_{name}") is not None, name


@pytest.fixture(params=LIVE)
def fake(request: pytest.FixtureRequest) -> Iterator[Any]:
    module = importlib.import_module(f"tests.fakes.fake_{request.param}")
    world = new_world(module.kit())
    with module.serve(world) as platform:
        yield platform


def test_without_credentials_it_says_which_are_missing_and_sends_nothing(
        fake: Any, tmp_path: Path) -> None:
    adapter, message = live_adapter(fake.kit, fake.world, tmp_path, environ={})
    reason = adapter.not_configured()
    assert reason is not None
    assert any(name in reason for name in fake.kit.environ), reason
    before = len(fake.world.visible())
    with pytest.raises(NotConfigured):
        adapter.send(message)
    assert len(fake.world.visible()) == before


def test_configured_it_says_so_and_never_shows_a_secret(fake: Any, tmp_path: Path) -> None:
    adapter, _ = live_adapter(fake.kit, fake.world, tmp_path)
    assert adapter.not_configured() is None
    shown = repr(adapter.describe())
    for secret in fake.kit.environ.values():
        if not secret.startswith(("http", "127.")):
            assert secret not in shown
    assert any(f"${name}" in shown for name in fake.kit.environ)


@pytest.mark.parametrize("operation", ["send", "poll"])
@pytest.mark.parametrize("failure", FAILURES)
def test_platform_failures_become_the_projects_errors(
        fake: Any, tmp_path: Path, operation: Operation, failure: Failure) -> None:
    adapter, message = live_adapter(fake.kit, fake.world, tmp_path)
    fake.world.clock.sleep_until(message.not_before)
    adapter.poll(None)  # sessions, ids and the like are in place before the failure
    fake.fail(operation, failure)
    now = fake.world.now()
    with pytest.raises(ChannelError) as caught:
        adapter.send(message) if operation == "send" else adapter.poll(None)
    assert type(caught.value) is EXPECTED[failure], caught.value
    if failure == "rate_limited" and fake.kit.platform != "email":
        assert caught.value.reset_at == now + timedelta(seconds=RESET_AFTER_S)  # type: ignore[attr-defined]
    if failure == "rate_limited_no_reset":
        assert caught.value.reset_at is None  # type: ignore[attr-defined]
    for secret in fake.kit.environ.values():
        assert secret not in str(caught.value)
    adapter.close()


@pytest.mark.slow
def test_no_secret_reaches_any_file_a_live_run_writes(fake: Any, tmp_path: Path) -> None:
    """A whole race with distinctive fake credentials, its export and report: not one file
    in the run folder holds a secret (the store, journals, sessions, CSV, JSON, HTML)."""
    from harness.cli import main
    from harness.session.reports import write_report
    from tests.fakes.race import run_race

    folder = tmp_path / "run"
    assert run_race(fake.kit, fake.world, folder, days=2).finished
    write_report(folder, folder / "report")
    assert main(["export", str(folder), "-o", str(folder / "export.csv")]) == 0
    secrets = [v for v in fake.kit.environ.values() if len(v) >= 8]
    assert secrets
    written = [p for p in folder.rglob("*") if p.is_file()]
    assert len(written) > 5
    for path in written:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"{secret!r} in {path.name}"
