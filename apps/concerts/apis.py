from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from apps.common.pagination import paginated_response, paginated_schema
from apps.common.schema import problem_responses
from apps.concerts.selectors import concert_list


class ConcertListApi(APIView):
    authentication_classes = []
    permission_classes = []

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        title = serializers.CharField()
        venue = serializers.CharField()

    @extend_schema(
        operation_id="concerts_list",
        summary="List concerts",
        responses={
            200: paginated_schema(name="PaginatedConcertList", serializer_class=OutputSerializer),
            **problem_responses({404: ["NOT_FOUND"]}),
        },
        auth=[],
        tags=["concerts"],
    )
    def get(self, request):
        return paginated_response(
            request=request, view=self, queryset=concert_list(), serializer_class=self.OutputSerializer
        )
