"""Value checks that speak the config's language: ``got X; must be Y``.

Every check is a plain function ``value -> normalised value`` that raises a
``problem`` (a pydantic custom error) when the value is wrong. A problem
carries one or more ``(sub-location, message)`` pairs, so one validator can
report several mistakes at once and point below its own field
(``model.activation.slope``); ``nnlab.config.messages`` turns them into the
user's one-line errors.

Strings are coerced where YAML leaves them as strings: PyYAML reads ``1e-3``
(no dot) as the string ``'1e-3'``, and ``--set`` values may be quoted.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable
from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from nnlab.hyper import Hyper

Loc = tuple["str | int", ...]

#: pydantic error type of every problem raised here
PROBLEM = "nnlab_config"

#: words people type for our names (Nielsen's ``eta``/``lmbda``, other libraries' terms)
ALIASES = {
    "lr": "learning_rate",
    "eta": "learning_rate",
    "lmbda": "l2",
    "lambda": "l2",
    "weight_decay": "l2",
    "mini_batch_size": "batch_size",
    "batch": "batch_size",
    "beta1": "rho1",
    "beta2": "rho2",
    "eps": "delta",
    "epsilon": "delta",
    "patience": "early_stopping",
    "layers": "sizes",
    "activations": "activation",
    "loss": "cost",
    "optimiser": "optimizer",
    "logistic": "sigmoid",
    "silu": "swish",
    "lrelu": "leaky_relu",
    "xavier": "glorot_normal",
    "glorot": "glorot_normal",
    "kaiming": "he",
    "nll": "log_likelihood",
    "mse": "quadratic",
    "bce": "cross_entropy",
}


def problems(*items: tuple[Loc, str]) -> PydanticCustomError:
    """One pydantic error carrying several ``(sub-location, message)`` problems."""
    return PydanticCustomError(
        PROBLEM, "{summary}", {"summary": "; ".join(m for _, m in items), "problems": list(items)}
    )


def problem(message: str, sub: Loc = ()) -> PydanticCustomError:
    return problems((sub, message))


def problems_of(err: PydanticCustomError) -> list[tuple[Loc, str]]:
    """The ``(sub-location, message)`` pairs of a problem (to nest it one level down)."""
    return list((err.context or {}).get("problems", [((), err.message())]))


def message_of(err: PydanticCustomError) -> str:
    """The text of a problem raised by one of the checks here."""
    return (err.context or {}).get("summary", err.message())


def show(value: Any, limit: int = 60) -> str:
    """A value as the user would write it in YAML: null, true, 'text', [1, 2]."""
    text = _show(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _show(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_show(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_show_key(k)}: {_show(x)}" for k, x in v.items()) + "}"
    return str(v)


def _show_key(k: Any) -> str:
    """A mapping key bare when it reads as one (``slope``), else quoted like a value."""
    if isinstance(k, str) and k and k.isprintable() and not any(c in k for c in ":{}[],'\"#"):
        return k
    return _show(k)


def suggest(word: Any, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest option, or ``''``."""
    match = closest(word, options)
    return f" (did you mean '{match}'?)" if match else ""


def closest(word: Any, options: Iterable[str]) -> str | None:
    """The option most like ``word`` (known aliases first; ties: the earlier option)."""
    options = list(options)
    if not isinstance(word, str):
        return None
    alias = ALIASES.get(word.lower())
    if alias in options:
        return alias
    best, best_score = None, 0.6  # difflib.get_close_matches' cutoff
    for option in options:
        score = max(
            difflib.SequenceMatcher(None, word, option).ratio(),
            difflib.SequenceMatcher(None, word.lower(), option).ratio(),
        )
        if score > best_score or (score == best_score and best is None):
            best, best_score = option, score
    return best


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


# -- coercion: None where the value cannot be read as the type ------------------


def as_int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None  # YAML true is not 1
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        try:
            return int(v.strip())
        except ValueError:
            v = as_float(v)
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        return int(v)
    return None


