"""Render message templates in a sandbox, with every variable required to exist.

Templates are jinja2 text, rendered by an immutable sandboxed environment: they can read the
persona, brand, mention, channel and category they are given and nothing else, and a misspelt
or missing variable is an error rather than an empty string.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, meta
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from harness.platforms import PLATFORMS
from harness.scenario.model import Brand, Channel, Persona

MAX_BUILT_LENGTH = 100_000
"""The longest string or list ``*`` may build in a template (messages are far shorter)."""
_MAX_POWER_BITS = 4096


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, where ``'x' * 10**9`` and ``9 ** 10**9`` are refused too
    instead of taking the validator's memory and time."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for items, count in ((left, right), (right, left)):
                if isinstance(items, (str, list, tuple)) and isinstance(count, int):
                    size = len(items) * count
                    if size > MAX_BUILT_LENGTH:
                        raise SecurityError(f"'*' would build {size:,} items (at most "
                                            f"{MAX_BUILT_LENGTH:,} allowed)")
        elif (operator == "**" and isinstance(left, int) and isinstance(right, int)
              and abs(left) > 1 and right * abs(left).bit_length() > _MAX_POWER_BITS):
            raise SecurityError("'**' would build a number too large to write")
        return super().call_binop(context, operator, left, right)


_ENV = _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


class TemplateProblem(ValueError):
    """A template failed to compile or render; the message says why."""


@lru_cache(maxsize=4096)
def compile_template(source: str) -> Template:
    """Compile once; raise :class:`TemplateProblem` on a syntax error."""
    try:
        return _ENV.from_string(source)
    except TemplateError as exc:
        raise TemplateProblem(f"template syntax error: {exc}") from None


@lru_cache(maxsize=4096)
def variables_used(source: str) -> frozenset[str]:
    """The top-level variables a (compilable) template reads, e.g. ``{"mention", "brand"}``."""
    return frozenset(meta.find_undeclared_variables(_ENV.parse(source)))


def mention_text(brand: Brand, channel: Channel, mode: str) -> str:
    """How the brand is named in a message: its @handle, its name, or its #hashtag."""
    if mode == "name":
        return brand.name
    if mode == "hashtag":
        if not brand.hashtag:
            raise TemplateProblem(f"brand {brand.id!r} has no hashtag for mention mode 'hashtag'")
        return brand.hashtag
    handles = brand.handles.get(channel.id)
    if not handles:
        raise TemplateProblem(
            f"brand {brand.id!r} has no handle on channel {channel.id!r} for mention mode 'at'")
    platform = PLATFORMS[channel.platform or "other"]
    handle = handles[0]
    prefix = platform.mention_prefix
    return handle if not prefix or handle.startswith(prefix) else prefix + handle


def context(persona: Persona, brand: Brand, channel: Channel, mode: str,
            category_id: str, category_label: str) -> dict[str, Any]:
    """The variables a template sees."""
    return {
        "persona": {
            "id": persona.id,
            "name": persona.name,
            "account": persona.accounts.get(channel.id, ""),
            "attributes": dict(persona.attributes),
        },
        "brand": {
            "id": brand.id,
            "name": brand.name,
            "industry": brand.industry,
            "hashtag": brand.hashtag or "",
            "handle": (brand.handles.get(channel.id) or [""])[0],
        },
        "mention": mention_text(brand, channel, mode),
        "mention_mode": mode,
        "channel": {"id": channel.id, "platform": channel.platform or "other"},
        "category": {"id": category_id, "label": category_label},
    }


def render(source: str, variables: dict[str, Any]) -> str:
    """Render ``source``; raise :class:`TemplateProblem` with a readable reason."""
    template = compile_template(source)
    try:
        return template.render(variables).strip()
    except TemplateError as exc:
        raise TemplateProblem(f"template does not render: {exc}") from None
    except Exception as exc:  # sandbox refusals and errors inside expressions
        raise TemplateProblem(f"template does not render: {type(exc).__name__}: {exc}") from None


_RENDERED: dict[tuple[Any, ...], str] = {}
_MAX_RENDERED = 300_000


def render_message(source: str, persona: Persona, brand: Brand, channel: Channel, mode: str,
                   category_id: str, category_label: str) -> str:
    """Render a message template for one persona, brand, channel and mention mode.

    Results are remembered by the values the template actually reads, so validation (which
    renders every combination) and planning (which renders each probe) share the work, and a
    template that reads only ``mention`` renders once per brand and mode, however many
    personas and weeks use it.
    """
    used = variables_used(source)
    mention = mention_text(brand, channel, mode)  # raises for a missing handle or hashtag
    key = (
        source,
        (persona.id, persona.name, persona.accounts.get(channel.id, ""),
         tuple(sorted(persona.attributes.items()))) if "persona" in used else None,
        (brand.id, brand.name, brand.industry, brand.hashtag,
         (brand.handles.get(channel.id) or [""])[0]) if "brand" in used else None,
        mention if "mention" in used else None,
        mode if "mention_mode" in used else None,
        (channel.id, channel.platform) if "channel" in used else None,
        (category_id, category_label) if "category" in used else None,
    )
    text = _RENDERED.get(key)
    if text is None:
        text = render(source, context(persona, brand, channel, mode, category_id,
                                      category_label))
        if len(_RENDERED) >= _MAX_RENDERED:
            _RENDERED.clear()
        _RENDERED[key] = text
    return text
