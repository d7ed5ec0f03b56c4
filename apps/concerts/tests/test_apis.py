import pytest

from apps.concerts.tests.factories import ConcertFactory

pytestmark = pytest.mark.django_db


def test_concerts_are_listed_without_credentials_and_paginated(api_client):
    concerts = [ConcertFactory() for _ in range(25)]

    first = api_client.get("/api/v1/concerts")
    second = api_client.get(first.json()["next"])

    assert first.status_code == 200
    body = first.json()
    assert body["count"] == 25
    assert body["results"][0] == {"id": concerts[0].pk, "title": concerts[0].title, "venue": concerts[0].venue}
    assert len(body["results"]) + len(second.json()["results"]) == 25
    assert second.json()["next"] is None


def test_a_page_past_the_end_is_a_404_problem(api_client):
    response = api_client.get("/api/v1/concerts?page=9")

    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
