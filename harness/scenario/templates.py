"""Render message templates in a sandbox, with every variable required to exist.

Templates are jinja2 text, rendered by the bounded sandbox of :mod:`harness.scenario.sandbox`:
they can read the persona, brand, mention, channel and category they are given and nothing
else, a misspelt or missing variable is an error rather than an empty string, and a template
that would take too much memory or time is refused. Every failure is a
:class:`TemplateProblem`, which validation reports like any other problem.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateError, meta

from harness.platforms import PLATFORMS
from harness.scenario.model import Brand, Channel, Persona
from harness.scenario.sandbox import (
    ENVIRONMENT,
    MAX_MESSAGE_LENGTH,
    MAX_TEMPLATE_LENGTH,
    TemplateProblem,
)
from harness.scenario.sandbox_budget import MAX_SECONDS

__all__ = ["MAX_MESSAGE_LENGTH", "MAX_SECONDS", "TemplateProblem", "compile_template",
           "context", "mention_text", "render", "render_message", "variables_used"]


@lru_cache(maxsize=4096)
def compile_template(source: str) -> Template:
    """Compile once; raise :class:`TemplateProblem` on a syntax error."""
    if len(source) > MAX_TEMPLATE_LENGTH:
        raise TemplateProblem(f"template is {len(source):,} characters long (at most "
                              f"{MAX_TEMPLATE_LENGTH:,})")
    try:
        return ENVIRONMENT.from_string(source)
    except TemplateError as exc:
        raise TemplateProblem(f"template syntax error: {_one_line(exc)}") from None
    except (RecursionError, SyntaxError) as exc:  # too deep for the parser or for Python
        raise TemplateProblem("template syntax error: nested too deeply "
                              f"({type(exc).__name__}: {exc.args[0] if exc.args else ''})"
                              ) from None
    except ValueError as exc:  # a number literal longer than Python reads
        raise TemplateProblem(f"template syntax error: {_one_line(exc)}".split("; use ")[0]
                              ) from None
    except Exception as exc:  # anything else the compiler may raise, e.g. MemoryError
        raise TemplateProblem(f"template cannot be compiled: {type(exc).__name__}: "
                              f"{_one_line(exc)}") from None


@lru_cache(maxsize=4096)
def variables_used(source: str) -> frozenset[str]:
    """The top-level variables a (compilable) template reads, e.g. ``{"mention", "brand"}``."""
    compile_template(source)  # the same problems, reported the same way
    return frozenset(meta.find_undeclared_variables(ENVIRONMENT.parse(source)))


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
        raise TemplateProblem(f"template does not render: {_one_line(exc)}") from None
    except Exception as exc:  # sandbox refusals and errors inside expressions
        raise TemplateProblem(f"template does not render: {type(exc).__name__}: "
                              f"{_one_line(exc)}") from None


def _one_line(error: BaseException) -> str:
    """An error's message with anything that would not print as itself escaped, so that a
    problem is always one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(error))


_RENDERED: dict[tuple[Any, ...], str | TemplateProblem] = {}
_MAX_RENDERED = 300_000


def render_message(source: str, persona: Persona, brand: Brand, channel: Channel, mode: str,
                   category_id: str, category_label: str) -> str:
    """Render a message template for one persona, brand, channel and mention mode.

    Results are remembered by the values the template actually reads, so validation (which
    renders every combination) and planning (which renders each probe) share the work, and a
    template that reads only ``mention`` renders once per brand and mode, however many
    personas and weeks use it. A failure is remembered too: a template that fails for one
    case is not rendered again, at full cost, for every other case it fails the same way.
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
        try:
            text = render(source, context(persona, brand, channel, mode, category_id,
                                          category_label))
        except TemplateProblem as exc:
            text = exc
        if len(_RENDERED) >= _MAX_RENDERED:
            _RENDERED.clear()
        _RENDERED[key] = text
    if isinstance(text, TemplateProblem):
        raise TemplateProblem(str(text))
    return text
