import re

from django.utils.encoding import force_str
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination

_WHOLE_NUMBER = re.compile(r"[0-9]+")
#: more digits than any page number or size could need (and than int() takes from text)
_MAX_DIGITS = 18


class PhotoPagination(PageNumberPagination):
    """`?page=N&page_size=M` with M up to 500 (a larger M gives 500).

    Strict about what it is given: a page that is not a page number (or is past the end) is a 404,
    a page size that is not a positive whole number is a 400, never silently the default.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    page_size_query_description = "Items per page: 1 to 500 (larger asks are given 500)."

    def get_page_size(self, request):
        value = request.query_params.get(self.page_size_query_param)
        if value is None:
            return self.page_size
        if not _WHOLE_NUMBER.fullmatch(value) or int(value) < 1:
            raise ValidationError(
                {self.page_size_query_param: ["Items per page must be a whole number from 1."]}
            )
        if len(value.lstrip("0")) > _MAX_DIGITS:
            return self.max_page_size
        return min(int(value), self.max_page_size)

    def get_page_number(self, request, paginator):
        value = request.query_params.get(self.page_query_param)
        if value is None:
            return 1
        if value in self.last_page_strings:
            return paginator.num_pages
        if not _WHOLE_NUMBER.fullmatch(value) or len(value.lstrip("0")) > _MAX_DIGITS:
            raise NotFound(self.invalid_page_message)
        return int(value)

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": (
                    f"{force_str(self.page_query_description)} A page that does not exist is a 404."
                ),
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": self.page_size_query_description,
                "schema": {"type": "integer", "minimum": 1},
            },
        ]
