"""The base of every API viewset, and the router every app registers its viewsets on."""

from rest_framework import exceptions, metadata, routers, viewsets


class ApiRouter(routers.SimpleRouter):
    """The contract's paths: no trailing slash, and Django path converters (`<str:...>`, anchored
    with \\Z like `path()`; DRF's regex routes end in `$`, which also matches before a final newline)."""

    def __init__(self):
        super().__init__(trailing_slash=False, use_regex_path=False)


class ApiMetadata(metadata.SimpleMetadata):
    """OPTIONS names the view and the media types it speaks. It does not describe the actions'
    bodies: the viewsets keep one serializer per action, not the `serializer_class` DRF would
    introspect, and the OpenAPI schema describes them."""

    def determine_actions(self, request, view):
        return {}


class ApiViewSet(viewsets.GenericViewSet):
    """What every API viewset shares.

    - A method the path does not serve is 405 METHOD_NOT_ALLOWED before anything else. DRF
      authenticates, checks permissions and counts throttles in `initial()` before it looks for the
      handler, so a wrong method would be answered 401 or 429 and spend a throttle hit.
    - `self.action` is known when the request's authenticators are chosen (DRF sets it only after
      building the request), so one path can serve actions that take different credentials
      (`get_authenticators` may branch on it).
    - An id in the path is whatever text the client sent (`<str:...>`, as the contract's paths were
      always matched); the action turns it into an id or a 404 of its own code.
    """

    lookup_value_converter = "str"
    metadata_class = ApiMetadata

    def initialize_request(self, request, *args, **kwargs):
        self.action = self.action_map.get(request.method.lower())
        return super().initialize_request(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        method = request.method.lower()
        # The viewset has an attribute per method it serves (DRF binds each mapped action to it).
        if method not in self.http_method_names or not hasattr(self, method):
            raise exceptions.MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)
