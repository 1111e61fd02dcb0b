"""The configs and sweeps shipped inside the package (``nnlab/configs/``), found by name from any folder.

A run config's name is its path under ``nnlab/configs/`` without ``.yaml``
(``quickstart``, ``nielsen/r1``, ``examples/optimizer-adam``); a sweep's name
is its file name in ``nnlab/configs/sweeps/`` (``depth``, ``r2``; also
``sweeps/depth``). A path to an existing file always wins over a name, and an
argument ending in ``.yaml``/``.yml`` is always a path.

A shipped file is labelled ``nnlab/configs/<path>`` in messages and in a run's
``meta.json`` (its place in the package and in the repository), not with the
folder it happens to be installed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nnlab.config.values import closest
from nnlab.errors import UserError

ROOT = Path(__file__).resolve().with_name("configs")
LABEL_ROOT = "nnlab/configs"
SWEEPS = "sweeps"
SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Shipped:
    name: str  # what `nnlab train NAME` / `nnlab sweep NAME` takes
    kind: str  # "config" or "sweep"
    path: Path  # the file in the installed package

    @property
    def label(self) -> str:
        return label(self.path)

    def description(self) -> str:
        """The sweep's ``description``, else the file's first comment line."""
        text = self.path.read_text(encoding="utf-8")
        if self.kind == "sweep":
            for line in text.splitlines():
                if line.startswith("description:"):
                    value = line.partition(":")[2].strip().strip("'\"")
                    if value:
                        return value
        for line in text.splitlines():
            if line.lstrip().startswith("#"):
                return line.lstrip().lstrip("#").strip()
        return ""


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).with_suffix("").as_posix()


def configs() -> list[Shipped]:
    """The run configs, top-level ones first, then by folder."""
    paths = [p for p in ROOT.rglob("*.yaml") if p.relative_to(ROOT).parts[0] != SWEEPS]
    found = [Shipped(_relative(p), "config", p) for p in paths]
    return sorted(found, key=lambda s: ("/" in s.name, s.name))


def sweeps() -> list[Shipped]:
    return sorted((Shipped(p.stem, "sweep", p) for p in (ROOT / SWEEPS).glob("*.yaml")), key=lambda s: s.name)


def files() -> list[Path]:
    """Every shipped YAML file (configs and sweeps)."""
    return sorted(ROOT.rglob("*.yaml"))


def label(path: Path) -> str:
    """``nnlab/configs/<path>`` for a file of the installed package (absolute path), else the path as given."""
    if path.is_absolute():
        try:
            return f"{LABEL_ROOT}/{path.resolve().relative_to(ROOT).as_posix()}"
        except ValueError:
            pass
    return str(path)


def find(name: str, kind: str) -> Shipped | None:
    """The shipped file ``name`` names: ``kind`` "config", "sweep" or "any" (a config first, then a sweep)."""
    if kind in ("config", "any"):
        for s in configs():
            if s.name == name:
                return s
    if kind in ("sweep", "any"):
        short = name[len(SWEEPS) + 1 :] if name.startswith(f"{SWEEPS}/") else name
        for s in sweeps():
            if s.name == short:
                return s
    return None


def resolve(arg: str, kind: str) -> tuple[Path, str]:
    """The file ``arg`` means, with its label for messages: an existing path, else a shipped name.

    ``kind``: "config" (``nnlab train``), "sweep" (``nnlab sweep``) or "any"
    (``nnlab validate``). An unknown name is a ``UserError`` of one line, with
    the nearest shipped name.
    """
    p = Path(arg)
    if p.exists():
        return p, arg
    if p.suffix.lower() not in SUFFIXES:
        found = find(arg, kind)
        if found is not None:
            return found.path, found.label
    raise UserError(_unknown(arg, kind))


def _unknown(arg: str, kind: str) -> str:
    # a checkout path typed elsewhere (configs/nielsen/r1.yaml) is compared as the name it holds
    key = arg
    for prefix in (f"{LABEL_ROOT}/", "configs/"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    for suffix in SUFFIXES:
        if key.lower().endswith(suffix):
            key = key[: -len(suffix)]
    config_names = [s.name for s in configs()]
    sweep_names = [s.name for s in sweeps()]
    if kind == "sweep":
        names = sweep_names
        if key.startswith(f"{SWEEPS}/"):
            key = key[len(SWEEPS) + 1 :]
    elif kind == "config":
        names = config_names
    else:
        names = config_names + sweep_names
    if kind == "config" and key in sweep_names:
        return f"{arg}: is a shipped sweep, not a run config; run it with nnlab sweep {key}"
    if kind == "sweep" and key in config_names:
        return f"{arg}: is a shipped run config, not a sweep; train it with nnlab train {key}"
    near = closest(key, names)
    if Path(arg).suffix.lower() in SUFFIXES:
        what = f"no such {'sweep' if kind == 'sweep' else 'config'} file"
    elif kind == "sweep":
        what = f"no such sweep file or sweep name; shipped sweeps: {', '.join(names)}"
    else:
        what = "no such config file or shipped config; nnlab configs lists the shipped ones"
    return f"{arg}: {what}" + (f" (did you mean '{near}'?)" if near else "")


def copy_to(dest: str | Path, *, force: bool = False) -> list[tuple[Path, str]]:
    """Copy every shipped config and sweep into ``dest``, keeping the tree (a sweep's ``base: ../nielsen/r1.yaml``
    still finds its base). Returns (file, what happened): "wrote", "overwrote" (``force``), "unchanged"
    (already the same), "kept" (exists and differs; never overwritten without ``force``).
    """
    from nnlab.io import atomic_write_bytes

    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise UserError(f"{dest}: exists and is not a folder; give a folder to copy the configs into")
    done: list[tuple[Path, str]] = []
    for src in files():
        target = dest / src.relative_to(ROOT)
        data = src.read_bytes()
        if target.is_dir():
            raise UserError(f"{target}: is a folder; cannot copy {label(src)} there")
        if target.exists():
            if target.read_bytes() == data:
                done.append((target, "unchanged"))
                continue
            if not force:
                done.append((target, "kept"))
                continue
        what = "overwrote" if target.exists() else "wrote"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, data)
        except OSError as err:
            raise UserError(f"{target}: cannot write ({err.strerror or err})") from None
        done.append((target, what))
    return done
