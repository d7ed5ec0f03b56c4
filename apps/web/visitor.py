"""Who is visiting, and where they are in the queue, kept in the session.

Sessions live in the cache (the shared Redis; nothing in the database) and the cookie holds only
their key, so signing out deletes the session and a copied cookie stops working. They hold the
visitor's user id, never the API key: a leaked cookie opens these pages until sign-out, not the
API. The API key is checked once, at sign-in; a new key rides along only until the page that
shows it once.
"""

import functools

from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.middleware.csrf import rotate_token
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from apps.accounts.selectors import active_user_get
from apps.common.errors import ApplicationError
from apps.queue.errors import QueueTokenMissing, QueueTokenNotActive
from apps.queue.selectors import queue_entry_for_token, queue_entry_id_for_token
from apps.queue.services import queue_entry_check_admitted
from apps.web.errors import error_text

USER_ID = "web_user_id"
NEW_API_KEY = "web_new_api_key"  # shown once on the next page, then dropped
QUEUE_TOKEN = "web_queue_token"
CONCERT_ID = "web_concert_id"  # the concert the visitor queued for
START_POSITION = "web_start_position"  # place in line when they joined: the progress bar's zero
HELD_IDS = "web_held_ids"  # reservations held here and not yet paid or reported lapsed
PAYMENT = "web_payment"  # the last payment, for the confirmation page


def session_user(request) -> AbstractBaseUser | None:
    user_id = request.session.get(USER_ID)
    return active_user_get(user_id=user_id) if user_id else None


def sign_in(request, *, user: AbstractBaseUser) -> None:
    """A fresh session and CSRF token (no fixation, nothing left from someone else) for this user."""
    request.session.flush()
    rotate_token(request)
    request.session[USER_ID] = user.pk


def _session_token(request) -> str:
    token = request.session.get(QUEUE_TOKEN)
    if not token:
        raise QueueTokenMissing()
    return token


def queue_entry_id(request) -> int:
    """The visitor's queue entry id, from the token's signature (no database: for polls).
    The session is kept on the server and bound to its user, so the token in it is that user's."""
    return queue_entry_id_for_token(token=_session_token(request))


def queue_entry(request):
    """The visitor's queue entry, in any status; QUEUE_TOKEN_MISSING or _INVALID when there is none."""
    return queue_entry_for_token(token=_session_token(request), user_id=request.web_user.pk)


def forget_queue_token(request) -> None:
    for key in (QUEUE_TOKEN, START_POSITION):
        request.session.pop(key, None)


def signed_in(view):
    """Sets request.web_user, or sends the visitor to the start page to sign up or in."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        user = session_user(request)
        if user is None:
            if request.session.get(USER_ID):
                request.session.flush()
                messages.error(request, _("Your account is no longer active. Please sign in again."))
            else:
                messages.info(request, _("Please sign up or sign in first."))
            return redirect("web:home")
        request.web_user = user
        return view(request, *args, **kwargs)

    return wrapper


def admitted(view):
    """Booking pages: signed in and holding an ACTIVE queue token. Sets request.queue_entry.
    Someone still waiting goes back to the waiting room; an ended token back to the start."""

    @signed_in
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            entry = queue_entry_check_admitted(entry=queue_entry(request))
        except QueueTokenNotActive:
            # queue_join stores the token and its concert together.
            concert_id = kwargs.get("concert_id") or request.session[CONCERT_ID]
            return redirect("web:waiting_room", concert_id=concert_id)
        except ApplicationError as error:
            forget_queue_token(request)
            messages.error(request, error_text(error))
            return redirect("web:home")
        request.queue_entry = entry
        return view(request, *args, **kwargs)

    return wrapper
