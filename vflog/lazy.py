"""Start-up helpers: names of a package that load on first use (PEP 562 module ``__getattr__`` and ``__dir__``),
and a pause of the cyclic garbage collector while long-lived values are built."""

from __future__ import annotations

import contextlib
import gc
import importlib
from typing import Any, Callable, Iterator, Mapping, MutableMapping


def lazy_names(package: str, names: Mapping[str, str], namespace: MutableMapping[str, Any],
               public: list[str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return a module ``__getattr__`` that loads each of *names* (name -> module) into *namespace* on first
    use, and a ``__dir__`` that lists them with the *public* names, so ``help()`` shows them too."""

    def __getattr__(name: str) -> Any:
        if name in names:
            value = getattr(importlib.import_module(names[name]), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(public))

    return __getattr__, __dir__


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Within the block the cyclic garbage collector does not run; after it, it runs again if it ran before.

    Loading vflog builds long-lived values (classes, compiled expressions, the parser's tables) whose many
    allocations would otherwise start collections that free nothing; reference counting still frees the rest.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if not gc.get_freeze_count():  # (a caller's frozen objects stay frozen)
                gc.freeze()  # the values built in the block join the oldest generation without being traversed
                gc.unfreeze()
            gc.enable()
