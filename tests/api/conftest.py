import pytest


@pytest.fixture
def staff(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("photographer", password="pw", is_staff=True)


@pytest.fixture
def member(db):
    """A signed-in account that is not staff."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("member", password="pw")


def token_client(user):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def staff_api(staff):
    """An API client that authenticates as staff with `Authorization: Token …`."""
    return token_client(staff)


@pytest.fixture
def member_api(member):
    return token_client(member)
