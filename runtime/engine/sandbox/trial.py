"""The values a template is tried with while validating: every variable stands for "anything",
so a limit the try meets is met by the template itself, whatever a run's values are."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from jinja2.runtime import Undefined


class _Anything(Undefined):
    """Every variable while a template is tried at validation: absorbs any operation, iterates
    as nothing, prints as nothing. A limit met anyway is met by the template itself."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__":
            raise AttributeError(name)
        return self

    def _same(self, *args: Any, **kwargs: Any) -> _Anything:
        return self

    # Undefined's operators raise; these absorb instead, one method for all (mypy wants each
    # to keep the signature it has in Undefined: hence the ignores)
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _same  # type: ignore[assignment]  # absorbs
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = _same  # type: ignore[assignment]  # absorbs
    __mod__ = __rmod__ = __pow__ = __rpow__ = __pos__ = __neg__ = _same  # type: ignore[assignment]  # absorbs
    __call__ = __getitem__ = _same  # type: ignore[assignment]  # absorbs

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __str__(self) -> str:
        return ""

    def __len__(self) -> int:
        return 0

    def __bool__(self) -> bool:
        return False

    def __eq__(self, other: Any) -> bool:
        return other is self

    def __ne__(self, other: Any) -> bool:
        return other is not self

    def __lt__(self, other: Any) -> bool:  # type: ignore[override]  # every comparison is False
        return False

    __le__ = __gt__ = __ge__ = __lt__  # type: ignore[assignment]  # as __lt__
    __hash__ = Undefined.__hash__


ANYTHING = _Anything(name="a value")


class TrialVars(dict[str, Any]):
    """A context in which every name is defined: the environment's globals as themselves,
    every other name as :data:`ANYTHING`."""

    def __init__(self, globals_: Mapping[str, Any]) -> None:
        super().__init__()
        self._globals = globals_

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> Any:
        return self._globals.get(key, ANYTHING)

    def get(self, key: str, default: Any = None) -> Any:
        return self[key]
