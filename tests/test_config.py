"""``config.toml``: defaults, validation, and where the home is."""

from __future__ import annotations

from pathlib import Path

import pytest

from sleepcycle import ConfigError, InputError
from sleepcycle.config import load_config, resolve_agent, resolve_home


def test_defaults_without_a_file(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert config.recall.k == 10 and config.embedding.model == "all-MiniLM-L6-v2"


def test_values_are_read(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('user = "ana"\n[recall]\nk = 5\ntext_weight = 0.5\n')
    config = load_config(tmp_path)
    assert (config.user, config.recall.k, config.recall.text_weight) == ("ana", 5, 0.5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[recall]\nkk = 5\n", "unknown setting recall.kk"),
        ("[recall]\nk = 0\n", "recall.k: Input should be greater than or equal to 1"),
        ("[recall\nk = 5\n", "fix the TOML syntax"),
        ('[embedding]\nmodel = "bert"\n', "embedding.model"),
    ],
)
def test_bad_config_is_one_clear_line(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "config.toml").write_text(text)
    with pytest.raises(ConfigError, match=expected) as caught:
        load_config(tmp_path)
    assert "\n" not in str(caught.value)
    assert str(tmp_path / "config.toml") in str(caught.value)


def test_home_and_agent_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLEEPCYCLE_HOME", str(tmp_path / "env-home"))
    assert resolve_home(None) == tmp_path / "env-home"
    assert resolve_home(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("SLEEPCYCLE_HOME")
    assert resolve_home(None).name == "sleepcycle"
    monkeypatch.setenv("SLEEPCYCLE_AGENT", "bob")
    assert resolve_agent(None) == "bob"
    assert resolve_agent("ann") == "ann"
    with pytest.raises(InputError, match="invalid agent name"):
        resolve_agent("   ")
