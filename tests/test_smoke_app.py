def test_home_shows_visitor_address(client):
    page = client.get("/")
    assert "192.0.2.7" in page.text


def test_login_and_lists(client, make_user, make_domain, make_host):
    alice = make_user("alice")
    make_domain("example.org", alice)
    make_host("home.example.org", alice)
    page = client.login("alice").follow()
    assert "home.example.org" in page.text
    assert "example.org" in client.get("/domains/").text
    assert "home.example.org" in client.get("/hosts/home.example.org/").text
