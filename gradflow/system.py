"""The System contract: what the core (solver, Result, criteria, plot, CLI, derive) needs of a model,
and the registry that finds a system by name.

A *system* is a task, a model and its reduced flow. An instance of a :class:`System` subclass is one
configured problem (its sizes fixed); the core calls only the methods below and never imports a
system's module: :func:`get` resolves a name through :data:`REGISTRY` lazily, on first use.

How to add a system
-------------------
1. Make a folder ``gradflow/systems/<name>/``. Its ``__init__.py`` defines a subclass of
   :class:`System`; everything else the system needs (task, full-weight reference, derivation,
   kernels, reduction, check) lives in that folder.
2. Declare the class attributes: ``name``; ``names``, the parameter names in the order of θ;
   ``head``, the parameters whose emergence order is reported; ``sizes_spec``, one
   :class:`Size` per size argument (name, default, smallest value, help text: the CLI's options
   and the validation come from it); ``order_level``, the threshold of ``t_p`` that orders the
   head; ``stop_key`` and ``primary_key``, the criteria that end an open-ended solve and that
   define status ``"emerged"``.
3. ``__init__(**sizes)`` validates the sizes (``ValueError`` naming the argument and its range)
   and sets ``self.task``, the system's own description of the problem; ``sizes()`` returns the
   dict that ``from_sizes(**sizes)`` turns back into an equal system (used by ``Result.save`` /
   ``load``).
4. ``loss(θ)`` and ``loss_and_grad(θ, free=None)``: the exact reduced loss and its gradient. The
   core passes a C-contiguous float64 array of length ``len(names)``; ``free`` is None or the
   sorted indices of the parameters whose gradient entries will be used (a system may then leave
   the others out of the work and at 0).
5. Optional: ``initial()`` (the default start, else 0), ``segments()`` (a staged schedule),
   ``hessian(θ, free=None)`` (the flows' analytic Jacobian for implicit methods, where
   ``jacobian_pays()``; ``free`` as
   for the gradient: only those rows and columns are used; without it the solver lets SciPy
   difference the right-hand side), ``metric()`` (the Gram matrix G of the
   parameters in the full weights; without it only ``flow="theta"`` exists), ``check(**kw)``
   (a report with ``summary()`` and ``passed``: the solved flow against the full-weight
   reference), ``train(eta, steps, every)`` (GD on the reference, for the CLI) and
   ``elementwise()`` (the layout that lets Adam and sign descent reduce exactly).
   Quantities that can vanish: a parameter whose gradient vanishes with it
   (∂𝓛/∂θ_i = θ_i r_i(θ), e.g. a coefficient that enters only through its square) never
   changes sign and can fall far below any ``atol``. Name it in ``log_params`` and implement
   ``loss_and_rates(θ, free=None)``: as ``loss_and_grad``, but the entries of ``log_params``
   hold r_i = (∂𝓛/∂θ_i)/θ_i, computed without dividing (so it is right where θ_i underflows).
   The θ-flow then integrates ln|θ_i| (:mod:`gradflow.flows`), keeping its relative error
   controlled at any size.
6. ``criteria()``: the default emergence criteria (:mod:`gradflow.criteria`), including the ones
   named by ``stop_key`` and ``primary_key``; ``check_size_limits(params=None)`` refuses sizes the machine
   cannot hold, with the estimated memory and time, before any long work.
7. Add ``"<name>": "gradflow.systems.<name>:<Class>"`` to :data:`REGISTRY`, and give the system
   its own ``tests/<name>/``, ``derivations/<name>/``, ``benchmarks/<name>/`` and
   ``benchmarks/results/<name>/``. If it has generated code, its ``derive`` module exposes
   ``generate() -> {path: text}`` and is listed in ``derivation``; ``python -m gradflow.derive``
   then writes and checks it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np

from ._validate import check_choice, check_int, check_positive

#: Built-in systems: name -> "module:Class", imported only when first asked for.
REGISTRY = {"tokens": "gradflow.systems.tokens:TokensSystem",
            "paper": "gradflow.systems.paper:PaperSystem",
            "markov": "gradflow.systems.markov:MarkovSystem"}
#: The system ``solve`` and the CLI use when none is named: the seed paper's own setting.
DEFAULT_SYSTEM = "paper"

_resolved: dict[str, type] = {}


@dataclass(frozen=True)
class Size:
    """One size argument of a system: ``default`` may be None (then the system derives it);
    ``low`` is the smallest allowed integer, or, for an option that takes a word, ``choices``
    lists the allowed words (``low`` is then ignored); ``kind="float"`` takes a finite number
    > 0 (``low`` ignored)."""
    name: str
    default: int | float | str | None
    low: int
    help: str
    choices: tuple = ()
    kind: str = "int"


class System:
    """Base class of a system (see the module docstring for how to add one)."""

    name: str = ""
    names: tuple = ()
    head: tuple = ()
    sizes_spec: tuple = ()
    order_level: float = 0.1
    stop_key: str = ""
    primary_key: str = ""
    #: module with ``generate()`` for ``python -m gradflow.derive`` ("" when nothing is generated)
    derivation: str = ""
    #: extra CLI commands: {name: "module:function"}; ``function(argv) -> exit status``
    commands: dict = {}
    #: what the parameters are called in messages ("pseudo-parameter", "weight", ...)
    param_word: str = "parameter"
    #: the law a sweep plot draws as its reference: (slope of ln T against ln N, what says so), or None
    expected_slope: tuple | None = None
    #: size arguments renamed: {old name: new name}; the old name is refused with a message that
    #: names the new one, and files saved with it still load
    renamed: dict = {}
    task = None

    # -- sizes -------------------------------------------------------------------------
    def sizes(self) -> dict:
        """The size arguments of this instance (JSON-ready)."""
        raise NotImplementedError

    @classmethod
    def from_sizes(cls, **sizes) -> "System":
        """The system with these sizes (inverse of :meth:`sizes`; sizes saved under a name since
        renamed are read under the new one)."""
        return cls(**{cls.renamed.get(k, k): v for k, v in sizes.items()})

    @classmethod
    def validate_sizes(cls, sizes: dict) -> dict:
        """Check the integer size arguments named in ``sizes_spec`` (None keeps the default)."""
        known = {s.name: s for s in cls.sizes_spec}
        old = sorted(set(sizes) & set(cls.renamed))
        if old:
            raise ValueError(f"system {cls.name!r} calls {old[0]!r} {cls.renamed[old[0]]!r} now (so that no size means "
                             f"two things across systems); use {cls.renamed[old[0]]}=")
        unknown = set(sizes) - set(known)
        if unknown:
            raise ValueError(f"unknown size argument(s) {', '.join(sorted(unknown))} for system "
                             f"{cls.name!r}; allowed: {', '.join(known)}")
        out = {}
        for k, s in known.items():
            value = sizes.get(k, s.default)
            if value is None:
                out[k] = None
            elif s.choices:
                out[k] = check_choice(k, value, s.choices)
            elif s.kind == "float":
                out[k] = check_positive(k, value)
            else:
                out[k] = check_int(k, value, s.low)
        return out

    def check_size_limits(self, params=None) -> None:
        """Raise ``ValueError`` if the sizes are beyond what this machine can solve with the free
        parameters ``params`` (names; None: all)."""

    def cost_note(self) -> str:
        """One line that a solve with progress prints first when it will take long ("": none)."""
        return ""

    # -- the reduced loss ------------------------------------------------------------------
    def loss(self, theta: np.ndarray) -> float:
        raise NotImplementedError

    def loss_and_grad(self, theta: np.ndarray, free=None):
        raise NotImplementedError

    hessian = None
    metric = None

    def jacobian_pays(self) -> bool:
        """Whether implicit methods should use :meth:`hessian` as the flow's Jacobian (True by
        default when there is one). A system whose Hessian kernel costs more to compile than
        the difference quotients it replaces cost to evaluate at its size returns False there:
        the integrator then differences the right-hand side itself."""
        return self.hessian is not None
    def elementwise(self):
        """How an elementwise optimizer (Adam, sign descent: :mod:`gradflow.optimizers`) on the
        full weights reduces to the parameters: ``(count, scale)``, arrays over ``names``, when
        parameter k moves its own ``count[k]`` weight entries, each by ±``scale[k]`` per unit of
        θ_k, the supports of different parameters disjoint (then the weights' update gradient per
        entry is ∂𝓛/∂θ_k / (count·scale) and the rule acts on it exactly as on one weight:
        derivations/optimizers.md); or a string saying why it does not reduce (the optimizer is
        then refused). Default: a system without a metric has the model's own weights as its
        parameters, (1, 1); one with a metric must declare its layout."""
        if self.metric is None:
            n = len(self.names)
            return np.ones(n), np.ones(n)
        return (f"system {self.name!r} declares no elementwise layout of its parameters in the weights, so an "
                "elementwise optimizer on the full weights is not known to stay in its span")

    #: parameters integrated as ln|θ_i| on the θ-flow (see the module docstring, item 5)
    log_params: tuple = ()
    loss_and_rates = None

    def initial(self) -> np.ndarray:
        """θ at which a solve starts when no ``theta0`` is given (default 0)."""
        return np.zeros(len(self.names))

    def final_report(self, theta: np.ndarray) -> str:
        """One line about the end point θ for :meth:`Result.summary` ("" for none)."""
        return ""

    def plot_series(self, theta: np.ndarray) -> list:
        """What the plot's top panel draws for θ rows ``theta``: one (label, values) per entry of
        ``head``, in order (default: the head's parameters)."""
        from .plot import pretty
        return [(pretty(n), theta[:, self.names.index(n)]) for n in self.head]

    def segments(self) -> tuple:
        """A schedule: ``((params, duration), ...)`` solved one after the other, each segment's
        free parameters for its flow time, from where the last one ended (e.g. a staged training
        schedule). Empty (the default): one flow of all parameters."""
        return ()

    # -- emergence ---------------------------------------------------------------------
    def criteria(self) -> tuple:
        """Default emergence criteria of this system."""
        raise NotImplementedError

    def describe(self) -> str:
        """One line naming the system and its sizes (summaries and plot titles)."""
        return f"{self.name} {self.sizes()}"

    def __eq__(self, other):
        return type(self) is type(other) and self.sizes() == other.sizes()

    def __hash__(self):
        return hash((self.name, tuple(sorted(self.sizes().items()))))

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self.sizes().items())
        return f"{type(self).__name__}({args})"


