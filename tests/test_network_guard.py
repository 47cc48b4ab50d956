"""The suite's network guard (``tests/netguard``): nothing the tests run reaches beyond loopback.

Every refusal is asserted by its message, so a guard that stopped working fails these tests even
on a machine without a network (where the attempt would fail anyway, but differently). The guard
refuses before the socket call runs, so no attempt here sends a packet.
"""

from __future__ import annotations

import _socket
import os
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.netguard.sitecustomize import BlockedLookup, BlockedNetwork

REFUSED = "tests may only reach loopback, not "
OUTSIDE_IPV6 = "2001:4860:4860::8888"


def _refused(host: object) -> str:
    """The guard's message for `host`, as a `pytest.raises` pattern."""
    return f"^{re.escape(f'{REFUSED}{host!r}')}$"


def _ipv6_works() -> bool:
    try:
        socket.socket(socket.AF_INET6, socket.SOCK_STREAM).close()
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not _ipv6_works(), reason="no IPv6 sockets on this machine")


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP socket listening on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(5)
        yield server


# --- connections and datagrams --------------------------------------------------------------

@pytest.mark.parametrize("method", ["connect", "connect_ex"])
@pytest.mark.parametrize(("family", "address"), [
    pytest.param(socket.AF_INET, ("8.8.8.8", 53), id="ipv4"),
    pytest.param(socket.AF_INET, (b"8.8.8.8", 53), id="ipv4-as-bytes"),
    # Refused before the socket module resolves the name (it would raise gaierror here).
    pytest.param(socket.AF_INET, ("127.0.0.1.attacker.example", 80), id="name-looking-loopback"),
    pytest.param(socket.AF_INET, ("localhost.attacker.example", 80), id="name-after-localhost"),
    pytest.param(socket.AF_INET6, (OUTSIDE_IPV6, 53, 0, 0), id="ipv6", marks=needs_ipv6),
    pytest.param(socket.AF_INET6, ("::ffff:8.8.8.8", 53), id="ipv4-mapped", marks=needs_ipv6),
    pytest.param(socket.AF_INET6, ("::1ff:8.8.8.8", 53), id="ipv6-looking-loopback",
                 marks=needs_ipv6),
])
def test_connect_to_an_outside_address_is_refused(method: str, family: socket.AddressFamily,
                                                  address: tuple[Any, ...]) -> None:
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)  # in case the guard let it through after all
        with pytest.raises(BlockedNetwork, match=_refused(address[0])):
            getattr(sock, method)(address)


def test_connect_bypassing_the_python_socket_class_is_refused_too() -> None:
    # The old guard monkeypatched socket.socket.connect; an audit hook sits below that.
    with socket.socket() as sock:
        sock.settimeout(1)
        with pytest.raises(BlockedNetwork, match=_refused("8.8.8.8")):
            _socket.socket.connect(sock, ("8.8.8.8", 53))


def test_a_udp_datagram_to_an_outside_address_is_refused() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        with pytest.raises(BlockedNetwork, match=_refused("8.8.8.8")):
            sock.sendto(b"ping", ("8.8.8.8", 53))
        with pytest.raises(BlockedNetwork, match=_refused("8.8.4.4")):
            sock.sendmsg([b"ping"], [], 0, ("8.8.4.4", 53))


def test_loopback_connections_still_work(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    for host in ("127.0.0.1", "localhost"):
        with socket.create_connection((host, port), timeout=5) as client:
            client.sendall(b"hello")
            peer, _ = listener.accept()
            with peer:
                assert peer.recv(5) == b"hello"


@needs_ipv6
def test_ipv4_mapped_loopback_is_loopback(listener: socket.socket) -> None:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as client:
        client.settimeout(5)
        client.connect(("::ffff:127.0.0.1", listener.getsockname()[1]))
        listener.accept()[0].close()


def test_udp_to_loopback_still_works() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        server.bind(("127.0.0.1", 0))
        server.settimeout(5)
        client.sendto(b"ping", server.getsockname())
        assert server.recv(4) == b"ping"


def test_unix_sockets_still_work(tmp_path: Path) -> None:
    path = str(tmp_path / "s")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server, \
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        server.bind(path)
        server.listen()
        client.connect(path)
        server.accept()[0].close()


# --- name lookups ---------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["localhost.attacker.example", "example.com", b"example.com",
                                  "8.8.8.8", "::ffff:8.8.8.8"])
