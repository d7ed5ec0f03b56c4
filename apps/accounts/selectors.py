from apps.accounts.models import ApiKey, User
from apps.accounts.services import api_key_digest


def user_for_api_key(*, key: str) -> User | None:
    # `digest` is unique, so at most one row; iterating skips the ORDER BY that .first() adds.
    rows = ApiKey.objects.select_related("user").filter(digest=api_key_digest(key), user__is_active=True)
    return next((api_key.user for api_key in rows), None)


def active_user_get(*, user_id: int) -> User | None:
    return User.objects.filter(pk=user_id, is_active=True).first()
