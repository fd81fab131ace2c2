from tests.factories import create_tree, create_user, login


def test_login_page_is_chinese_by_default_and_english_on_request(client):
    res = client.get("/login")
    assert res.status_code == 200
    html = res.get_data(as_text=True)
    assert "登录" in html
    res = client.get("/login?lang=en")
    assert "Log in" in res.get_data(as_text=True)
    # the choice sticks
    assert "Log in" in client.get("/login").get_data(as_text=True)


def test_cadre_logs_in_and_sees_the_tree(client):
    tree = create_tree(grids=1, teams=2)
    cadre = create_user("cadre", tree["village"])
    res = login(client, cadre)
    assert res.status_code == 302
    res = client.get("/units")
    assert res.status_code == 200
    assert "侯官村" in res.get_data(as_text=True)


def test_wrong_password_is_refused(client):
    tree = create_tree(grids=1, teams=1)
    cadre = create_user("cadre", tree["village"])
    res = login(client, cadre, password="nope-nope")
    assert res.status_code == 200
    assert client.get("/units").status_code == 302
