"""TLS on every live adapter, through its real SDK, against fakes that speak TLS on loopback.

A certificate the system does not trust, TLS to a plain-text port, and a plain client on a
port that speaks TLS from the first byte are final (``NotConfigured``): the same on every try.
A ``ca_file`` setting cures the first; ``verify_tls: false`` turns checking off.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from harness.channels import mail
from harness.channels.base import ChannelAdapter
from harness.errors import NotConfigured, ScenarioError, TransientError
from harness.session.scenarios import load_scenario_text
from tests.fakes import fake_bluesky, fake_email, fake_mastodon, fake_x
from tests.fakes.race import Kit, live_adapter, new_world, scenario_yaml
from tests.fakes.tls import certificates

HTTP_PLATFORMS = {"x": fake_x, "mastodon": fake_mastodon, "bluesky": fake_bluesky}


def _with(kit: Kit, **settings: Any) -> Kit:
    return replace(kit, settings={**kit.settings, **settings})


@pytest.fixture(params=sorted(HTTP_PLATFORMS))
def platform(request: pytest.FixtureRequest) -> ModuleType:
    module: ModuleType = HTTP_PLATFORMS[request.param]
    return module


@pytest.fixture
def https(platform: ModuleType) -> Iterator[tuple[Any, Kit]]:
    """The platform's fake serving HTTPS with a certificate from the test CA, and its kit."""
    world = new_world(platform.kit())
    with platform.serve(world, tls=certificates().server_context()) as fake:
        yield fake, platform.kit(fake.server.url)


def _adapter(kit: Kit, fake: Any, folder: Path) -> tuple[ChannelAdapter, Any]:
    return live_adapter(kit, fake.world, folder)


def test_an_untrusted_certificate_is_final_and_nothing_reaches_the_platform(
        https: tuple[Any, Kit], tmp_path: Path) -> None:
    fake, kit = https
    adapter, message = _adapter(kit, fake, tmp_path)
    assert adapter.not_configured() is None  # nothing in the settings says so: only a try
    with pytest.raises(NotConfigured, match=r"certificate is not trusted: .*ca_file"):
        adapter.check_access()
    with pytest.raises(NotConfigured, match="certificate is not trusted"):
        adapter.send(message)
    assert fake.server.log == []  # refused in the handshake, before any request
    assert fake.server.handshake_failures
    adapter.close()


def test_a_ca_file_trusts_the_server(https: tuple[Any, Kit], tmp_path: Path) -> None:
    fake, kit = https
    adapter, message = _adapter(_with(kit, ca_file=str(certificates().ca_file)), fake, tmp_path)
    assert adapter.not_configured() is None
    assert adapter.check_access().startswith("logged in as ana (")
    post = adapter.send(message)
    assert post.platform_id
    assert fake.server.handshake_failures == []
    adapter.close()


def test_verification_off_connects_to_any_certificate(https: tuple[Any, Kit],
                                                      tmp_path: Path) -> None:
    fake, kit = https
    adapter, _ = _adapter(_with(kit, verify_tls=False), fake, tmp_path)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert "logged in as" in adapter.check_access()
    # the preflight says it once, in capitals; no warning on every request of a long run
    assert [w for w in seen if "Unverified HTTPS" in str(w.message)] == []
    adapter.close()


def test_tls_to_a_plain_text_port_is_final(platform: ModuleType, tmp_path: Path) -> None:
    world = new_world(platform.kit())
    with platform.serve(world) as fake:
        kit = platform.kit(fake.server.url.replace("http://", "https://"))
        adapter, _ = live_adapter(kit, world, tmp_path)
        started = time.monotonic()
        with pytest.raises(NotConfigured, match=r"TLS handshake failed \(.+\): is this a "
                                                "plain-text port"):
            adapter.check_access()
        assert time.monotonic() - started < 5  # no waiting for a timeout
        adapter.close()


@pytest.mark.parametrize(("settings", "says"), [
    ({"ca_file": "no/such/ca.pem"}, "settings.ca_file: no such file: no/such/ca.pem"),
    ({"verify_tls": "no"}, "settings.verify_tls must be true or false, not 'no'"),
])
def test_tls_settings_that_cannot_work_are_not_configured(
        platform: ModuleType, tmp_path: Path, settings: dict[str, Any], says: str) -> None:
    kit = platform.kit()
    adapter, _ = live_adapter(kit, new_world(kit), tmp_path, unchecked=settings)
    assert adapter.not_configured() == says


def test_a_verify_tls_that_is_not_true_or_false_is_refused_at_its_line(
        platform: ModuleType) -> None:
    kit = _with(platform.kit(), verify_tls="no")
    with pytest.raises(ScenarioError, match=r"^live-race.yaml:\d+:\d+: channels\[0\]\.settings"
                                            r"\.verify_tls: must be true or false, not 'no'$"):
        load_scenario_text(scenario_yaml(kit), "live-race.yaml")


