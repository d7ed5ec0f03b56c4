from apps.accounts.models import ApiKey, User
from apps.accounts.services import api_key_digest


def user_for_api_key(*, key: str) -> User | None:
    api_key = ApiKey.objects.select_related("user").filter(digest=api_key_digest(key)).first()
    if api_key is None or not api_key.user.is_active:
        return None
    return api_key.user


def active_user_get(*, user_id: int) -> User | None:
    return User.objects.filter(pk=user_id, is_active=True).first()
