from drf_spectacular.drainage import set_override
from drf_spectacular.extensions import OpenApiAuthenticationExtension

from apps.queue.authentication import QueueTokenClaimAuthentication


class QueueTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.queue.authentication.QueueTokenAuthentication"
    match_subclasses = True  # the poll's signature-only check reads the same header
    name = "queueToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Queue-Token",
            "description": "The waiting-queue token from POST /api/v1/queue/tokens. Booking needs it ACTIVE.",
        }


# Both checks of the header are one security scheme: tell drf-spectacular that the second
# class behind the name "queueToken" is no accident.
set_override(QueueTokenClaimAuthentication, "suppress_collision_warning", True)