def test_a_ca_file_that_holds_no_certificate_is_not_configured(tmp_path: Path) -> None:
    junk = tmp_path / "ca.pem"
    junk.write_text("not a certificate\n", encoding="utf-8")
    kit = _with(fake_x.kit(), ca_file=str(junk))
    adapter, _ = live_adapter(kit, new_world(kit), tmp_path / "run")
    reason = adapter.not_configured()
    assert reason is not None and "holds no certificate OpenSSL can read" in reason


# -- email ----------------------------------------------------------------------------------


def _mail_kit(fake: fake_email.FakeMail, *, smtp: dict[str, Any], imap: dict[str, Any],
              **settings: Any) -> Kit:
    kit = fake.kit
    return _with(kit, smtp={**kit.settings["smtp"], **smtp},
                 imap={**kit.settings["imap"], **imap}, **settings)


@pytest.fixture
def mail_tls() -> Iterator[fake_email.FakeMail]:
    """Fake SMTP and IMAP, both in TLS from the first byte (ports like 465 and 993)."""
    with fake_email.serve(new_world(fake_email.kit()), tls=certificates().server_context(),
                          smtp_tls="implicit", imap_tls=True) as fake:
        yield fake


def test_email_refuses_an_untrusted_certificate_and_trusts_a_ca_file(
        mail_tls: fake_email.FakeMail, tmp_path: Path) -> None:
    implicit = {"smtp": {"ssl": True}, "imap": {"ssl": True}}
    adapter, message = live_adapter(_mail_kit(mail_tls, **implicit), mail_tls.world,
                                    tmp_path / "a")
    with pytest.raises(NotConfigured, match=r"^SMTP 127\.0\.0\.1:\d+: the server's "
                                            "certificate is not trusted"):
        adapter.check_access()
    with pytest.raises(NotConfigured, match="certificate is not trusted"):
        adapter.send(message)
    with pytest.raises(NotConfigured, match=r"^IMAP 127\.0\.0\.1:\d+: the server's "
                                            "certificate is not trusted"):
        adapter.poll(None)
    assert mail_tls.world.visible() == []
    trusted = _mail_kit(mail_tls, **implicit, ca_file=str(certificates().ca_file))
    adapter, message = live_adapter(trusted, mail_tls.world, tmp_path / "b")
    assert adapter.check_access().startswith("SMTP and IMAP logins work for ana (")
    assert adapter.send(message).platform_id.startswith("<")
    assert adapter.poll(None).cursor is not None
    assert len(mail_tls.world.visible()) == 1


def test_email_starttls_uses_the_ca_file(tmp_path: Path) -> None:
    with fake_email.serve(new_world(fake_email.kit()), tls=certificates().server_context(),
                          smtp_tls="starttls") as fake:
        untrusted = _mail_kit(fake, smtp={"starttls": True}, imap={})
        adapter, _ = live_adapter(untrusted, fake.world, tmp_path / "a")
        with pytest.raises(NotConfigured, match="certificate is not trusted"):
            adapter.check_access()
        trusted = _mail_kit(fake, smtp={"starttls": True}, imap={},
                            ca_file=str(certificates().ca_file))
        adapter, message = live_adapter(trusted, fake.world, tmp_path / "b")
        assert "logins work" in adapter.check_access()
        adapter.send(message)
        assert len(fake.world.visible()) == 1


def test_email_ssl_on_plain_ports_is_final(tmp_path: Path) -> None:
    with fake_email.serve(new_world(fake_email.kit())) as fake:
        smtp_ssl = _mail_kit(fake, smtp={"ssl": True}, imap={})
        adapter, _ = live_adapter(smtp_ssl, fake.world, tmp_path / "a")
        with pytest.raises(NotConfigured, match=r"^SMTP .*TLS handshake failed \(.+\): is "
                                                "this a plain-text port"):
            adapter.check_access()
        imap_ssl = _mail_kit(fake, smtp={}, imap={"ssl": True})
        adapter, _ = live_adapter(imap_ssl, fake.world, tmp_path / "b")
        with pytest.raises(NotConfigured, match=r"^IMAP .*TLS handshake failed"):
            adapter.poll(None)


@pytest.mark.slow
def test_a_plain_client_on_an_implicit_tls_port_is_told_to_use_ssl(
        mail_tls: fake_email.FakeMail, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    plain = _mail_kit(mail_tls, smtp={"starttls": True}, imap={"ssl": False}, timeout="1s")
    adapter, _ = live_adapter(plain, mail_tls.world, tmp_path)
    # on a port that is not known to speak TLS at once, silence is an outage: retried
    with pytest.raises(TransientError):
        adapter.check_access()
    monkeypatch.setitem(mail.IMPLICIT_TLS_PORTS, mail_tls.smtp_port, "SMTP")
    monkeypatch.setitem(mail.IMPLICIT_TLS_PORTS, mail_tls.imap_port, "IMAP")
    with pytest.raises(NotConfigured, match=rf"port {mail_tls.smtp_port} speaks TLS from the "
                                            r"first byte; set settings\.smtp\.ssl: true"):
        adapter.check_access()
    with pytest.raises(NotConfigured, match=r"set settings\.imap\.ssl: true"):
        adapter.poll(None)
