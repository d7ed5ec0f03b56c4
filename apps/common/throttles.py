"""Rate limits. Each scope's rate comes from settings.THROTTLE_RATES; THROTTLING=off disables all."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class SettingsRateThrottle(SimpleRateThrottle):
    """Reads the rate and the on/off switch at request time, so settings overrides apply."""

    def get_rate(self):
        return settings.THROTTLE_RATES[self.scope]

    def allow_request(self, request, view):
        if not settings.THROTTLING:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def identity(self, request) -> str:
        raise NotImplementedError

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.identity(request)}


class ClientIpThrottle(SettingsRateThrottle):
    def identity(self, request) -> str:
        return self.get_ident(request)


class UserThrottle(SettingsRateThrottle):
    def identity(self, request) -> str:
        return str(request.user.pk)
