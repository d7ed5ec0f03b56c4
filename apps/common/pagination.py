from django.utils.translation import gettext as _
from rest_framework.pagination import PageNumberPagination

from apps.common.errors import ValidationFailed
from apps.common.fields import positive_int_or_none


class PagePagination(PageNumberPagination):
    """`?page=` (from 1) and `?page_size=` (1 to 100, default PAGE_SIZE): `{"count","next","previous","results"}`.

    A page_size outside 1 to 100 (or not a whole number) is 400 VALIDATION_ERROR, as the schema
    says, rather than quietly another size; a page past the end (or not a page number) is 404
    NOT_FOUND."""

    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        size = positive_int_or_none(raw, maximum=self.max_page_size)
        if size is None:
            message = _("A whole number from 1 to %(max)s.") % {"max": self.max_page_size}
            raise ValidationFailed(
                _("page_size must be a whole number from 1 to %(max)s.") % {"max": self.max_page_size},
                errors=[{"field": self.page_size_query_param, "message": message}],
            )
        return size

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.page_query_param: {"minimum": 1},
            self.page_size_query_param: {"minimum": 1, "maximum": self.max_page_size, "default": self.page_size},
        }
        for parameter in parameters:
            parameter["schema"].update(bounds[parameter["name"]])
        return parameters
