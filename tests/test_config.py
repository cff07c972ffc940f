"""Settings: every one has a default and help text, and the operations guide names it."""

from pathlib import Path

import pytest

from gongjian.config import Settings

OPERATIONS = Path(__file__).resolve().parent.parent / "docs" / "operations.md"


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_setting_is_documented(name: str) -> None:
    field = Settings.model_fields[name]
    assert field.description, f"setting {name} has no help text"
    assert not field.is_required(), f"setting {name} has no default"
    text = OPERATIONS.read_text(encoding="utf-8")
    assert f"`{name}`" in text
    assert f"GONGJIAN_{name.upper()}" in text


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGJIAN_AUDIT_HASH", "sm3")
    monkeypatch.setenv("GONGJIAN_DATABASE_URL", "sqlite:////tmp/elsewhere.sqlite3")
    settings = Settings()
    assert settings.audit_hash == "sm3"
    assert settings.database_url == "sqlite:////tmp/elsewhere.sqlite3"


def test_unknown_hash_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGJIAN_AUDIT_HASH", "md5")
    with pytest.raises(ValueError, match="audit_hash"):
        Settings()
