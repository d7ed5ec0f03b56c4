from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins

from apps.common.schema import PAGE_ERRORS, problem_responses
from apps.common.viewsets import ApiViewSet
from apps.concerts.selectors import concert_list
from apps.concerts.serializers import ConcertOutputSerializer


@extend_schema_view(
    list=extend_schema(
        operation_id="concerts_list",
        summary="List concerts",
        responses={200: ConcertOutputSerializer(many=True), **problem_responses(PAGE_ERRORS)},
        auth=[],
        tags=["concerts"],
    )
)
class ConcertViewSet(mixins.ListModelMixin, ApiViewSet):
    """The concerts on sale. A concert's dates and seat map are booking, served by
    apps.reservations.apis (they count holds, and imports point from reservations to concerts)."""

    authentication_classes = []
    permission_classes = []
    serializer_class = ConcertOutputSerializer

    def get_queryset(self):
        return concert_list()
