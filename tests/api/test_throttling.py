"""Rate limits: "anon"/"user" on every endpoint, "similar_upload" on POST /api/similar/."""

import socket

import pytest

from tests.helpers.images import jpeg_file, styled


@pytest.fixture
def rates(settings):
    def set_rates(**rates):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {
                **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                **rates,
            },
        }

    return set_rates


def upload(client, **extra):
    return client.post(
        "/api/similar/",
        {"image": jpeg_file(styled(1, "noir", (200, 140), shift=37), "query.jpg", quality=90)},
        **extra,
    )


def test_anonymous_similar_uploads_are_limited_per_address(client, db, rates):
    rates(similar_upload="3/min")
    assert [upload(client).status_code for _ in range(3)] == [200, 200, 200]
    response = upload(client)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    body = response.json()
    assert body["code"] == "throttled"
    assert body["detail"].startswith("Request was throttled. Expected available in")
    # Another address has its own allowance; reading the API is not affected.
    assert upload(client, REMOTE_ADDR="10.0.0.2").status_code == 200
    assert client.get("/api/photos/").status_code == 200


def test_a_forged_x_forwarded_for_does_not_buy_a_new_allowance(client, db, rates):
    """Without proxies configured the limit keys on the connecting address: a client that sends
    a different X-Forwarded-For with every request is still one client."""
    rates(similar_upload="3/min")
    codes = [upload(client, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code for i in range(6)]
    assert codes == [200, 200, 200, 429, 429, 429]


def test_behind_proxies_the_limit_keys_on_what_the_nearest_proxy_saw(client, db, rates, settings):
    rates(similar_upload="1/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    # The proxy appends the address it saw; whatever the client put before it is ignored.
    first = upload(client, HTTP_X_FORWARDED_FOR="1.1.1.1, 198.51.100.7")
    forged = upload(client, HTTP_X_FORWARDED_FOR="2.2.2.2, 198.51.100.7")
    other = upload(client, HTTP_X_FORWARDED_FOR="1.1.1.1, 198.51.100.8")
    assert [first.status_code, forged.status_code, other.status_code] == [200, 429, 200]


def test_the_default_is_no_proxy():
    from django.conf import settings

    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0


def test_signed_in_non_staff_are_limited_per_account(member_api, rates):
    rates(similar_upload="1/min")
    assert upload(member_api).status_code == 200
    assert upload(member_api).status_code == 429
    assert upload(member_api, REMOTE_ADDR="10.0.0.3").status_code == 429  # same account


def test_staff_are_not_limited_on_similar_uploads(staff_api, rates):
    rates(similar_upload="1/min")
    assert [upload(staff_api).status_code for _ in range(4)] == [200] * 4


def test_reading_is_limited_per_address_for_visitors(client, db, rates):
    rates(anon="3/min")
    statuses = [client.get("/api/albums/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert client.get("/api/albums/", REMOTE_ADDR="10.0.0.4").status_code == 200


def test_a_visitor_is_limited_by_the_visitors_rate_alone(client, db, rates):
    rates(anon="5/min", user="2/min")
    statuses = [client.get("/api/albums/").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]


def test_reading_is_limited_per_account_for_signed_in_users(staff_api, rates):
    rates(anon="1/min", user="2/min")
    statuses = [staff_api.get("/api/photos/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_upload_limit_does_not_count_requests_refused_earlier(client, db, rates):
    """A request refused before the rate limits (bad credentials) does not use the allowance."""
    rates(similar_upload="1/min")
    bad = upload(client, HTTP_AUTHORIZATION="Token nope")
    assert bad.status_code == 401
    assert upload(client).status_code == 200


def test_a_cache_outage_lets_requests_through(client, db, rates, settings, caplog):
    """The counters live in the cache; with Redis down the API keeps answering."""
    with socket.socket() as probe:  # a port nothing listens on: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.DegradingRedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 1},
        }
    }
    rates(anon="1/min", similar_upload="1/min")
    assert [client.get("/api/photos/").status_code for _ in range(3)] == [200] * 3
    assert [upload(client).status_code for _ in range(2)] == [200] * 2
    assert "Redis cache unreachable" in caplog.text


def test_the_allowance_comes_back_when_the_window_ends(client, db, rates, monkeypatch):
    from config.throttling import WindowCountThrottle

    now = [999_960.0 + 12.5]  # 12.5 s into a minute
    monkeypatch.setattr(WindowCountThrottle, "timer", lambda self: now[0])
    rates(anon="2/min")
    assert [client.get("/api/albums/").status_code for _ in range(2)] == [200, 200]
    refused = client.get("/api/albums/")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "48"  # what is left of the minute, rounded up
    now[0] += 47.4
    assert client.get("/api/albums/").status_code == 429
    now[0] += 0.2  # the next minute
    assert [client.get("/api/albums/").status_code for _ in range(3)] == [200, 200, 429]


def test_concurrent_requests_are_each_counted(db, rates):
    """The count is one atomic increment: requests arriving together are never lost (REST
    framework's read-modify-write list could drop some)."""
    from concurrent.futures import ThreadPoolExecutor

    from django.test import RequestFactory

    from api.throttling import AnonRateThrottle

    rates(anon="1000/min")
    factory = RequestFactory()

    def one_call(_):
        request = factory.get("/api/albums/", REMOTE_ADDR="192.0.2.9")
        request.user = type("Anonymous", (), {"is_authenticated": False})()
        return AnonRateThrottle().allow_request(request, None)

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(one_call, range(200)))
    throttle = AnonRateThrottle()
    request = factory.get("/api/albums/", REMOTE_ADDR="192.0.2.9")
    request.user = type("Anonymous", (), {"is_authenticated": False})()
    now = throttle.timer()
    key = f"{throttle.get_cache_key(request, None)}:{int(now - now % throttle.duration)}"
    assert throttle.cache.get(key) == 200
