"""Keep every Python process of the test suite on loopback.

Importing this module installs an audit hook (PEP 578) for the whole interpreter. From then on:

* ``connect``/``connect_ex``, ``sendto`` and ``sendmsg`` on an IPv4/IPv6 socket succeed only
  towards a loopback address (127.0.0.0/8, ``::1``, IPv4-mapped ``::ffff:127.x.y.z``) or the
  literal name ``localhost``; AF_UNIX sockets are allowed; every other socket family is refused;
* name lookups (``getaddrinfo``, ``gethostbyname[_ex]``, ``gethostbyaddr``, ``getnameinfo``)
  succeed only for ``localhost`` and literal loopback addresses (and ``getaddrinfo(None, ...)``,
  a passive lookup for ``bind``).

Anything else raises :class:`BlockedNetwork` (an ``OSError``; :class:`BlockedLookup`, also a
``socket.gaierror``, for lookups) *before* the operation runs, so no packet leaves and libraries
report an ordinary connection or name-resolution failure. Addresses are parsed, never compared as
strings: ``localhost.attacker.example`` and ``::1ff:8.8.8.8`` are outside addresses.

An audit hook cannot be removed or monkeypatched away, and it sees every socket of the process,
whatever fixture scope or thread it is used from. (``socket.socket`` also gets thin wrappers that
check an address before the socket module resolves a host name in it, which happens before the
audit event.) ``tests/conftest.py`` imports this module in the pytest process and puts this
directory first on ``PYTHONPATH``, so each child Python started by a test imports it at startup
as ``sitecustomize``; it then runs the ``sitecustomize`` it shadows, if the interpreter has one.
"""

from __future__ import annotations

import functools
import importlib.util
import ipaddress
import os
import socket
import sys
from collections.abc import Callable
from importlib.machinery import PathFinder
from types import ModuleType
from typing import Any

__all__ = ["BlockedLookup", "BlockedNetwork", "install"]

# Names that resolve locally (/etc/hosts) without asking a DNS server; compared lower-cased.
LOCAL_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost", "ip6-loopback"})
_INET_FAMILIES = frozenset({socket.AF_INET, socket.AF_INET6})


class BlockedNetwork(OSError):
    """A test tried to reach beyond loopback."""


class BlockedLookup(BlockedNetwork, socket.gaierror):
    """A test tried to look up a name that might be resolved beyond loopback.

    Also a ``gaierror`` because callers of the lookup functions expect one: ``smtplib`` falls back
    to ``[127.0.0.1]`` for its EHLO name only on ``gaierror``.
    """


def _is_local(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")  # a non-ASCII name is never local
    if isinstance(host, str) and host.lower() in LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)  # type: ignore[arg-type]  # anything else: ValueError
    except ValueError:
        return False
    if address.is_loopback:
        return True
    # `::ffff:127.0.0.1` reaches 127.0.0.1, but Python 3.11 does not call it loopback.
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return mapped is not None and mapped.is_loopback


def _refusal(host: object) -> str:
    return f"tests may only reach loopback, not {host!r}"


def _check_lookup(host: object) -> None:
    if not _is_local(host):
        raise BlockedLookup(_refusal(host))


def _check_sockaddr_lookup(args: tuple[Any, ...]) -> None:
    sockaddr = args[0]
    _check_lookup(sockaddr[0] if isinstance(sockaddr, tuple) and sockaddr else sockaddr)


def _check_socket_use(sock: socket.socket, address: object) -> None:
    if address is None:  # sendmsg on a connected socket: its connect was checked
        return
    family = sock.family
    if family == socket.AF_UNIX:
        return
    if family not in _INET_FAMILIES:
        raise BlockedNetwork(f"tests may only reach loopback, not a {family!r} socket")
    # A malformed address is left for the socket module to reject with its own TypeError.
    if isinstance(address, tuple) and address and not _is_local(address[0]):
        raise BlockedNetwork(_refusal(address[0]))


_CHECKS: dict[str, Callable[[tuple[Any, ...]], None]] = {
    "socket.connect": lambda args: _check_socket_use(*args),  # connect and connect_ex
    "socket.sendto": lambda args: _check_socket_use(*args),
    "socket.sendmsg": lambda args: _check_socket_use(*args),
    # getaddrinfo(None, port) is the passive lookup bind() uses: nothing is resolved.
    "socket.getaddrinfo": lambda args: None if args[0] is None else _check_lookup(args[0]),
    "socket.gethostbyname": lambda args: _check_lookup(args[0]),  # and gethostbyname_ex
    "socket.gethostbyaddr": lambda args: _check_lookup(args[0]),
    "socket.getnameinfo": _check_sockaddr_lookup,
}


def _audit(event: str, args: tuple[Any, ...]) -> None:
    # Called for every audited event of the process (imports, opens, ...): one lookup and out.
    check = _CHECKS.get(event)
    if check is not None:
        check(args)


def _check_before_resolving(name: str) -> None:
    """Make ``socket.socket.<name>`` check its address before the socket module resolves it.

    ``connect``, ``connect_ex``, ``sendto`` and ``sendmsg`` resolve a host name in C (unaudited)
    *before* raising their audit event, so the hook alone would refuse the connection only after
    a DNS query had left. This wrapper refuses first. Code that bypasses it (calling
    ``_socket.socket.connect`` itself) still meets the hook, which no outside connection passes.
    """
    real = getattr(socket.socket, name)

    @functools.wraps(real)
    def checked(self: socket.socket, *args: Any) -> Any:
        # The address is the last argument, except sendmsg(buffers, ancdata, flags, address).
        if name != "sendmsg":
            _check_socket_use(self, args[-1] if args else None)
        elif len(args) > 3:
            _check_socket_use(self, args[3])
        return real(self, *args)

    setattr(socket.socket, name, checked)


_installed = False


def install() -> None:
    """Install the guard in this interpreter; calling it again does nothing."""
    global _installed
    if not _installed:
        sys.addaudithook(_audit)
        for name in ("connect", "connect_ex", "sendto", "sendmsg"):
            _check_before_resolving(name)
        _installed = True


def _chain_shadowed_sitecustomize() -> ModuleType | None:
    """Run the ``sitecustomize`` that this directory hides on ``sys.path``, if there is one."""
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != here]
    spec = PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_twin = sys.modules.get("sitecustomize")
if (__name__ != "sitecustomize" and _twin is not None
        and os.path.abspath(getattr(_twin, "__file__", "") or "") == os.path.abspath(__file__)):
    # This interpreter started with this file as its `sitecustomize` (a child Python, or a
    # pytest-xdist worker) and is importing it again under its package name: keep the one
    # guard already installed, and its exceptions, so `pytest.raises(BlockedNetwork)` catches
    # what the installed hook raises.
    BlockedNetwork = _twin.BlockedNetwork  # type: ignore[misc]
    BlockedLookup = _twin.BlockedLookup  # type: ignore[misc]
    install = _twin.install
else:
    install()
# Imported at interpreter startup: the guard is in place first, then the shadowed one runs.
shadowed = _chain_shadowed_sitecustomize() if __name__ == "sitecustomize" else None