def available() -> tuple:
    """Names of the registered systems."""
    return tuple(REGISTRY)


def register(name: str, target) -> None:
    """Register a system class (or a ``"module:Class"`` string) under ``name``."""
    if not isinstance(name, str) or not name:
        raise ValueError("name must be a non-empty string")
    REGISTRY[name] = target if isinstance(target, str) else f"{target.__module__}:{target.__qualname__}"
    _resolved.pop(name, None)
    if not isinstance(target, str):
        _resolved[name] = target


def get(name: str) -> type:
    """The system class registered as ``name`` (imported on first use)."""
    if name in _resolved:
        return _resolved[name]
    if name not in REGISTRY:
        raise ValueError(f"system must be one of {', '.join(REGISTRY)}; got {name!r}")
    module, _, cls = REGISTRY[name].partition(":")
    _resolved[name] = getattr(importlib.import_module(module), cls)
    return _resolved[name]


def make(system, sizes: dict) -> System:
    """A configured system from a name (with ``sizes``) or an instance (then ``sizes`` must be
    empty)."""
    if isinstance(system, System):
        if sizes:
            raise ValueError(f"size arguments {', '.join(sizes)} given with a configured system instance")
        return system
    cls = get(system)
    cls.validate_sizes(sizes)
    return cls(**sizes)