def test_looking_up_an_outside_name_is_refused(host: str | bytes) -> None:
    with pytest.raises(BlockedLookup, match=_refused(host)):
        socket.getaddrinfo(host, 443)


@pytest.mark.parametrize("lookup", [
    pytest.param(lambda: socket.gethostbyname("example.com"), id="gethostbyname"),
    pytest.param(lambda: socket.gethostbyname_ex("example.com"), id="gethostbyname_ex"),
    pytest.param(lambda: socket.gethostbyaddr("8.8.8.8"), id="gethostbyaddr"),
    pytest.param(lambda: socket.getnameinfo(("8.8.8.8", 53), 0), id="getnameinfo"),
])
def test_every_kind_of_outside_lookup_is_refused(lookup: Callable[[], object]) -> None:
    # A gaierror, so callers that catch only that (smtplib's EHLO name) fall back as usual.
    with pytest.raises(socket.gaierror, match=REFUSED):
        lookup()


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "::1"])
def test_looking_up_loopback_still_works(host: str) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    found = socket.getaddrinfo(host, 80, family, socket.SOCK_STREAM)
    assert found and all(address[4][0] in (host, "127.0.0.1") for address in found)


def test_other_loopback_lookups_still_work() -> None:
    assert socket.gethostbyname("localhost") == "127.0.0.1"
    assert socket.gethostbyaddr("127.0.0.1")[2] == ["127.0.0.1"]
    numeric = socket.NI_NUMERICHOST | socket.NI_NUMERICSERV
    assert socket.getnameinfo(("127.0.0.1", 80), numeric) == ("127.0.0.1", "80")
    assert socket.getaddrinfo(None, 80, flags=socket.AI_PASSIVE)  # the lookup bind() does


# --- everywhere in the run ------------------------------------------------------------------

@pytest.fixture(scope="module")
def refusal_in_a_module_fixture() -> BaseException | None:
    """What connecting outside raised inside a module-scoped fixture (None: it did not raise)."""
    with socket.socket() as sock:
        sock.settimeout(1)
        try:
            sock.connect(("8.8.8.8", 53))
        except OSError as error:
            return error
    return None


def test_connect_to_an_outside_address_is_refused_in_a_module_scoped_fixture(
        refusal_in_a_module_fixture: BaseException | None) -> None:
    assert isinstance(refusal_in_a_module_fixture, BlockedNetwork)
    assert str(refusal_in_a_module_fixture) == f"{REFUSED}'8.8.8.8'"


def _in_a_child(attempt: str) -> str:
    """What a child Python, started as the tests start them, says when it runs `attempt`."""
    child = textwrap.dedent(f"""\
        import socket
        try:
            {attempt}
        except OSError as error:
            print(f"{{type(error).__name__}}: {{error}}")
        else:
            print("not refused")
        """)
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True,
                            timeout=60, check=True)
    return result.stdout.strip()


def test_connect_to_an_outside_address_is_refused_in_a_subprocess() -> None:
    refusal = _in_a_child("socket.socket().connect(('8.8.8.8', 53))")
    assert refusal == f"BlockedNetwork: {REFUSED}'8.8.8.8'"


def test_an_outside_lookup_is_refused_in_a_subprocess() -> None:
    refusal = _in_a_child("socket.getaddrinfo('example.com', 443)")
    assert refusal == f"BlockedLookup: {REFUSED}'example.com'"


def test_a_sitecustomize_the_guard_shadows_still_runs_in_a_subprocess(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text("import os\nos.environ['SHADOWED'] = 'ran'\n",
                                               encoding="utf-8")
    pythonpath = os.pathsep.join([os.environ["PYTHONPATH"], str(tmp_path)])
    child = "import os, socket; print(os.environ.get('SHADOWED')); socket.getaddrinfo('a.b', 1)"
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "PYTHONPATH": pythonpath})
    assert result.stdout.strip() == "ran"  # the venv's own sitecustomize, if it had one
    assert f"BlockedLookup: {REFUSED}'a.b'" in result.stderr  # and the guard still first


def test_a_library_sees_a_refusal_as_a_connection_failure() -> None:
    with pytest.raises(requests.ConnectionError) as caught:
        requests.get("http://8.8.8.8/", timeout=1)
    chain: list[BaseException] = []
    error: BaseException | None = caught.value
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(link, BlockedNetwork) and REFUSED in str(link) for link in chain), chain
