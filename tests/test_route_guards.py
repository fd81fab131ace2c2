"""Every route carries a guard: @login_required (plus a scope check on what it
touches) or an explicit @public. Notify's test_route_authentication, for us."""

import uuid
from urllib.parse import urlsplit

from werkzeug.routing import (
    AnyConverter,
    FloatConverter,
    IntegerConverter,
    PathConverter,
    Rule,
    UUIDConverter,
)

# Public on purpose: logging in, switching language, the API's token exchange
# and description, and the door-plate pages and their JSON (no login by design).
EXPECTED_PUBLIC_PREFIXES = (
    "/login",
    "/lang/",
    "/api/v1/auth/token",
    "/api/v1/openapi.json",
    "/h/",
    "/api/v1/public/",
    "/sw.js",
    "/manifest",
    "/favicon.ico",
    "/healthz",
    "/in/",  # a one-time sign-in link (auth/signin.py)
)


def test_every_route_has_a_guard(app):
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        if getattr(view, "access", None) not in ("login", "public"):
            missing.append(f"{rule.rule} ({rule.endpoint})")
    assert not missing, "routes without @login_required or @public: " + ", ".join(missing)


def test_public_routes_are_only_the_expected_ones(app):
    unexpected = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        and getattr(app.view_functions[rule.endpoint], "access", None) == "public"
        and not rule.rule.startswith(EXPECTED_PUBLIC_PREFIXES)
    ]
    assert not unexpected, f"public routes outside the expected set: {unexpected}"


# A value each converter accepts, for building a guarded rule's URL without an object
# behind it: the guard must answer before any lookup, so nothing needs to exist.
PLACEHOLDER_STRINGS = {"fmt": "csv", "token": "A" * 32, "code": "zh"}


def placeholder(name: str, converter) -> object:
    if isinstance(converter, IntegerConverter):
        return 1
    if isinstance(converter, FloatConverter):
        return 1.0
    if isinstance(converter, UUIDConverter):
        return uuid.UUID(int=1)
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]
    if isinstance(converter, PathConverter):
        return "some/file.txt"
    return PLACEHOLDER_STRINGS.get(name, "sample")


def methods_of(rule) -> list[str]:
    """Every method the rule answers, except the OPTIONS Flask answers by itself."""
    automatic = getattr(rule, "provide_automatic_options", False)
    return sorted(m for m in rule.methods if not (m == "OPTIONS" and automatic))


def guarded_requests(app) -> list[tuple[str, str, Rule]]:
    """(method, url, rule) for every method of every @login_required rule,
    URL arguments filled with placeholders."""
    adapter = app.url_map.bind("localhost")
    requests = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if getattr(view, "access", None) != "login":
            continue
        values = {name: placeholder(name, conv) for name, conv in rule._converters.items()}
        built = rule.build(values, append_unknown=False)
        assert built is not None, f"no URL for {rule.rule} from {values}"
        url = built[1]
        for method in methods_of(rule):
            # The URL must reach this very rule, or the test would check some other view.
            endpoint, _ = adapter.match(url, method=method)
            assert endpoint == rule.endpoint, (method, url, endpoint, rule.endpoint)
            requests.append((method, url, rule))
    return requests


def test_guarded_pages_redirect_anonymous_users_to_login(app, client):
    """Pages redirect to the login page, the API answers 401 "unauthorized": for every
    method of every guarded rule, those with URL arguments included, with an empty body."""
    requests = guarded_requests(app)
    # Not vacuous: rules with arguments and methods other than GET are in.
    assert any(rule.arguments for _, _, rule in requests)
    assert {"GET", "HEAD", "POST", "PATCH"} <= {method for method, _, _ in requests}
    wrong = []
    for method, url, rule in requests:
        res = client.open(url, method=method)
        location = urlsplit(res.headers.get("Location", "")).path
        if url.startswith("/api/"):
            ok = res.status_code == 401 and (
                method == "HEAD" or res.get_json()["error"]["code"] == "unauthorized"
            )
        else:
            ok = res.status_code == 302 and location == "/login"
        if not ok:
            wrong.append(f"{method} {url} ({rule.endpoint}): {res.status_code} {location}")
    assert not wrong, "anonymous requests not turned away:\n" + "\n".join(wrong)
