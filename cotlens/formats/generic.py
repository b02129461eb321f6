"""Generic records: after every specific shape has had its chance, a record is recognized by its field names.

The names of each role (model, reasoning, answer, tokens, ...) and their precedence are data: `synonyms.toml`,
tabled in the README. Fields are looked for at the record's top level, then in ONE nested object (`message`,
`response`, `choices[0].message`, ...). What is found becomes a plan: a declarative mapping (`mapping.py`) that
then parses the record, so `cotlens sniff --emit-map` prints exactly what ingest does, and the strings are split
at inline reasoning markers wherever they sit. Equal-length lists under the reasoning and answer names are
per-sample parallel lists (`thinking[*]`, `output[*]`): one transcript per index.

One module of about 560 lines: finding the fields, the nested object, the parallel lists and the plan are one
recognizer whose precedence rules must be read together (split, each part would import the others' rules).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import regex

from cotlens.errors import RecordError
from cotlens.formats._fields import JSONObject
from cotlens.formats.base import Context
from cotlens.formats.mapping import FIELD_KEYS, JSONPath, MappedFormat, Mapping, parse_path, resolve
from cotlens.record import Parsed

TEXT_ROLES = ("reasoning", "summary", "answer", "samples")
# Mapping keys of the roles that are not text (their names are the mapping's own keys).
OTHER_ROLES = (
    "model",
    "prompt",
    "reasoning_tokens",
    "output_tokens",
    "finish_reason",
    "id",
    "provider",
    "dataset",
)
TOKEN_ROLES = ("reasoning_tokens", "output_tokens")
# The names the suffix rule reads: ASCII words, so a path made of one is one path step.
PLAIN_NAME = regex.compile(r"^[A-Za-z0-9_-]+$")
# A prefixed name ranks after every exact name of its role.
PREFIXED_RANK = 1000


@dataclass(frozen=True, slots=True)
class Synonyms:
    """synonyms.toml, read once."""

    roles: dict[str, tuple[str, ...]]
    suffix_only: dict[str, tuple[str, ...]]
    containers: tuple[JSONPath, ...]
    usage: tuple[str, ...]
    info: tuple[str, ...]
    wrappers: tuple[JSONPath, ...]
    suffix_roles: tuple[str, ...]
    excluded_prefixes: tuple[str, ...]
    settings: frozenset[str]
    exact: dict[str, tuple[str, int]] = field(default_factory=dict)
    suffixes: dict[str, tuple[str, int]] = field(default_factory=dict)


@lru_cache(maxsize=1)
def synonyms() -> Synonyms:
    data = tomllib.loads(resources.files("cotlens.formats").joinpath("synonyms.toml").read_text("utf-8"))
    roles = {role: tuple(table["names"]) for role, table in data["roles"].items()}
    suffix_only = {role: tuple(table.get("suffix_only", ())) for role, table in data["roles"].items()}
    syn = Synonyms(
        roles=roles,
        suffix_only=suffix_only,
        containers=tuple(parse_path(p) for p in data["places"]["containers"]),
        usage=tuple(data["places"]["usage"]),
        info=tuple(data["places"]["info"]),
        wrappers=tuple(parse_path(p) for p in data["places"]["wrappers"]),
        suffix_roles=tuple(data["suffix"]["roles"]),
        excluded_prefixes=tuple(data["suffix"]["excluded_prefixes"]),
        settings=frozenset(data["values"]["settings"]),
    )
    for role, names in roles.items():
        for rank, name in enumerate(names):
            syn.exact.setdefault(name, (role, rank))
    for role in syn.suffix_roles:
        for rank, name in enumerate(roles[role] + suffix_only[role]):
            syn.suffixes.setdefault(name, (role, rank))
    return syn


@lru_cache(maxsize=4096)
def key_role(key: Any) -> tuple[str, int] | None:
    """The role a field name plays and its rank (lower wins): an exact name, else the suffix rule on a prefixed
    name (`deepseek_reasoning`, `original_reasoning_trace`, `inner_thought`, `deepseek_solution`)."""
    syn = synonyms()
    if key in syn.exact:
        return syn.exact[key]
    match = prefixed(key)
    return None if match is None else match[1]


@lru_cache(maxsize=4096)
def prefixed(key: Any) -> tuple[str, tuple[str, int]] | None:
    """(PREFIX, (role, rank)) of a prefixed name `PREFIX_NAME` under the suffix rule; None for any other."""
    if not isinstance(key, str) or not PLAIN_NAME.match(key):
        return None  # a path step must stay one step (no dots, brackets, controls)
    parts = key.split("_")
    for i in range(1, len(parts)):
        hit = synonyms().suffixes.get("_".join(parts[i:]))
        prefix = "_".join(parts[:i])
        if hit is not None and _prefix_allowed(prefix):
            return prefix, (hit[0], PREFIXED_RANK + hit[1])
    return None


def _prefix_allowed(prefix: str) -> bool:
    syn = synonyms()
    if not prefix or prefix in syn.roles["prompt"]:
        return False
    wrapped = f"_{prefix.lower()}_"
    return not any(f"_{word}_" in wrapped for word in syn.excluded_prefixes)


@dataclass(frozen=True, slots=True)
class Candidate:
    rank: int
    path: str  # from the record's root
    value: Any


Scan = dict[str, list[Candidate]]


def scan(obj: JSONObject, prefix: str = "") -> Scan:
    """The fields of one object that play a role, per role in order of precedence."""
    found: Scan = {}
    for key, value in obj.items():
        hit = key_role(key)
        if hit is not None:
            role, rank = hit
            candidate = Candidate(rank, f"{prefix}{key}" if prefix else key, value)
            if role in found:
                found[role].append(candidate)
                found[role].sort(key=_rank)
            else:
                found[role] = [candidate]
    return found


def _rank(c: Candidate) -> int:
    return c.rank


# What a value is, for a text role.
NULL, TEXT, TEXTS = "null", "text", "texts"


def text_shape(value: Any, role: str) -> str | None:
    """NULL, TEXT (a string), TEXTS (a list of strings, nulls allowed; summary parts may be {"text": ...}), or
    None when the value cannot be text (a number, an object: `reasoning: {"effort": "high"}` is a setting)."""
    if value is None:
        return NULL
    if isinstance(value, str):
        return None if role in ("reasoning", "summary") and is_setting(value) else TEXT
    if isinstance(value, list):
        if all(item is None or isinstance(item, str) for item in value):
            return TEXTS
        if role == "summary" and all(_summary_part(item) for item in value):
            return TEXTS
    return None


def is_setting(value: str) -> bool:
    """A short word such as `on` or `high`: a setting echoed under a reasoning name, not reasoning text."""
    return len(value) <= SETTING_CHARS and value.strip().lower() in synonyms().settings


# No setting word is longer: longer strings are never looked up.
SETTING_CHARS = 12


def _summary_part(item: Any) -> bool:
    return (
        item is None
        or isinstance(item, str)
        or (isinstance(item, dict) and isinstance(item.get("text"), str))
    )


def has_content(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value) and not value.isspace()
    if isinstance(value, list):
        return any(has_content(v) or (isinstance(v, dict) and has_content(v.get("text"))) for v in value)
    return False


@dataclass(frozen=True, slots=True)
class Plan:
    """How one record is read: mapping paths per key, the reasoning kind, whether it holds parallel lists, and
    what was ambiguous (one line each) or why it cannot be read (a tie between two shapes)."""

    paths: tuple[tuple[str, str], ...]
    kind: str = "raw"
    parallel: bool = False
    notes: tuple[str, ...] = ()
    error: str | None = None
    # A record that wraps a record of a specific shape (a batch API result: `response.body`, `result.message`):
    # the path of the inner record and its format.
    wrapped: tuple[str, str] | None = None

    def path(self, key: str) -> str | None:
        return dict(self.paths).get(key)


@lru_cache(maxsize=256)
def _mapped(paths: tuple[tuple[str, str], ...], kind: str) -> MappedFormat:
    """Records of one file share a plan: its mapping is built once."""
    return MappedFormat(Mapping(reasoning_kind=kind, inline=True, paths={k: parse_path(p) for k, p in paths}))


def _first(candidates: list[Candidate], role: str) -> tuple[Candidate | None, list[Candidate]]:
    """The candidate a text role uses (the first with content, else the first usable) and the others with
    content (an ambiguity when there are any)."""
    usable = [c for c in candidates if text_shape(c.value, role) is not None]
    full = [c for c in usable if has_content(c.value)]
    if full:
        return full[0], full[1:]
    return (usable[0] if usable else None), []


def _text_score(found: Scan) -> int:
    return sum(
        1
        for roles in (("reasoning", "summary"), ("answer", "samples"))
        if any(text_shape(c.value, r) is not None for r in roles for c in found.get(r, ()))
    )


def _where(obj: JSONObject) -> tuple[str, JSONObject, Scan] | str | None:
    """Where the record's texts are: (path prefix, object, its scan); a message when two nested objects tie;
    None when there are none."""
    top = scan(obj)
    if _text_score(top):
        return "", obj, top
    options: list[tuple[int, str, JSONObject, Scan]] = []
    for container in synonyms().containers:
        inner = resolve(obj, container.steps)
        if isinstance(inner, dict):
            found = scan(inner, f"{container.text}.")
            if score := _text_score(found):
                options.append((score, container.text, inner, found))
    if not options:
        return _sample_objects(top)
    best = max(o[0] for o in options)
    tied = [o for o in options if o[0] == best]
    if len(tied) > 1:
        return (
            f"matches two shapes equally: texts in both {tied[0][1]} and {tied[1][1]}; "
            "say which with --map (cotlens sniff --emit-map prints one to edit)"
        )
    return tied[0][1] + ".", tied[0][2], tied[0][3]


def _sample_objects(top: Scan) -> tuple[str, JSONObject, Scan] | None:
    """A samples list of objects that hold the texts (`outputs: [{"text": ..., "finish_reason": ...}]`): one
    transcript per object, read through the first one (paths `outputs[*].text`)."""
    for c in top.get("samples", []):
        first = next((v for v in c.value if v is not None), None) if isinstance(c.value, list) else None
        if isinstance(first, dict) and all(v is None or isinstance(v, dict) for v in c.value):
            found = scan(first, f"{c.path}[*].")
            if _text_score(found):
                return f"{c.path}[*].", first, found
    return None


def plan_record(obj: JSONObject) -> Plan | None:
    """The plan of a generic record; None when the record has no reasoning and no answer field."""
    where = _where(obj)
    if where is None:
        return _wrapped(obj)
    if isinstance(where, str):
        return Plan((), error=where)
    prefix, inner, found = where
    notes: list[str] = []

    def pick(role: str, prefer: str | None = None) -> Candidate | None:
        candidates = found.get(role, [])
        if prefer is not None:  # the answer of the model whose reasoning was chosen (`deepseek_solution`)
            candidates = sorted(candidates, key=lambda c: _prefix_of(c.path) != prefer)
        chosen, others = _first(candidates, role)
        for other in others:
            key = "reasoning" if role == "summary" else "answer" if role == "samples" else role
            notes.append(
                f"{role} in both {chosen.path if chosen else '?'} and {other.path}: used {chosen.path if chosen else '?'} "
                f"(first in the documented precedence); to use {other.path}: --map {key}={other.path} "
                "with the other keys of `cotlens sniff --emit-map`"
            )
        return chosen

    reasoning, summary = pick("reasoning"), pick("summary")
    prefer = _prefix_of(reasoning.path) if reasoning is not None else None
    answer, samples = pick("answer", prefer), pick("samples", prefer)
    kind = "raw"
    if summary is not None and (
        reasoning is None or (not has_content(reasoning.value) and has_content(summary.value))
    ):
        reasoning, kind = summary, "summary"
    if (
        samples is not None
        and answer is not None
        and isinstance(samples.value, list)
        and has_content(samples.value)
        and not isinstance(answer.value, list)
    ):
        # One answer per sample beside a single answer: the single one is a reference (OpenR1's `answer` beside
        # its `generations`).
        notes.append(
            f"answer in both {answer.path} and {samples.path}: used {samples.path} (one answer per sample); "
            f"to use {answer.path}: --map answer={answer.path} with the other keys of `cotlens sniff --emit-map`"
        )
        answer = samples
    if answer is None:
        answer = samples
    parallel = "[*]" in prefix or (
        answer is not None
        and (
            answer is samples
            or (
                reasoning is not None and isinstance(reasoning.value, list) and isinstance(answer.value, list)
            )
        )
    )
    paths: dict[str, str] = {}
    for key, chosen in (("reasoning", reasoning), ("answer", answer)):
        if chosen is not None:
            paths[key] = _star(chosen.path, parallel and isinstance(chosen.value, list))
    places: list[Place] = [("", obj, found)] if not prefix else [("", obj, scan(obj)), (prefix, inner, found)]
    for role in OTHER_ROLES:
        path = _other(role, places, parallel)
        if path is not None:
            paths[role] = path
    ordered = tuple((k, paths[k]) for k in FIELD_KEYS if k in paths)
    return Plan(ordered, kind, parallel, tuple(dict.fromkeys(notes)))


def _wrapped(obj: JSONObject) -> Plan | None:
    """A plan that hands an inner record to the specific shape that recognizes it, or None."""
    from cotlens.formats import sniffable_formats  # the registry imports this module

    for wrapper in synonyms().wrappers:
        inner = resolve(obj, wrapper.steps)
        if isinstance(inner, dict):
            for fmt in sniffable_formats():
                if fmt.priority < Generic.priority and fmt.sniff(inner):
                    return Plan((), wrapped=(wrapper.text, fmt.name))
    return None


def _prefix_of(path: str) -> str | None:
    match = prefixed(path.rsplit(".", 1)[-1])
    return None if match is None else match[0]


def _star(path: str, parallel: bool) -> str:
    """A path over a per-sample list; one inside sample objects already has its `[*]` (a list there is segments)."""
    return f"{path}[*]" if parallel and "[*]" not in path else path


# Where a record's fields are looked for: (path prefix, object, its scan).
Place = tuple[str, JSONObject, Scan]


def _other(role: str, places: list[Place], parallel: bool) -> str | None:
    """The path of a non-text role: the top level first, then the nested object; tokens also in usage objects,
    the model also in metadata objects."""
    for _, _, found in places:
        for c in found.get(role, []):
            path = _usable(role, c.path, c.value, parallel)
            if path is not None:
                return path
    if role in TOKEN_ROLES:
        for prefix, obj, _ in places:
            for path in _usage_paths(role, obj, prefix, parallel):
                return path
    if role == "model":
        for prefix, obj, _ in places:
            for name in synonyms().info:
                meta = obj.get(name)
                if isinstance(meta, dict):
                    for c in scan(meta, f"{prefix}{name}.").get("model", []):
                        if (path := _usable(role, c.path, c.value, False)) is not None:
                            return path
    return None


def _usable(role: str, path: str, value: Any, parallel: bool) -> str | None:
    """The path to use for a value of a non-text role, or None when the value cannot serve."""
    if parallel and isinstance(value, list) and value and "[*]" not in path:
        firsts = [v for v in value if v is not None]
        if not firsts or _usable(role, path, firsts[0], False) == path:
            return f"{path}[*]"
        return None
    if role == "model" and isinstance(value, dict):
        for key in ("name", "id"):
            if isinstance(value.get(key), str):
                return f"{path}.{key}"
        return None
    if role in TOKEN_ROLES:
        return path if _is_count(value) else None
    if role == "prompt":
        return path if text_shape(value, role) in (TEXT, TEXTS) else None
    if role == "id":
        return path if isinstance(value, str | int) and not isinstance(value, bool) else None
    return path if isinstance(value, str) else None


def _is_count(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 0
    return isinstance(value, float) and not math.isnan(value) and value.is_integer() and value >= 0


def _usage_paths(role: str, obj: JSONObject, prefix: str, parallel: bool) -> Iterator[str]:
    """Token counts in usage objects (`usage.reasoning_tokens`, `usage.completion_tokens_details.reasoning_tokens`,
    `completion_tokens_details.reasoning_tokens`); with parallel lists, lists of them (`usage[*].reasoning_tokens`,
    `completion_tokens_details[*].reasoning_tokens`)."""
    for name in _usage_holders(obj):
        value = obj[name]
        if isinstance(value, dict):
            for inner, path in _with_details(value, f"{prefix}{name}."):
                yield from _counts_in(role, inner, path)
        elif parallel and isinstance(value, list):
            first = next((v for v in value if v is not None), None)
            if isinstance(first, dict):
                for inner, path in _with_details(first, f"{prefix}{name}[*]."):
                    yield from _counts_in(role, inner, path)


def _usage_holders(obj: JSONObject) -> list[str]:
    return [k for k in synonyms().usage if k in obj] + [
        k for k in obj if isinstance(k, str) and k.endswith("_details")
    ]


def _with_details(usage: JSONObject, prefix: str) -> Iterator[tuple[JSONObject, str]]:
    """A usage object and the `*_details` objects in it, each with its path prefix."""
    yield usage, prefix
    for key, inner in usage.items():
        if isinstance(key, str) and key.endswith("_details") and isinstance(inner, dict):
            yield inner, f"{prefix}{key}."


def _counts_in(role: str, obj: JSONObject, prefix: str) -> Iterator[str]:
    return (f"{prefix}{name}" for name in _counts_in_names(role, obj))


def record_model(obj: JSONObject) -> str | None:
    """The model a flat record names by the model synonyms (an object gives its `name` or `id`; also
    `metadata.model`, ...); for the specific flat shapes, which read their texts themselves."""
    path = _other("model", [("", obj, scan(obj))], False)
    value = None if path is None else resolve(obj, _steps(path))
    return value if isinstance(value, str) else None


def reported_tokens(obj: JSONObject) -> tuple[int | None, int | None]:
    """The reported reasoning and output token counts of a flat record, found by the token synonyms (top level,
    usage objects); for the specific flat shapes, which read their texts themselves."""
    holders = [obj[name] for name in _usage_holders(obj) if isinstance(obj[name], dict)]
    places = [(obj, "")] + [pair for usage in holders for pair in _with_details(usage, "")]
    counts: list[int | None] = []
    for role in TOKEN_ROLES:
        value = next((inner[name] for inner, _ in places for name in _counts_in_names(role, inner)), None)
        counts.append(None if value is None else int(value))
    return counts[0], counts[1]


def _counts_in_names(role: str, obj: JSONObject) -> Iterator[str]:
    return (name for name in synonyms().roles[role] if name in obj and _is_count(obj[name]))


@lru_cache(maxsize=1024)
def _steps(path: str) -> tuple[Any, ...]:
    return parse_path(path).steps


def has_reasoning_field(obj: JSONObject) -> bool:
    """Whether a flat record names its reasoning (or a summary) at the top level, even as null (hidden): such a
    record is generic, not a bare completion string for the think-tags or harmony shapes."""
    for key, value in obj.items():
        hit = key_role(key)
        if hit is not None and hit[0] in ("reasoning", "summary") and text_shape(value, hit[0]) is not None:
            return True
    return False


# Distinct record skeletons whose plans are kept (per process).
PLANS_CACHED = 256


def skeleton(value: Any) -> Any:
    """Everything a plan depends on, and nothing more: keys in order, and for each value its type, whether a
    string has content, whether a number is a count; lists and objects recursively. Two records with the same
    skeleton get the same plan."""
    if isinstance(value, str):
        if is_setting(value):
            return "w"
        return "s" if value and not value.isspace() else "e"
    if isinstance(value, dict):
        return tuple((k, skeleton(v)) for k, v in value.items())
    if isinstance(value, list):
        return ("L", *(skeleton(v) for v in value))
    if value is None or isinstance(value, bool):
        return value
    return "c" if _is_count(value) else "x"


class Generic:
    name = "generic"
    summary = (
        "any record naming its fields with the documented synonyms (thinking, reasoning, answer, model, ...)"
    )
    # After every specific shape: never takes a record that one of them recognizes.
    priority = 900

    def __init__(self) -> None:
        self._last: tuple[Any, Plan | None] = (None, None)
        self._plans: dict[Any, Plan] = {}

    def plan(self, obj: JSONObject) -> Plan | None:
        """The record's plan, computed once for sniff and parse of the same record, and once for all records of
        the same skeleton (a file's records usually share one)."""
        if self._last[0] is not obj:
            key = skeleton(obj)
            plan = self._plans.get(key)
            if plan is None:
                plan = plan_record(obj)
                # A wrapped record's plan depends on what specific shapes see in its values: not cached.
                if plan is not None and plan.wrapped is None and len(self._plans) < PLANS_CACHED:
                    self._plans[key] = plan
            self._last = (obj, plan)
        return self._last[1]

    def sniff(self, obj: JSONObject) -> bool:
        return self.plan(obj) is not None

    def parse(self, obj: JSONObject, context: Context) -> list[Parsed]:
        plan = self.plan(obj)
        if plan is None:
            raise RecordError("no reasoning or answer field")
        if plan.error is not None:
            raise RecordError(plan.error)
        if plan.wrapped is not None:
            from cotlens.formats import get_format

            path, name = plan.wrapped
            return get_format(name).parse(resolve(obj, _steps(path)), context)
        out = _mapped(plan.paths, plan.kind).parse(obj, context)
        if out:
            out[0].warnings.extend(plan.notes)
        return out


FORMAT = Generic()
