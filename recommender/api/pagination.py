from rest_framework.pagination import PageNumberPagination


class PhotoPagination(PageNumberPagination):
    """`?page=N&page_size=M` with M up to 500."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
