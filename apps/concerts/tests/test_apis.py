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


def test_page_size_chooses_how_many_from_1_to_100(api_client):
    concerts = [ConcertFactory() for _ in range(101)]

    sizes = [len(api_client.get(f"/api/v1/concerts?page_size={size}").json()["results"]) for size in (1, 7, 100)]

    assert sizes == [1, 7, 100]
    assert len(api_client.get("/api/v1/concerts").json()["results"]) == 20
    assert api_client.get("/api/v1/concerts?page_size=7&page=15").json()["results"][0]["id"] == concerts[98].pk


@pytest.mark.parametrize("size", ["0", "101", "-1", "abc", "", "1.5", "１"])
def test_a_page_size_outside_1_to_100_is_a_validation_error(api_client, size):
    response = api_client.get(f"/api/v1/concerts?page_size={size}")

    assert response.status_code == 400
    problem = response.json()
    assert problem["code"] == "VALIDATION_ERROR"
    assert problem["errors"] == [{"field": "page_size", "message": "A whole number from 1 to 100."}]
