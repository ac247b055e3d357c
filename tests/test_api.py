"""The public API surface: a curated, sorted ``__all__`` that names what exists."""

from __future__ import annotations

import subprocess
import sys

import sleepcycle


def test_all_is_sorted_and_complete() -> None:
    assert sleepcycle.__all__ == sorted(sleepcycle.__all__)
    for name in sleepcycle.__all__:
        assert hasattr(sleepcycle, name), name
    public = {n for n in dir(sleepcycle) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(sleepcycle, n)).__name__ == "module"}
    assert public - modules == set(sleepcycle.__all__) - {"__version__"}


def test_errors_form_two_branches() -> None:
    from sleepcycle import errors

    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, sleepcycle.SleepcycleError)
        if cls not in (
            sleepcycle.SleepcycleError,
            sleepcycle.UsageError,
            sleepcycle.RuntimeFailure,
        ):
            assert issubclass(cls, sleepcycle.UsageError) != issubclass(
                cls, sleepcycle.RuntimeFailure
            )


def test_importing_loads_no_model_runtime() -> None:
    """``import sleepcycle`` stays light: onnxruntime and tokenizers load on first embed."""
    code = "import sys, sleepcycle; print(sorted({'onnxruntime', 'tokenizers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
