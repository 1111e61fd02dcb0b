"""Reading, validating and writing configs.

YAML is read with a ``yaml.SafeLoader`` subclass: safe_load's constructors
only (a ``!!python/...`` tag is refused, never executed), plus a refusal of
duplicate keys, which safe_load would silently resolve to the last one.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from nnlab.config.messages import error_lines
from nnlab.config.overrides import apply_with_sources
from nnlab.config.schema import Config, safe_run_name
from nnlab.config.values import Loc, show
from nnlab.errors import UserError

DICT_LABEL = "<dict>"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class RefusedTag(yaml.MarkedYAMLError):
    """A tag outside plain YAML (``!!python/object/apply:os.system``)."""


class DuplicateKey(yaml.MarkedYAMLError):
    pass


class RecursiveAlias(yaml.MarkedYAMLError):
    """``&a [1, *a]``: a list or mapping that contains itself (no config is infinite)."""


class AliasBomb(yaml.MarkedYAMLError):
    """Aliases that would expand the document past ``MAX_NODES`` values ("billion laughs")."""


#: values (scalars, lists, mappings) a document may hold once its aliases are expanded
MAX_NODES = 100_000


class _Loader(yaml.SafeLoader):
    """``yaml.safe_load``'s loader, also refusing duplicate keys with their line,
    aliases to a list or mapping from inside it (a recursive value), and aliases
    that would expand the document past ``MAX_NODES`` values.

    Each composed node's expanded size (itself plus its children's, an alias
    counting the whole value it names) is kept, so the expansion is counted as the
    document is read, before anything is built from it: nine nested aliases of
    nine items each (387 million values) are refused in milliseconds.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._open_anchors: set[str] = set()
        self._sizes: dict[int, int] = {}  # id(node) -> values it stands for, expanded
        self._expanded = 0  # values of the document so far, aliases expanded

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._open_anchors:
                message = f"alias '*{event.anchor}' is inside the value it names; configs cannot contain themselves"
                raise RecursiveAlias(problem=message, problem_mark=event.start_mark)
            node = super().compose_node(parent, index)
            self._count(self._sizes.get(id(node), 1), event)  # the whole value it names, again
            return node
        anchor = event.anchor
        if anchor is None or anchor in self._open_anchors:
            node = super().compose_node(parent, index)
        else:
            self._open_anchors.add(anchor)
            try:
                node = super().compose_node(parent, index)
            finally:
                self._open_anchors.discard(anchor)
        self._count(1, event)  # its children were counted as they were composed
        if isinstance(node, yaml.SequenceNode):
            self._sizes[id(node)] = 1 + sum(self._sizes.get(id(c), 1) for c in node.value)
        elif isinstance(node, yaml.MappingNode):
            self._sizes[id(node)] = 1 + sum(
                self._sizes.get(id(k), 1) + self._sizes.get(id(v), 1) for k, v in node.value
            )
        return node

    def _count(self, n: int, event: yaml.Event) -> None:
        self._expanded += n
        if self._expanded > MAX_NODES:
            alias = f"alias '*{event.anchor}'" if isinstance(event, yaml.AliasEvent) else "this value"
            message = (
                f"{alias} expands the document past {MAX_NODES:,} values (aliases nested in aliases);"
                " configs are far smaller"
            )
            raise AliasBomb(problem=message, problem_mark=event.start_mark)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value if isinstance(node, yaml.MappingNode) else ():
            if key_node.tag == _MERGE_TAG:
                continue  # keys merged from an anchor may be overridden
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # unhashable: SafeLoader reports it
                continue
            if duplicate:
                message = f"duplicate key {show(key)}; each key may appear once"
                raise DuplicateKey(problem=message, problem_mark=key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _refuse(loader: _Loader, node: yaml.Node) -> Any:
    tag = node.tag.replace("tag:yaml.org,2002:", "!!")
    message = f"tag '{tag}' is not allowed; configs hold plain values only"
    raise RefusedTag(problem=message, problem_mark=node.start_mark)


_Loader.add_constructor(None, _refuse)  # every tag SafeLoader does not know


def _parse_yaml(text: str) -> Any:
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def parse_yaml_value(text: str) -> Any:
    """An override's value: YAML scalar, list or mapping (the empty string is null)."""
    from nnlab.config.overrides import BadOverride

    try:
        return _parse_yaml(text)
    except (RefusedTag, DuplicateKey, RecursiveAlias, AliasBomb) as err:
        raise BadOverride(err.problem) from None
    except yaml.YAMLError as err:
        raise BadOverride(f"malformed value: {getattr(err, 'problem', None) or err}") from None


def read_config_file(path: str | Path, label: str | None = None) -> Any:
    """The YAML document in ``path`` (an empty file is ``{}``); UserError with line/column otherwise."""
    label = str(path) if label is None else label
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{label}: is a directory; expected a YAML config file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{label}: no such config file") from None
    except UnicodeDecodeError:
        raise UserError(f"{label}: cannot read: not UTF-8 text") from None
    except OSError as err:
        raise UserError(f"{label}: cannot read: {err.strerror or err}") from None
    try:
        data = _parse_yaml(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = (
            err.problem
            if isinstance(err, (RefusedTag, DuplicateKey, RecursiveAlias, AliasBomb))
            else f"malformed YAML: {err.problem}"
        )
        raise UserError(f"{label}: {where}{what}") from None
    except yaml.YAMLError as err:
        raise UserError(f"{label}: malformed YAML: {err}") from None
    return {} if data is None else data


def load_config(
    source: str | Path | dict,
    overrides: Sequence[str] = (),
    *,
    base_name: str | None = None,
    label: str | None = None,
) -> Config:
    """Read ``source`` (a YAML path or a parsed dict), apply ``overrides``, validate.

    The run ``name`` defaults to ``base_name``, else the file's stem, else
    ``run``. Every problem found becomes one line of the ``UserError``, naming
    ``label`` (default: the path as given).
    """
    if isinstance(source, dict):
        label, data = label or DICT_LABEL, copy.deepcopy(source)
        default_name = base_name or "run"
    else:
        label = str(source) if label is None else label
        data = read_config_file(source, label)
        default_name = base_name or safe_run_name(Path(source).stem)
    sources: list[tuple[Loc, str]] = []
    if isinstance(data, dict):
        data, sources = apply_with_sources(data, overrides)
        if data.get("name") is None:
            data["name"] = default_name
    return validate(data, label, sources)


def validate(data: Any, label: str = DICT_LABEL, sources: Sequence[tuple[Loc, str]] = ()) -> Config:
    """``Config`` from a plain dict; errors at a key set by an override carry ``--set <override>``."""

    def label_for(loc: Loc) -> str:
        for at, text in reversed(sources):
            if loc and (loc[: len(at)] == at or at[: len(loc)] == loc):
                return f"--set {text}"
        return label

    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise UserError(*error_lines(exc, Config, data, label_for)) from None


def config_to_dict(cfg: Config) -> dict:
    """The resolved config as plain data (every default filled in); ``load_config`` of it gives ``cfg``."""
    return cfg.model_dump()


class _FlowDict(dict):
    pass


class _Dumper(yaml.SafeDumper):
    pass


# lists on one line ([784, 30, 10]); sections stay in block style
_Dumper.add_representer(list, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))
_Dumper.add_representer(_FlowDict, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True))

# parts written {name: ..., param: ...} stay on one line
_SPEC_PATHS = [
    ("model", "activation"),
    ("model", "output"),
    ("model", "init", "weights"),
    ("model", "init", "biases"),
]


class _BlockList(list):
    pass


_Dumper.add_representer(_BlockList, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=False))


def dump_config(cfg: Config) -> str:
    """YAML text of the resolved config, sections and keys in the schema's order."""
    data = config_to_dict(cfg)
    if data["model"].get("layers"):  # one layer a line
        data["model"]["layers"] = _BlockList(_FlowDict(x) for x in data["model"]["layers"])
    for *parents, key in _SPEC_PATHS:
        section = data
        for p in parents:
            section = section[p]
        if isinstance(section[key], dict):
            section[key] = _FlowDict(section[key])
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
