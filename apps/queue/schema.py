from drf_spectacular.extensions import OpenApiAuthenticationExtension


class QueueTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.queue.authentication.QueueTokenAuthentication"
    name = "queueToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Queue-Token",
            "description": "The waiting-queue token from POST /api/v1/queue/tokens. Booking needs it ACTIVE.",
        }
