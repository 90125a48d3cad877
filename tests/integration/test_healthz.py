"""/healthz: 200 when the database and the broker answer, 503 (naming which) when one does not."""

import pytest

from tests.conftest import free_port


def test_it_answers_200_when_database_and_broker_answer(client, db, use_broker):
    from django.conf import settings

    use_broker(settings.CELERY_BROKER_URL)  # the configured broker: Redis in CI, SQLite embedded
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok", "cache": "ok"}


def test_it_answers_503_naming_the_broker_when_the_broker_is_down(client, db, use_broker):
    use_broker(f"redis://127.0.0.1:{free_port()}/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "broker": "unavailable", "cache": "ok"}


def test_it_answers_503_naming_the_database_when_the_database_is_down(client, db, monkeypatch):
    class Unreachable:
        def cursor(self):
            raise OSError("connection refused")

    monkeypatch.setattr("portal.views.connection", Unreachable())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_it_only_answers_get(client, db, method):
    assert getattr(client, method)("/healthz").status_code == 405
