import hashlib
import secrets
import unicodedata

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from apps.accounts.errors import UsernameTaken
from apps.accounts.models import ApiKey, User
from apps.common.errors import ValidationFailed

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


def username_normalize(username: str) -> str:
    """NFKC, as Django's auth forms do: a name is stored, and compared with the names taken, in
    one form ("ｍｉｎｊｉ" in fullwidth letters is "minji")."""
    return unicodedata.normalize("NFKC", username)


def _username_check(username: str) -> None:
    """The username field's rules (1 to 150 letters, digits and @.+-_), on the normalised form:
    NFKC can lengthen a name or turn a letter into a space."""
    try:
        User._meta.get_field("username").clean(username, None)
    except DjangoValidationError as exc:
        raise ValidationFailed(
            _("The username is not valid."),
            errors=[{"field": "username", "message": message} for message in exc.messages],
        ) from exc


def user_create(*, username: str) -> tuple[User, str]:
    """Sign up: a user without a password (API access only) and their first API key. The name is
    normalised (NFKC) first, so it is unique in that form, whatever the case."""
    username = username_normalize(username)
    _username_check(username)
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
