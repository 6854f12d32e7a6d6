"""Names of a package that load on first use (PEP 562 module ``__getattr__`` and ``__dir__``)."""

from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping, MutableMapping


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
