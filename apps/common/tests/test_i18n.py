"""Problem `title` and `detail` follow Accept-Language (ko or en, English by default), and
Content-Language says which; `code` and `status` never change with the language."""

import pytest
from django.utils import translation

from apps.accounts import errors as accounts_errors
from apps.common import errors as common_errors
from apps.common.exception_handler import DRF_CODES
from apps.concerts import errors as concerts_errors
from apps.queue import errors as queue_errors
from apps.reservations import errors as reservations_errors
from apps.reservations.tests.factories import ReservationFactory
from apps.reservations.tests.helpers import PRICE, assert_problem, hold_body
from apps.wallet import errors as wallet_errors
from apps.wallet.services import wallet_charge

pytestmark = pytest.mark.django_db

ERROR_MODULES = [common_errors, accounts_errors, concerts_errors, queue_errors, reservations_errors, wallet_errors]


def ask(client, method: str, path: str, language: str | None, **kwargs):
    headers = {} if language is None else {"HTTP_ACCEPT_LANGUAGE": language}
    return getattr(client, method)(path, format="json", **headers, **kwargs)


def in_both(client, method: str, path: str, status: int, code: str, **kwargs) -> tuple[dict, dict]:
    """The same request in Korean and in English: the same status and code, each in its language."""
    korean = ask(client, method, path, "ko-KR,ko;q=0.9,en;q=0.5", **kwargs)
    english = ask(client, method, path, "en-US,en;q=0.9", **kwargs)
    assert (korean["Content-Language"], english["Content-Language"]) == ("ko", "en")
    ko, en = assert_problem(korean, status, code), assert_problem(english, status, code)
    assert (ko["type"], ko["status"], ko["code"]) == (en["type"], en["status"], en["code"])
    assert ko["title"] != en["title"] and ko["detail"] != en["detail"]
    assert korean["Vary"] and "Accept-Language" in korean["Vary"]
    return ko, en


def test_a_domain_error_in_korean_and_in_english(user_client):
    ko, en = in_both(user_client, "get", "/api/v1/reservations/987654", 404, "RESERVATION_NOT_FOUND")

    assert (en["title"], en["detail"]) == ("Reservation not found", "You have no reservation with this id.")
    assert (ko["title"], ko["detail"]) == ("예약을 찾을 수 없음", "이 ID의 예약이 없습니다.")


@pytest.mark.parametrize("language", [None, "fr", "de-DE,de;q=0.9", "*"])
def test_english_is_the_default(user_client, language):
    response = ask(user_client, "get", "/api/v1/reservations/987654", language)

    assert response["Content-Language"] == "en"
    assert response.json()["title"] == "Reservation not found"


def test_drfs_own_errors_in_both_languages(api_client):
    ko, en = in_both(api_client, "get", "/api/v1/reservations", 401, "AUTHENTICATION_FAILED")

    assert (ko["title"], en["title"]) == ("인증 실패", "Authentication failed")


def test_a_validation_error_in_both_languages(booking_client, concert_date):
    body = {**hold_body(concert_date, 1), "seat_number": "one"}

    ko, en = in_both(booking_client, "post", "/api/v1/reservations", 400, "VALIDATION_ERROR", data=body)

    assert ko["title"] == "유효하지 않은 요청"
    assert [item["field"] for item in ko["errors"]] == [item["field"] for item in en["errors"]] == ["seat_number"]


def test_an_unknown_route_in_both_languages(api_client):
    ko, _ = in_both(api_client, "get", "/api/v1/nowhere", 404, "NOT_FOUND")

    assert ko["detail"] == "/api/v1/nowhere에 해당하는 경로가 없습니다."


def test_the_shortfall_in_both_languages(booking_client, user, concert_date):
    wallet_charge(user=user, amount=PRICE - 12_000)
    hold = ReservationFactory(user=user, seat=concert_date.seats.first())

    ko, en = in_both(
        booking_client, "post", "/api/v1/payments", 402, "INSUFFICIENT_BALANCE", data={"reservation_ids": [hold.pk]}
    )

    assert en["detail"] == "You need 12,000 won more."
    assert ko["detail"] == "12,000원이 더 필요합니다."


def test_my_own_seat_in_both_languages(booking_client, user, concert_date):
    ReservationFactory(user=user, seat=concert_date.seats.get(number=1))

    ko, en = in_both(
        booking_client, "post", "/api/v1/reservations", 409, "SEAT_UNAVAILABLE", data=hold_body(concert_date, 1)
    )

    assert en["detail"] == "You already hold this seat. Pay for it before the hold lapses."
    assert ko["detail"] == "이미 회원님이 점유한 좌석입니다. 점유 시간이 끝나기 전에 결제해 주세요."


def texts_of(error_class) -> list:
    """The class's translatable texts: title, default detail and the other details it offers."""
    return [
        value for name, value in vars(error_class).items() if isinstance(value, translation.gettext_lazy("").__class__)
    ]


def error_classes() -> list[type]:
    found, pending = [], [common_errors.ApplicationError]
    while pending:
        error_class = pending.pop()
        found.append(error_class)
        pending += error_class.__subclasses__()
    modules = {module.__name__ for module in ERROR_MODULES}
    return [error_class for error_class in found if error_class.__module__ in modules]


@pytest.mark.parametrize("error_class", error_classes(), ids=lambda error_class: error_class.__name__)
def test_every_error_text_has_its_korean(error_class):
    texts = texts_of(error_class)
    assert texts or error_class.__name__ == "QueueTokenError"  # the base of the 401s: its subclasses say

    for text in texts:
        with translation.override("ko"):
            korean = str(text)
        with translation.override("en"):
            english = str(text)
        assert korean != english, english
        assert any("\uac00" <= char <= "\ud7a3" for char in korean), korean  # Hangul


def test_every_mapped_drf_title_has_its_korean():
    for _, code, title in DRF_CODES:
        with translation.override("ko"):
            korean = str(title)
        with translation.override("en"):
            assert korean != str(title), code
