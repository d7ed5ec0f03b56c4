from apps.accounts.models import ApiKey, User
from apps.accounts.services import api_key_digest
from apps.common.sql import column_names, fetch_one, instance_from_row

_USER_FIELDS = column_names(User)
# Every request with an API key runs this; written out once, like the queue-token lookup.
_USER_FOR_DIGEST = "SELECT {} FROM {} u JOIN {} k ON k.user_id = u.id WHERE k.digest = %s AND u.is_active".format(
    ", ".join(f"u.{name}" for name in _USER_FIELDS), User._meta.db_table, ApiKey._meta.db_table
)


def user_for_api_key(*, key: str) -> User | None:
    row = fetch_one(_USER_FOR_DIGEST, [api_key_digest(key)])  # `digest` is unique: at most one row
    return None if row is None else instance_from_row(User, _USER_FIELDS, row)


def active_user_get(*, user_id: int) -> User | None:
    return User.objects.filter(pk=user_id, is_active=True).first()
