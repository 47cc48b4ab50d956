"""Scenario validation: the shipped scenarios pass, and every broken one is refused clearly.

``tests/broken/*.yaml`` is a corpus of broken scenarios. Each starts with comments saying what
``shopper validate`` must print about it:

    # expect: TEXT     (one or more) TEXT appears in the output
    # line: N          (optional) the first problem listed is on line N
    # problems: N      (optional) exactly N problems are listed

Every corpus file runs through the real command line, in an empty working directory, and must
exit with status 2, print one ``FILE:LINE:COL: field.path: message`` line per problem and a
count, show no traceback, and leave the directory empty. The in-process tests below check
field paths, positions and hints precisely, through ``load_scenario_text``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.errors import Problem, ScenarioError
from harness.scenario import yamlsafe
from harness.scenario.model import Scenario
from harness.session.scenarios import load_scenario, load_scenario_text

ROOT = Path(__file__).resolve().parent.parent
BROKEN = sorted((Path(__file__).resolve().parent / "broken").glob("*.yaml"))
PROBLEM_LINE = re.compile(r"^.+:\d+:\d+: .*$")
DIRECTIVE = re.compile(r"^#\s*(expect|line|problems)\s*:\s*(.*?)\s*$")
SLOW = 10.0  # seconds: a generous bound for work that should take well under a second


def shipped_scenarios() -> list[Path]:
    return sorted((ROOT / "scenarios").glob("*.yaml"))


def validate(*paths: Path | str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `python -m harness validate PATHS` as a user would."""
    return subprocess.run([sys.executable, "-m", "harness", "validate", *map(str, paths)],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


@dataclass
class Expectations:
    substrings: list[str] = field(default_factory=list)
    line: int | None = None
    problems: int | None = None


def expectations(path: Path) -> Expectations:
    """The `# expect:`, `# line:` and `# problems:` comments of a corpus file."""
    found = Expectations()
    # Bytes first: some corpus files are deliberately not UTF-8.
    for raw in path.read_bytes().decode("utf-8", "replace").splitlines():
        match = DIRECTIVE.match(raw)
        if not match:
            continue
        name, value = match.groups()
        if name == "expect":
            found.substrings.append(value)
        elif name == "line":
            found.line = int(value)
        else:
            found.problems = int(value)
    return found


def split_output(stderr: str, path: Path | str) -> list[str]:
    """The problem lines of one refused file, checking the count line that ends them."""
    *problems, summary = stderr.splitlines()
    count = len(problems)
    assert summary == f"{path}: {count} problem{'s' if count != 1 else ''}", stderr
    return problems


def line_of(problem_line: str, path: Path | str) -> int:
    return int(problem_line.removeprefix(f"{path}:").split(":")[0])


# -- the corpus, through the command line ------------------------------------------------------


def test_corpus_is_well_formed() -> None:
    assert 30 <= len(BROKEN) <= 40
    for path in BROKEN:
        found = expectations(path)
        assert found.substrings, f"{path.name} has no '# expect:' line"
        # A misspelt directive would silently check nothing.
        for raw in path.read_bytes().decode("utf-8", "replace").splitlines():
            if re.match(r"^#\s*[a-z_-]+\s*:", raw):
                assert DIRECTIVE.match(raw), f"{path.name}: unknown directive {raw!r}"


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_scenario_is_refused(path: Path, tmp_path: Path) -> None:
    expected = expectations(path)
    started = time.monotonic()
    result = validate(path, cwd=tmp_path)
    elapsed = time.monotonic() - started

    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    problems = split_output(result.stderr, path)
    assert problems
    for line in problems:
        assert PROBLEM_LINE.match(line), line
        assert line.startswith(f"{path}:"), line
    for text in expected.substrings:
        assert text in result.stderr, f"{text!r} not in:\n{result.stderr}"
    if expected.line is not None:
        assert line_of(problems[0], path) == expected.line, result.stderr
    if expected.problems is not None:
        assert len(problems) == expected.problems, result.stderr
    assert list(tmp_path.iterdir()) == [], "validate wrote (or let a template write) files"
    assert elapsed < SLOW


# -- the command line: shipped scenarios, several files, files that are not scenarios ----------


def test_shipped_scenarios_validate(tmp_path: Path) -> None:
    shipped = shipped_scenarios()
    assert shipped
    result = validate(*shipped, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # nothing on stderr but the warnings of designs too small to judge their matchups
    assert all(any(line.startswith(f"{path}: warning: ") for path in shipped)
               for line in result.stderr.splitlines()), result.stderr
    for path in shipped:
        assert f"{path}: ok (" in result.stdout
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", shipped_scenarios(), ids=lambda p: p.stem)
def test_shipped_scenario_loads(path: Path) -> None:
    scenario = load_scenario(path)
    assert isinstance(scenario, Scenario)
    assert scenario.personas and scenario.brands and scenario.categories


@pytest.mark.slow
def test_every_file_is_checked_and_one_bad_file_fails_the_run(tmp_path: Path) -> None:
    good = shipped_scenarios()[0]
    bad = [BROKEN[0], BROKEN[-1]]
    result = validate(bad[0], good, bad[1], cwd=tmp_path)
    assert result.returncode == 2
    assert f"{good}: ok (" in result.stdout
    assert f"{bad[0]}: " in result.stderr and f"{bad[1]}: " in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("content", "message"), [
    (b"", "the file is empty"),
    ("name: x\n".encode("utf-16"), "not UTF-8 text: invalid start byte"),
])
def test_files_that_are_not_scenarios(tmp_path: Path, content: bytes, message: str) -> None:
    source = tmp_path / "input" / "scenario.yaml"
    source.parent.mkdir()
    source.write_bytes(content)
    work = tmp_path / "work"
    work.mkdir()
    result = validate(source, cwd=work)
    assert result.returncode == 2
    assert split_output(result.stderr, source) == [f"{source}:1:1: {message}"]
    assert "Traceback" not in result.stderr
    assert list(work.iterdir()) == []


def test_missing_file(tmp_path: Path) -> None:
    result = validate(tmp_path / "nowhere.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert "cannot read: No such file or directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_huge_file_is_refused_without_parsing(tmp_path: Path) -> None:
    source = tmp_path / "huge.yaml"
    with source.open("w") as out:  # valid YAML all the way through: only its size is wrong
        out.write("name: huge\ntitle: ")
        out.write("x" * yamlsafe.MAX_FILE_BYTES)
        out.write("\n")
    work = tmp_path / "work"
    work.mkdir()
    started = time.monotonic()
    result = validate(source, cwd=work)
    assert time.monotonic() - started < SLOW
    assert result.returncode == 2
    assert split_output(result.stderr, source) == [
        f"{source}:1:1: file is larger than {yamlsafe.MAX_FILE_BYTES:,} bytes"]
    assert list(work.iterdir()) == []


# -- in-process: a small valid scenario, broken one way at a time ------------------------------

BASE = textwrap.dedent("""\
    name: mini
    timezone: Europe/Paris
    personas:
      - id: ana
        name: Ana
        accounts: {twitter: "@ana"}
        attributes: {city: Lyon}
    brands:
      - id: acme
        name: Acme
        industry: Tools
        handles: {twitter: "@acme"}
        hashtag: "#Acme"
    categories:
      - id: faq
        label: FAQ
        templates:
          - "Hi {{ mention }}, when do you open?"
    channels:
      - id: twitter
        adapter: simulated
        platform: x
    schedule:
      start: 2013-01-07
      weeks: 1
    """)


def edit(old: str, new: str, text: str = BASE) -> str:
    """``text`` with the one occurrence of ``old`` replaced."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


def problems_of(text: str) -> list[Problem]:
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text(text, "s.yaml")
    problems = caught.value.problems
    assert problems
    for problem in problems:
        assert PROBLEM_LINE.match(str(problem)) and "\n" not in str(problem), str(problem)
    return problems


def only_problem(text: str) -> Problem:
    problems = problems_of(text)
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def position(text: str, needle: str) -> tuple[int, int]:
    """1-based line and column where ``needle`` first occurs in ``text``."""
    index = text.index(needle)
    return text.count("\n", 0, index) + 1, index - text.rfind("\n", 0, index)


def test_base_scenario_is_valid() -> None:
    scenario = load_scenario_text(BASE, "s.yaml")
    assert scenario.name == "mini"
    assert [p.id for p in scenario.personas] == ["ana"]


def test_problem_format() -> None:
    assert str(Problem("a.yaml", 3, 7, "brands[0].id", "bad")) == "a.yaml:3:7: brands[0].id: bad"
    assert str(Problem("a.yaml", 1, 1, "", "the file is empty")) == "a.yaml:1:1: the file is empty"


# Unknown keys: the line and column of the key itself, the path, and a hint.
@pytest.mark.parametrize(("old", "new", "path", "hint"), [
    ("schedule:", "schedual:", "schedual", "schedule"),
    ("    accounts:", "    acounts:", "personas[0].acounts", "accounts"),
    ("    handles:", "    handels:", "brands[0].handels", "handles"),
    ("    adapter: simulated", "    adaptor: simulated", "channels[0].adaptor", "adapter"),
    ("  weeks: 1", "  week: 1", "schedule.week", "weeks"),
    ('    hashtag: "#Acme"\n', '    hashtag: "#Acme"\n    simulate: {latency: {medain: 2h}}\n',
     "brands[0].simulate.latency.medain", "median"),
    ('    hashtag: "#Acme"\n',
     '    hashtag: "#Acme"\n    simulate: {auto_ack: {probabilty: 0.5}}\n',
     "brands[0].simulate.auto_ack.probabilty", "probability"),
    ('      - "Hi {{ mention }}, when do you open?"\n',
     '      - "Hi {{ mention }}, when do you open?"\n    follow_up: [{after: 5m, templat: ok}]\n',
     "categories[0].follow_up[0].templat", "template"),
])
def test_unknown_key_points_at_the_key_with_a_hint(old: str, new: str, path: str,
                                                   hint: str) -> None:
    text = edit(old, new)
    problem = only_problem(text)  # the "missing" field the typo stands for is not reported too
    key = path.rsplit(".", 1)[-1]
    assert problem.path == path
    assert problem.message == f"unknown key {key!r} (did you mean {hint!r}?)"
    assert (problem.line, problem.column) == position(text, key + ":")


def test_unknown_key_without_a_close_match_lists_the_allowed_keys() -> None:
    problem = only_problem(edit("  weeks: 1", "  weeks: 1\n  colour: red"))
    assert problem.path == "schedule.colour"
    assert "(expected one of: start, weeks, weekdays" in problem.message


def test_yaml_11_booleans_are_key_names_not_values() -> None:
    problem = only_problem(BASE + "on: monday\n")
    assert problem.path == "on" and problem.message.startswith("unknown key 'on'")


@pytest.mark.parametrize(("old", "new", "path", "message"), [
    ("  weeks: 1", "  weeks: four", "schedule.weeks",
     "Input should be a valid integer, unable to parse string as an integer (got 'four')"),
    ("  weeks: 1", "  weeks: 0", "schedule.weeks",
     "Input should be greater than or equal to 1 (got 0)"),
    ("name: mini", "name: [mini]", "name", "Input should be a valid string"),
    ("    name: Ana", "    name: 42", "personas[0].name",
     "Input should be a valid string (got 42)"),
    ("attributes: {city: Lyon}", "attributes: {city: [Lyon, Paris]}",
     "personas[0].attributes.city",
     "Input should be a valid string or a valid integer or a valid number or a valid boolean"),
    ("    platform: x", "    platform: x\n    personas: 3", "channels[0].personas",
     "Input should be 'all' or a valid list (got 3)"),
    ("    platform: x", "    platform: x\n    personas: [ana, 7]", "channels[0].personas[1]",
     "Input should be a valid string (got 7)"),
    ("    platform: x", "    platform: twitter", "channels[0].platform",
     "Input should be 'x', 'mastodon', 'bluesky', 'email' or 'other' (got 'twitter')"),
    ("    platform: x", "    platform: x\n    poll_every: 0s", "channels[0].poll_every",
     "must be longer than zero"),
    ('hashtag: "#Acme"', "hashtag: Acme", "brands[0].hashtag",
     "a hashtag is '#' then letters, digits or '_' (got 'Acme')"),
])
def test_wrong_types_and_values(old: str, new: str, path: str, message: str) -> None:
    problem = only_problem(edit(old, new))
    assert (problem.path, problem.message) == (path, message)


def test_a_bad_mapping_key_is_reported_at_the_key() -> None:
    text = edit('    hashtag: "#Acme"\n',
                '    hashtag: "#Acme"\n    simulate: {reply: {at: 0.5, tag: 0.5}}\n')
    problem = only_problem(text)
    assert problem.path == "brands[0].simulate.reply.tag"
    assert problem.message == "Input should be 'at', 'name' or 'hashtag' (got 'tag')"
    assert (problem.line, problem.column) == position(text, "tag: 0.5")


def test_required_fields() -> None:
    text = edit("    name: Acme\n", "")
    problem = only_problem(text)
    assert (problem.path, problem.message) == ("brands[0].name", "required field is missing")
    assert problem.line == position(text, "  - id: acme")[0]


# References between sections, with hints.
@pytest.mark.parametrize(("old", "new", "path", "message"), [
    ("    platform: x", "    platform: x\n    personas: [ana, bob]", "channels[0].personas[1]",
     "undefined persona 'bob'"),
    ("    platform: x", "    platform: x\n    brands: [acme, acmee]", "channels[0].brands[1]",
     "undefined brand 'acmee' (did you mean 'acme'?)"),
    ('    hashtag: "#Acme"\n', '    hashtag: "#Acme"\n    simulate: {category: {fqa: 2}}\n',
     "brands[0].simulate.category.fqa", "undefined category 'fqa' (did you mean 'faq'?)"),
    ('accounts: {twitter: "@ana"}', 'accounts: {twitter: "@ana", mastodon: "@ana@x.y"}',
     "personas[0].accounts.mastodon", "undefined channel 'mastodon'"),
    ('handles: {twitter: "@acme"}', 'handles: {twitter: "@acme", twiter: "@acme2"}',
     "brands[0].handles.twiter", "undefined channel 'twiter' (did you mean 'twitter'?)"),
    ("  weeks: 1", "  weeks: 1\nmatchups: [[acme, globex]]", "matchups[0][1]",
     "undefined brand 'globex'"),
])
def test_undefined_references(old: str, new: str, path: str, message: str) -> None:
    problem = only_problem(edit(old, new))
    assert (problem.path, problem.message) == (path, message)


@pytest.mark.parametrize(("section", "old", "new"), [
    ("personas", "personas:\n",
     "personas:\n  - {id: ana, name: Ana Two, accounts: {twitter: '@ana2'}}\n"),
    ("brands", "brands:\n",
     "brands:\n  - {id: acme, name: Acme Two, industry: Tools, handles: {twitter: '@a2'}}\n"),
    ("categories", "categories:\n", "categories:\n  - {id: faq, label: Q, templates: [hi]}\n"),
    ("channels", "channels:\n", "channels:\n  - {id: twitter, adapter: simulated}\n"),
])
def test_duplicate_ids(section: str, old: str, new: str) -> None:
    problem = only_problem(edit(old, new))
    assert problem.path == f"{section}[1].id"
    assert problem.message.startswith("duplicate id ")
    assert problem.message.endswith(f"(first used in {section}[0])")


def test_duplicate_yaml_key() -> None:
    text = edit("  weeks: 1", "  weeks: 1\n  weeks: 2")
    problem = only_problem(text)
    assert (problem.path, problem.message) == ("schedule.weeks", "duplicate key 'weeks'")
    assert problem.line == position(text, "  weeks: 2")[0]


@pytest.mark.parametrize("zone", ["Europe/Pariss", "Mars/Olympus", "UTC+2", "../../etc/passwd",
                                  "Europe/", "Europe", "America/" + "x" * 300])
def test_unknown_time_zones(zone: str) -> None:
    problem = only_problem(edit("timezone: Europe/Paris", f"timezone: '{zone}'"))
    assert problem.path == "timezone"
    assert problem.message.startswith(f"unknown time zone {zone!r}")


def test_unknown_brand_time_zone() -> None:
    problem = only_problem(edit("  industry: Tools", "  industry: Tools\n    timezone: Nowhere"))
    assert problem.path == "brands[0].timezone"
    assert problem.message.startswith("unknown time zone 'Nowhere'")


@pytest.mark.parametrize(("old", "new", "path", "message"), [
    ("2013-01-07", "2012-02-30", "schedule.start", "day is out of range for month"),
    ("2013-01-07", "2013-02-29", "schedule.start", "day is out of range for month"),
    ("2013-01-07", "2013-13-01", "schedule.start", "month must be in 1..12"),
    ("  weeks: 1", "  weeks: 1\n  exclude_dates: [2013-01-08, 2013-04-31]",
     "schedule.exclude_dates[1]", "day is out of range for month"),
])
def test_impossible_dates(old: str, new: str, path: str, message: str) -> None:
    text = edit(old, new)
    problem = only_problem(text)
    assert problem.path == path
    assert message in problem.message
    bad = new.split()[-1].strip("]")
    assert (problem.line, problem.column) == position(text, bad)


def test_a_leap_day_is_a_date() -> None:
    scenario = load_scenario_text(edit("2013-01-07", "2012-02-29"), "s.yaml")
    assert str(scenario.schedule.start) == "2012-02-29"


@pytest.mark.parametrize(("old", "new", "path", "message"), [
    ("  weeks: 1", "  weeks: 1\n  send_window: {start: '18:00', end: '09:00'}",
     "schedule.send_window", "start (18:00) must be before end (09:00)"),
    ("  weeks: 1", "  weeks: 1\n  send_window: {start: 10:00, end: 10:00}",
     "schedule.send_window", "start (10:00) must be before end (10:00)"),
    ("  weeks: 1", "  weeks: 1\n  send_window: {start: '24:00', end: '17:00'}",
     "schedule.send_window", "start (24:00) must be before end (17:00)"),
    ("  weeks: 1", "  weeks: 1\n  send_window: {start: '09:00', end: '25:00'}",
     "schedule.send_window.end", "expected a time of day like '09:00' or '17:30', got '25:00'"),
    ("    industry: Tools", "    industry: Tools\n    business_hours: {open: 18:00, close: 9:30}",
     "brands[0].business_hours", "open (18:00) must be before close (09:30)"),
])
def test_impossible_time_windows(old: str, new: str, path: str, message: str) -> None:
    problem = only_problem(edit(old, new))
    assert (problem.path, problem.message) == (path, message)


def test_unquoted_times_are_times_of_day() -> None:
    # YAML 1.1 reads 17:30 as the base-60 number 1050; in a scenario it is a time.
    scenario = load_scenario_text(
        edit("  weeks: 1", "  weeks: 1\n  send_window: {start: 9:15, end: 17:30}"), "s.yaml")
    window = scenario.schedule.send_window
    assert (str(window.start), str(window.end)) == ("09:15:00", "17:30:00")


# Templates: rendered for every persona x brand x mention mode they will meet.

TWO_PERSONAS = edit("personas:\n",
                    "personas:\n  - {id: bo, name: Bo, accounts: {twitter: '@bo'}}\n")


def test_template_needing_an_attribute_one_persona_lacks() -> None:
    text = edit("when do you open?", "do you deliver to {{ persona.attributes.city }}?",
                TWO_PERSONAS)
    problem = only_problem(text)  # one line, though it fails for two mention modes
    assert problem.path == "categories[0].templates[0]"
    assert problem.message.startswith(
        "template does not render: 'dict object' has no attribute 'city' (for persona 'bo'")
    assert problem.message.endswith("and 1 more case)")
    assert (problem.line, problem.column) == position(text, '"Hi {{')


def test_hashtag_mention_for_a_brand_without_hashtag() -> None:
    text = edit('    hashtag: "#Acme"\n', "") + "design: {mentions: [at, hashtag]}\n"
    problem = only_problem(text)
    assert problem.path == "categories[0].templates[0]"
    assert problem.message.startswith(
        "brand 'acme' has no hashtag for mention mode 'hashtag' (for brand 'acme'")


def test_one_line_per_template_problem_however_many_cases_fail() -> None:
    text = edit("brands:\n", "brands:\n  - {id: b2, name: B2, industry: T, handles: {twitter: "
                "'@b2'}}\n", TWO_PERSONAS)
    text = edit("when do you open?", "{{ nope }}", text)
    text = edit('      - "Hi', '      - "Bye {{ mention.nope }}"\n      - "Hi', text)
    problems = problems_of(text)
    assert [p.path for p in problems] == ["categories[0].templates[0]",
                                          "categories[0].templates[1]"]
    # the templates do not read `persona`, so 2 brands x 2 mention modes = 4 cases each
    assert problems[0].message.endswith("and 3 more cases)")
    assert "persona" not in problems[0].message
    assert "'nope' is undefined" in problems[1].message


def test_template_syntax_error() -> None:
    problem = only_problem(edit("{{ mention }}", "{{ mention }"))
    assert problem.path == "categories[0].templates[0]"
    assert problem.message.startswith("template syntax error:")


CJK = "顧客サービスについて質問があります。" * 8  # 144 characters, which X counts twice


@pytest.mark.parametrize(("platform", "template", "too_long"), [
    ("x", "{{ mention }} " + "a" * 266, False),  # 5 + 1 + 266 = 272
    ("x", "{{ mention }} " + "a" * 276, True),  # 282 with '@acme', 281 with 'Acme'
    ("x", "{{ mention }} " + CJK, True),  # 150 characters, weighted 294
    ("mastodon", "{{ mention }} " + CJK, False),
    ("bluesky", "{{ mention }} " + CJK, False),
    ("x", "{{ mention }} https://example.com/" + "p" * 400, False),  # a URL counts 23
    ("email", "{{ mention }} " + "a" * 5000, False),
])
def test_message_length_limits(platform: str, template: str, too_long: bool) -> None:
    text = edit('"Hi {{ mention }}, when do you open?"', f'"{template}"')
    text = edit("    platform: x", f"    platform: {platform}", text)
    if not too_long:
        load_scenario_text(text, "s.yaml")
        return
    problem = only_problem(text)
    assert problem.path == "categories[0].templates[0]"
    assert re.fullmatch(r"message is \d+ characters, over the x limit of 280 \(for "
                        r"brand 'acme', mention 'at', and 1 more case\)", problem.message)


def test_too_long_reports_the_longest_case() -> None:
    # "Hi @acme, " + 275 = 285 characters; "Hi Acme Customer Care Incorporated, " + 275 = 311
    text = edit("    name: Acme", "    name: Acme Customer Care Incorporated")
    text = edit("when do you open?", "a" * 275, text)
    problem = only_problem(text)
    assert problem.message == ("message is 311 characters, over the x limit of 280 (for "
                               "brand 'acme', mention 'name', and 1 more case)")


# Secrets: only as {env: VARIABLE_NAME}.
@pytest.mark.parametrize(("settings", "path", "message"), [
    ("{access_token: abc123}", "channels[0].settings.access_token",
     "'access_token' looks like a secret"),
    ("{password: 123456}", "channels[0].settings.password", "'password' looks like a secret"),
    ("{auth: {client_secret: s3cr3t}}", "channels[0].settings.auth.client_secret",
     "'client_secret' looks like a secret"),
    ("{api_keys: [{env: KEY_ONE}, sk-live-2]}", "channels[0].settings.api_keys[1]",
     "'api_keys' looks like a secret"),
    ("{bearer_token: {env: lower-case}}", "channels[0].settings.bearer_token",
     "an environment reference is {env: VARIABLE_NAME} and nothing else"),
    ("{token: {env: TOKEN, default: abc}}", "channels[0].settings.token",
     "an environment reference is {env: VARIABLE_NAME} and nothing else"),
])
def test_inline_secrets(settings: str, path: str, message: str) -> None:
    problem = only_problem(edit("    platform: x", f"    platform: x\n    settings: {settings}"))
    assert problem.path == path
    assert problem.message.startswith(message)


def test_secrets_from_the_environment_are_fine() -> None:
    settings = ("{access_token: {env: X_TOKEN}, api_keys: [{env: K1}], base_url: "
                "'https://api.example.com', retries: 3, token_refresh: ''}")
    scenario = load_scenario_text(
        edit("    platform: x", f"    platform: x\n    settings: {settings}"), "s.yaml")
    assert scenario.channels[0].settings["access_token"] == {"env": "X_TOKEN"}


# Unsafe YAML: no object is built, no code runs.
@pytest.mark.parametrize("value", [
    "!!python/object/apply:os.system ['touch pwned']",
    "!!python/object/new:os.system ['touch pwned']",
    "!!python/object:pathlib.Path {}",
    "!!python/name:os.system",
    "!!python/module:os",
    "!!set {a, b}",
    "!!binary dG91Y2ggcHduZWQ=",
    "!!omap [a: 1]",
    "!custom value",
    "!<tag:example.com,2000:app/foo> bar",
])
def test_unsafe_tags_are_refused(value: str, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = edit("name: mini", f"name: mini\ntitle: {value}")
    problem = only_problem(text)
    assert problem.path == "title"
    assert re.fullmatch(r"YAML tag '.+' is not allowed \(only plain data\)", problem.message)
    assert (problem.line, problem.column) == position(text, value)
    assert list(tmp_path.iterdir()) == []


def test_unsafe_tag_on_a_key_is_refused() -> None:
    problem = only_problem(edit("name: mini", "name: mini\n? !!python/name:os.system\n: 1"))
    assert problem.message == "mapping keys must be plain text"


# Resource bombs: refused quickly, with a clear problem.
def billion_laughs(levels: int = 9) -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, levels):
        previous, name = chr(ord("a") + n - 1), chr(ord("a") + n)
        lines.append(f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]")
    return "\n".join(lines) + "\n"


def test_billion_laughs() -> None:
    started = time.monotonic()
    problem = only_problem(billion_laughs())
    assert time.monotonic() - started < SLOW
    assert problem.message == (f"document expands to more than {yamlsafe.MAX_NODES:,} values "
                               "(too many aliases or too large)")


def test_aliases_within_the_limit_are_fine() -> None:
    text = edit("name: mini", "name: mini\nx-hours: &hours {open: '08:00', close: '18:00'}")
    text = edit("    industry: Tools", "    industry: Tools\n    business_hours: *hours", text)
    scenario = load_scenario_text(text, "s.yaml")
    assert str(scenario.brands[0].business_hours.close) == "18:00:00"


@pytest.mark.parametrize(("text", "path"), [
    # Flow collections: refused by the scanner at the bracket one level too deep.
    ("title: " + "[" * 500_000 + "]" * 500_000 + "\n", ""),
    ("title: " + "{a: " * 100_000 + "1" + "}" * 100_000 + "\n", ""),
    ("title: [" + "[" * 200_000 + "\n", ""),  # never closed
    # Block collections: the composer skips what is too deep; the walker names the place.
    ("".join("  " * i + "k:\n" for i in range(900)) + "  " * 900 + "v\n", ".".join(["k"] * 41)),
    ("".join(" " * i + "-\n" for i in range(1_300)) + " " * 1_300 + "v\n", "[0]" * 41),
])
def test_deep_nesting_is_refused_quickly(text: str, path: str) -> None:
    started = time.monotonic()
    problem = only_problem(text)
    assert time.monotonic() - started < SLOW
    assert problem.message == f"nested deeper than {yamlsafe.MAX_DEPTH} levels"
    assert problem.path == path


def test_nesting_up_to_the_limit_is_fine() -> None:
    depth = yamlsafe.MAX_DEPTH - 1  # below `title`
    located = yamlsafe.load_text("title: " + "[" * depth + "]" * depth + "\n", "s.yaml")
    value = located.data["title"]
    for _ in range(depth - 1):
        value = value[0]
    assert value == []


def test_anchors_inside_skipped_deep_parts_stay_defined() -> None:
    text = ("".join("  " * i + "k:\n" for i in range(60)) + "  " * 60 + "&deep v\n"
            + "b: *deep\n")
    problem = only_problem(text)  # not also "found undefined alias 'deep'"
    assert problem.message == f"nested deeper than {yamlsafe.MAX_DEPTH} levels"


def test_too_many_values_stops_parsing_early(monkeypatch: pytest.MonkeyPatch) -> None:
    # Past the limit the parser stops: the syntax error further on is never reached.
    monkeypatch.setattr(yamlsafe, "MAX_NODES", 1_000)
    text = "a: [" + "0, " * 5_000 + "0]\nb: [unclosed\n"
    problem = only_problem(text)
    assert problem.message == "document has more than 1,000 values (too large)"
    assert problem.line == 1


def test_text_over_the_size_limit() -> None:
    problem = only_problem("title: " + "x" * yamlsafe.MAX_FILE_BYTES)
    assert problem.message == f"file is larger than {yamlsafe.MAX_FILE_BYTES:,} bytes"


# Templates that reach for Python internals, or for the validator's memory.
@pytest.mark.parametrize(("template", "reason"), [
    ("{{ ''.__class__.__mro__ }}", "access to attribute '__class__' of 'str' object is unsafe"),
    ("{{ cycler.__init__.__globals__ }}", "access to attribute '__init__'"),
    ("{{ joiner.__init__.__globals__.os.system('touch pwned') }}",
     "access to attribute '__init__'"),
    ("{{ lipsum.__globals__['os'].popen('touch pwned').read() }}",
     "access to attribute '__globals__'"),
    ("{{ namespace.__init__.__globals__ }}", "access to attribute '__init__'"),
    ("{{ self.__dict__ }}", "access to attribute '__dict__'"),
    ("{{ mention.__class__.__base__.__subclasses__() }}", "access to attribute '__class__'"),
    ("{{ persona.attributes.clear() }}", "access to attribute 'clear' of 'dict' object is unsafe"),
    ("{{ brand.update(name='Evil') }}", "access to attribute 'update' of 'dict' object is unsafe"),
    ("{{ config.items() }}", "'config' is undefined"),
    ("{{ request.application }}", "'request' is undefined"),
    ("{% for i in range(10**9) %}{% endfor %}", "Range too big"),
    ("{{ 'x' * 10**9 }}", "'*' would build 1,000,000,000 items"),
    ("{{ [mention] * 10**9 }}", "'*' would build 1,000,000,000 items"),
    ("{{ 9 ** (10**9) }}", "'**' would build a number too large"),
])
def test_templates_cannot_escape_the_sandbox(template: str, reason: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    started = time.monotonic()
    problem = only_problem(edit('"Hi {{ mention }}, when do you open?"', f'"{template}"'))
    assert time.monotonic() - started < SLOW
    assert problem.path == "categories[0].templates[0]"
    assert problem.message.startswith("template does not render: ")
    assert reason in problem.message
    assert list(tmp_path.iterdir()) == []


def test_harmless_template_arithmetic_still_works() -> None:
    text = edit("when do you open?", "{{ '-' * 3 }} {{ 2 ** 10 }} {{ 3 * 4 }} {{ '%s!' % 'ok' }}")
    load_scenario_text(text, "s.yaml")


# Text that is not text.
@pytest.mark.parametrize(("char", "code"), [("\x00", "0000"), ("\x07", "0007"),
                                            ("\x1b", "001B"), ("\ufffe", "FFFE")])
def test_control_characters(char: str, code: str) -> None:
    text = edit("name: mini", f"name: mini\ntitle: before {char} after")
    problem = only_problem(text)
    assert problem.message.startswith(f"character U+{code} is not allowed in YAML text")
    assert (problem.line, problem.column) == position(text, char)


def test_lone_surrogate_escape() -> None:
    text = edit("when do you open?", "when \\udc00 do you open?")
    problem = only_problem(text)
    assert problem.path == "categories[0].templates[0]"
    assert problem.message == "'\\udc00' is a lone surrogate, not a character"


@pytest.mark.parametrize(("content", "line", "column"), [
    ("name: mini\ntitle: Café\n".encode("latin-1"), 2, 11),
    ("\n\n# comment\nname: naïve\n".encode("cp1252"), 4, 9),
    (b"\xff\xfe" + "name: mini\n".encode("utf-16-le"), 1, 1),
])
def test_non_utf8_files(tmp_path: Path, content: bytes, line: int, column: int) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(content)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    [problem] = caught.value.problems
    assert problem.message.startswith("not UTF-8 text: ")
    assert (problem.file, problem.line, problem.column) == (str(path), line, column)


def test_utf8_byte_order_mark_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode("utf-8"))
    assert load_scenario(path).name == "mini"


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "   \n# c\n"])
def test_empty(text: str) -> None:
    problem = only_problem(text)
    assert (problem.line, problem.column, problem.message) == (1, 1, "the file is empty")


@pytest.mark.parametrize("text", ["- name: mini\n- title: x\n", "mini\n", "42\n", "~\n",
                                  "[a, b]\n"])
def test_top_level_must_be_a_mapping(text: str) -> None:
    problem = only_problem(text)
    assert problem.message == "a scenario must be a mapping of sections"


@pytest.mark.parametrize(("text", "line", "column", "message"), [
    ("name: mini\ntitle: 'unclosed\n", 3, 1, "found unexpected end of stream"),
    ("name: mini\n  title: x\n", 2, 8, "mapping values are not allowed here"),
    ("name: mini\n\tx: 1\n", 2, 1, "found character '\\t' that cannot start any token"),
    ("a: *missing\n", 1, 4, "found undefined alias 'missing'"),
    ("a: &x 1\nb: &x 2\n", 2, 4, "found duplicate anchor 'x'"),
    ("name: a\n---\nname: b\n", 2, 1, "expected a single document in the stream"),
])
def test_yaml_syntax_errors(text: str, line: int, column: int, message: str) -> None:
    problem = only_problem(text)
    assert problem.message.startswith("YAML syntax error: ")
    assert message in problem.message
    assert (problem.line, problem.column) == (line, column)


# Every problem at once.
def test_every_problem_is_reported_at_once_in_file_order() -> None:
    text = edit("timezone: Europe/Paris", "timezone: Europe/Pariss")
    text = edit("    name: Ana", "    nmae: Ana", text)
    text = edit("  weeks: 1", "  weeks: -1\n  weekdays: [mon, funday]", text)
    text = edit("    platform: x", "    platform: x\n    poll_every: soon", text)
    problems = problems_of(text)
    assert [(p.path, p.line) for p in problems] == [
        ("timezone", 2),
        ("personas[0].nmae", 5),  # 'name' is missing too, but the hint says so
        ("channels[0].poll_every", 23),
        ("schedule.weeks", 26),
        ("schedule.weekdays[1]", 27),
    ]
    assert problems[1].message == "unknown key 'nmae' (did you mean 'name'?)"


def test_three_cross_section_problems_give_three_lines() -> None:
    text = edit("    platform: x", "    platform: x\n    personas: [ana, anna]\n"
                "    settings: {api_key: k-123}")
    text = edit("categories:\n", "categories:\n  - {id: faq, label: Again, templates: [x]}\n",
                text)
    problems = problems_of(text)
    assert [p.path for p in problems] == ["categories[1].id", "channels[0].personas[1]",
                                          "channels[0].settings.api_key"]


def test_a_brand_needs_a_handle_on_every_channel_that_serves_it() -> None:
    from .conftest import SMALL

    text = SMALL.replace('    handles: {x: ["@MuteInc"]}\n', "")
    problem = only_problem(text)
    assert problem.path == "brands[2].handles"
    assert "no handle on channel 'x'" in problem.message


def test_keys_written_beside_a_merge_key_override_the_merged_ones() -> None:
    from .conftest import SMALL

    text = SMALL.replace("\nbrands:\n", "\nx-fast: &fast {median: 10m, spread: 0.5}\nbrands:\n")
    text = text.replace("latency: {median: 10m, spread: 0.5}",
                        "latency: {<<: *fast, spread: 0.9}")
    scenario = load_scenario_text(text, "s.yaml")
    latency = scenario.brands[0].simulate.latency
    assert (latency.median.total_seconds(), latency.spread) == (600, 0.9)
    twice = text.replace("{<<: *fast, spread: 0.9}", "{<<: *fast, spread: 0.9, spread: 1}")
    problem = only_problem(twice)
    assert problem.message == "duplicate key 'spread'"


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_fast_parser_reads_valid_files_exactly_as_the_exact_one(path: Path) -> None:
    from harness.scenario.yamlsafe import FAST, load_text

    if not FAST:
        pytest.skip("PyYAML without libyaml: only the exact parser exists")
    text = path.read_text(encoding="utf-8")
    fast, exact = load_text(text, "s", fast=True), load_text(text, "s")
    assert fast.data == exact.data
    assert fast.value_marks == exact.value_marks and fast.key_marks == exact.key_marks


def test_merge_keys_mean_the_same_whichever_pyyaml_is_installed() -> None:
    """Of two merged mappings the first listed wins, a merged mapping's own keys beat its own
    merges, and repeating one mapping changes nothing (PyYAML 6.0.4 reversed the first rule
    and 6.0.3 kept the repeats: what a scenario means is ours to decide, not theirs)."""
    from harness.scenario.yamlsafe import load_text

    text = textwrap.dedent("""\
        a: &a {k: 1, j: 1}
        b: &b {k: 2, m: 2}
        first-listed-wins: {<<: [*a, *b], j: 3}
        own-beats-merged: &d {<<: *a, k: 9}
        through-a-merge: {<<: *d}
        repeated: {<<: [*b, *b, *b]}
        "=": equals is a key
        """)
    data = load_text(text, "s.yaml").data
    assert data["first-listed-wins"] == {"k": 1, "j": 3, "m": 2}
    assert data["own-beats-merged"] == data["through-a-merge"] == {"k": 9, "j": 1}
    assert data["repeated"] == {"k": 2, "m": 2}
    assert data["="] == "equals is a key"
    assert data["a"] == {"k": 1, "j": 1}, "a merged mapping is left as it was written"
