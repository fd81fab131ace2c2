"""Every route carries a guard: @login_required (plus a scope check on what it
touches) or an explicit @public. Notify's test_route_authentication, for us."""

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


def test_guarded_pages_redirect_anonymous_users_to_login(app, client):
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if getattr(view, "access", None) != "login" or "GET" not in rule.methods or rule.arguments:
            continue
        res = client.get(rule.rule)
        if rule.rule.startswith("/api/"):
            assert res.status_code == 401, rule.rule
            assert res.get_json()["error"]["code"] == "unauthorized"
        else:
            assert res.status_code == 302 and "/login" in res.headers["Location"], rule.rule
