"""`manage.py check --deploy` is clean with the production settings the README documents."""

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

PRODUCTION_ENV = {
    "SECRET_KEY": "k3y-" + "x7Q" * 20,
    "DEBUG": "0",
    "ALLOWED_HOSTS": "tickets.example.com",
    "SECURE_COOKIES": "1",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "REDIS_URL": "redis://redis.internal:6379/0",  # not contacted by the checks
}


def check_deploy(extra_env: dict) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in PRODUCTION_ENV}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=Path(settings.BASE_DIR),
        env={**env, **extra_env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = check_deploy(PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr


def test_check_deploy_flags_the_demo_secret_key():
    result = check_deploy({key: value for key, value in PRODUCTION_ENV.items() if key != "SECRET_KEY"})

    assert result.returncode != 0
    assert "security.W009" in result.stderr


def test_check_deploy_is_an_error_without_the_shared_store():
    result = check_deploy({key: value for key, value in PRODUCTION_ENV.items() if key != "REDIS_URL"})

    assert result.returncode != 0
    assert "common.E001" in result.stderr
    assert "REDIS_URL" in result.stderr


def test_without_redis_the_demo_still_runs_its_ordinary_checks():
    result = check_deploy({})  # the demo's environment: no REDIS_URL, DEBUG off, demo key
    plain = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=Path(settings.BASE_DIR),
        env={key: value for key, value in os.environ.items() if key != "REDIS_URL"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert "common.E001" in result.stderr
    assert plain.returncode == 0, plain.stderr


def test_debug_is_off_unless_asked_for():
    env = {key: value for key, value in os.environ.items() if key != "DEBUG"}
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.DEBUG)"],
        cwd=Path(settings.BASE_DIR),
        env={**env, "DJANGO_SETTINGS_MODULE": "concert_booking.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.stdout.strip() == "False"
