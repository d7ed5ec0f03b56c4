from apps.common.errors import ApplicationError


class UsernameTaken(ApplicationError):
    status, code, title = 409, "USERNAME_TAKEN", "Username taken"
    default_detail = "That username is already taken."
