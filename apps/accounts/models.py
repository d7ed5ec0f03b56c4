from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower


class User(AbstractUser):
    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("username"), name="accounts_user_username_ci_unique"),
        ]


class ApiKey(models.Model):
    """An API key, stored only as its SHA-256 digest: the key itself is shown once, at issue.

    Keys carry 256 random bits, so a plain digest cannot be reversed or guessed from a dump.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12, help_text="First characters of the key, to tell keys apart.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.prefix}… ({self.user})"