def as_float(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return None
    return None


_TRUE = {"true", "yes", "on"}
_FALSE = {"false", "no", "off"}


def as_bool(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
        return v.strip().lower() in _TRUE
    return None


# -- checks --------------------------------------------------------------------

Check = Callable[[Any], Any]


def integer(minimum: int | None, *, optional: bool = False) -> Check:
    need = ("an integer" if minimum is None else f"an integer >= {minimum}") + (" or null" if optional else "")

    def check(v: Any) -> int | None:
        if v is None and optional:
            return None
        n = as_int(v)
        if n is None or (minimum is not None and n < minimum):
            raise problem(f"got {show(v)}; must be {need}")
        return n

    return check


def number(
    *, gt: float | None = None, ge: float | None = None, lt: float | None = None, optional: bool = False
) -> Check:
    """A finite float, optionally bounded: ``gt``/``ge`` below, ``lt`` above."""
    if ge is not None and lt is not None:
        need = f"a number in [{_num(ge)}, {_num(lt)})"
    elif gt is not None and lt is not None:
        need = f"a number in ({_num(gt)}, {_num(lt)})"
    elif gt is not None:
        need = f"a finite number > {_num(gt)}"
    elif ge is not None:
        need = f"a finite number >= {_num(ge)}"
    elif lt is not None:
        need = f"a finite number < {_num(lt)}"
    else:
        need = "a finite number"
    need += " or null" if optional else ""

    def check(v: Any) -> float | None:
        if v is None and optional:
            return None
        x = as_float(v)
        if (
            x is None
            or not math.isfinite(x)
            or (gt is not None and not x > gt)
            or (ge is not None and not x >= ge)
            or (lt is not None and not x < lt)
        ):
            raise problem(f"got {show(v)}; must be {need}")
        return x

    return check


def flag(v: Any) -> bool:
    b = as_bool(v)
    if b is None:
        raise problem(f"got {show(v)}; must be true or false")
    return b


def declared(h: Hyper) -> Check:
    """The check of a value against its declaration ``h``: its kind and bounds."""
    if h.kind is bool:
        return flag
    if h.kind is int:
        return integer(int(h.ge) if h.ge is not None else None)
    return number(ge=h.ge, gt=h.gt, lt=h.lt)


def choice(*options: str) -> Check:
    """One of a fixed set of words (not a registry: those say ``unknown <kind>``)."""
    valid = sorted(options)

    def check(v: Any) -> str:
        if isinstance(v, str) and v in options:
            return v
        raise problem(f"got {show(v)}; must be one of: {', '.join(valid)}{suggest(v, valid)}")

    return check


def unknown_name(kind: str, name: Any, valid: list[str]) -> str:
    """The message for a name missing from a registry (``valid`` is already filtered)."""
    if not isinstance(name, str):
        return f"got {show(name)}; must be one of: {', '.join(valid)}"
    return f"unknown {kind} {show(name)}; valid: {', '.join(valid)}{suggest(name, valid)}"


def registered(kind: str, names: Callable[[], list[str]]) -> Check:
    """A name from a registry; ``names`` is called lazily (the registries import NumPy)."""

    def check(v: Any) -> str:
        valid = names()
        if isinstance(v, str) and v in valid:
            return v
        raise problem(unknown_name(kind, v, valid))

    return check


def text(what: str, *, optional: bool = False) -> Check:
    need = f"{what} (text)" + (" or null" if optional else "")

    def check(v: Any) -> str | None:
        if v is None and optional:
            return None
        if not isinstance(v, str) or not v.strip():
            raise problem(f"got {show(v)}; must be {need}")
        return v

    return check


def not_a_param(key: Any, owner: str, takes: Iterable[str]) -> str:
    takes = sorted(takes)
    if not takes:
        return f"not a parameter of '{owner}'; {owner} takes no parameters"
    return f"not a parameter of '{owner}'; {owner} takes: {', '.join(takes)}{suggest(key, takes)}"


# -- field types ---------------------------------------------------------------

Int0 = Annotated[int, BeforeValidator(integer(0))]
Int1 = Annotated[int, BeforeValidator(integer(1))]
OptInt1 = Annotated[int | None, BeforeValidator(integer(1, optional=True))]
Positive = Annotated[float, BeforeValidator(number(gt=0))]
NonNegative = Annotated[float, BeforeValidator(number(ge=0))]
OptPositive = Annotated[float | None, BeforeValidator(number(gt=0, optional=True))]
Flag = Annotated[bool, BeforeValidator(flag)]
