"""Settings come from the environment, and a bad value stops the portal with its name in the message."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from portal.env import EnvError, env_bool, env_int, env_list, env_secret

ROOT = Path(__file__).resolve().parents[2]


def test_it_reads_yes_and_no_in_the_usual_spellings(monkeypatch):
    for value, expected in [("true", True), ("YES", True), ("1", True), ("off", False), ("0", False)]:
        monkeypatch.setenv("PORTAL_FLAG", value)
        assert env_bool("PORTAL_FLAG") is expected


def test_it_names_the_variable_when_a_flag_is_not_yes_or_no(monkeypatch):
    monkeypatch.setenv("PORTAL_FLAG", "maybe")
    with pytest.raises(EnvError, match="PORTAL_FLAG='maybe' is not a yes/no value"):
        env_bool("PORTAL_FLAG")


def test_it_names_the_variable_when_a_number_is_not_a_number(monkeypatch):
    monkeypatch.setenv("PORTAL_LIMIT", "ten")
    with pytest.raises(EnvError, match="PORTAL_LIMIT='ten' is not a whole number"):
        env_int("PORTAL_LIMIT", 5)


def test_it_refuses_a_number_below_the_minimum(monkeypatch):
    monkeypatch.setenv("PORTAL_LIMIT", "2")
    with pytest.raises(EnvError, match="PORTAL_LIMIT=2 is too small: it must be at least 10"):
        env_int("PORTAL_LIMIT", 50, minimum=10)


def test_it_uses_the_default_when_unset(monkeypatch):
    monkeypatch.delenv("PORTAL_LIMIT", raising=False)
    assert env_int("PORTAL_LIMIT", 7) == 7
    assert env_list("PORTAL_HOSTS", ["a"]) == ["a"]


def test_it_splits_lists_on_commas(monkeypatch):
    monkeypatch.setenv("PORTAL_HOSTS", " a.example , b.example,")
    assert env_list("PORTAL_HOSTS") == ["a.example", "b.example"]


def test_it_reads_a_secret_from_the_file_named_by_NAME_FILE(monkeypatch, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("s3cret-value\n")
    monkeypatch.delenv("PORTAL_SECRET", raising=False)
    monkeypatch.setenv("PORTAL_SECRET_FILE", str(secret_file))
    assert env_secret("PORTAL_SECRET") == "s3cret-value"


def test_it_refuses_a_secret_given_twice(monkeypatch, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("x")
    monkeypatch.setenv("PORTAL_SECRET", "y")
    monkeypatch.setenv("PORTAL_SECRET_FILE", str(secret_file))
    with pytest.raises(EnvError, match="Both PORTAL_SECRET and PORTAL_SECRET_FILE are set"):
        env_secret("PORTAL_SECRET")


def test_it_names_a_secret_file_it_cannot_read(monkeypatch, tmp_path):
    monkeypatch.delenv("PORTAL_SECRET", raising=False)
    monkeypatch.setenv("PORTAL_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(EnvError, match=r"PORTAL_SECRET_FILE=.*cannot be read"):
        env_secret("PORTAL_SECRET")


def _start_portal(**env: str) -> subprocess.CompletedProcess:
    """Start Django the way manage.py does, with only these variables set."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "CACHE_", "PORTAL_S3_"))
    }
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


FERNET_KEY = "kZ8ZsZ1m0dJ5p2yq3Vq8m3mJxYJ6n2m0aQb3zv1xkqY="


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DATABASE_URL": "mysql://root@localhost/portal"}, "DATABASE_URL has scheme 'mysql'"),
        ({"CELERY_BROKER_URL": "filesystem://"}, "CELERY_BROKER_URL has scheme 'filesystem'"),
        ({"DJANGO_DEBUG": "false"}, "DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) must be set"),
        (
            {
                "DJANGO_DEBUG": "false",
                "DJANGO_SECRET_KEY": "s" * 64,
                "DJANGO_ALLOWED_HOSTS": "portal.example.police.uk",
                "PORTAL_FIELD_KEYS": FERNET_KEY,
            },
            "PORTAL_FILE_KEYS (or PORTAL_FILE_KEYS_FILE) must be set",
        ),
        (
            {
                "DJANGO_DEBUG": "false",
                "DJANGO_SECRET_KEY": "s" * 64,
                "DJANGO_ALLOWED_HOSTS": "portal.example.police.uk",
                "PORTAL_FIELD_KEYS": FERNET_KEY,
                "PORTAL_FILE_KEYS": FERNET_KEY,
            },
            "PORTAL_DECONFLICTION_KEYS (or PORTAL_DECONFLICTION_KEYS_FILE) must be set",
        ),
        (
            {"PORTAL_FILE_KEYS": "not-a-key"},
            "PORTAL_FILE_KEYS holds a value that is not a 32-byte key in URL-safe base64: generate one",
        ),
        ({"DJANGO_DEBUG": "nope"}, "DJANGO_DEBUG='nope' is not a yes/no value"),
        ({"CACHE_URL": "memcached://x"}, "CACHE_URL='memcached://x' is not supported"),
        (
            {"PORTAL_S3_BUCKET": "evidence", "PORTAL_S3_ACCESS_KEY_ID": "AKIA0000"},
            "Set both PORTAL_S3_ACCESS_KEY_ID and PORTAL_S3_SECRET_ACCESS_KEY",
        ),
    ],
)
def test_a_misconfigured_portal_fails_at_start_naming_the_variable(env, named):
    result = _start_portal(**env)
    assert result.returncode != 0
    assert named in result.stderr


def test_with_no_configuration_it_starts_on_the_embedded_default():
    result = _start_portal()
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
