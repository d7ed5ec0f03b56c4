import hashlib
import secrets

from django.db import IntegrityError, transaction

from apps.accounts.errors import UsernameTaken
from apps.accounts.models import ApiKey, User

API_KEY_PREFIX = "cbk_"


def api_key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_issue(*, user: User) -> str:
    """Create a new key for the user and return it; only its digest is kept."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    ApiKey.objects.create(user=user, digest=api_key_digest(key), prefix=key[: len(API_KEY_PREFIX) + 4])
    return key


def api_key_rotate(*, user: User) -> str:
    """Revoke every key of the user and issue a fresh one."""
    with transaction.atomic():
        ApiKey.objects.filter(user=user).delete()
        return api_key_issue(user=user)


def user_create(*, username: str) -> tuple[User, str]:
    """Sign up: a user without a password (API access only) and their first API key."""
    if User.objects.filter(username__iexact=username).exists():
        raise UsernameTaken()
    try:
        with transaction.atomic():
            user = User(username=username)
            user.set_unusable_password()
            user.save()
            key = api_key_issue(user=user)
    except IntegrityError as exc:  # a concurrent signup took the name first
        raise UsernameTaken() from exc
    return user, key
