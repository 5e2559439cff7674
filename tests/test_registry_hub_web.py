"""The hub's web front in a real headless chromium: sign-up, sign-in, search as you type, a repository and its
tags, the copy button, a tag's layers and config, owner settings, visibility; sessions, CSRF and escaping.
Screenshots of every page at 1280 and 390 px go to tests/artifacts/hub/."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time

import pytest
import requests

from browser import chromium, screenshot
from helpers import free_port
from hub_fixtures import OCI_INDEX, PASSWORDS, hub_login, hub_registry, push_image, push_index
from registry_fixtures import dockyard_registry
from test_registry_tls import _self_signed

from dockyard.registry.web.front import safe_next
from dockyard.registry.web.markdown import render
from dockyard.registry.web.sessions import cookie

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
EVIL = '<img src=x onerror="window.__pwned=1">'


def blob(hub, repo: str, data: bytes, headers: dict[str, str]) -> dict[str, object]:
    """Upload a blob in one POST; its descriptor."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    r = requests.post(f"{hub.url}/v2/{repo}/blobs/uploads/", params={"digest": digest}, data=data, headers=headers)
    assert r.status_code == 201, r.text
    return {"digest": digest, "size": len(data)}


def push_full(hub, user: str, repo: str, tag: str, arch: str = "amd64", sizes=(300_000, 12_345)) -> tuple[str, int]:
    """Push an image with a full config (entrypoint, cmd, env, ports, labels, history) and layers of `sizes`."""
    headers = hub.bearer(user, repo)
    layers = [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **blob(hub, repo, os.urandom(n), headers)}
              for n in sizes]
    config = {"architecture": arch, "os": "linux", "config": {
        "Entrypoint": ["/bin/web"], "Cmd": ["--port", "8080"], "Env": ["PATH=/usr/bin:/bin", f"EVIL={EVIL}"],
        "ExposedPorts": {"8080/tcp": {}}, "WorkingDir": "/srv", "User": "web",
        "Labels": {"org.opencontainers.image.title": "web", "evil": EVIL}},
        "history": [{"created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
                    {"created_by": "/bin/sh -c #(nop)  ENV PATH=/usr/bin:/bin", "empty_layer": True},
                    {"created_by": "RUN /bin/sh -c make install # buildkit"},
                    {"created_by": '/bin/sh -c #(nop)  CMD ["--port" "8080"]', "empty_layer": True}]}
    cfg = blob(hub, repo, json.dumps(config).encode(), headers)
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cfg},
                       "layers": layers}).encode()
    r = requests.put(f"{hub.url}/v2/{repo}/manifests/{tag}", data=body,
                     headers={**headers, "Content-Type": OCI_MANIFEST})
    assert r.status_code == 201, r.text
    return r.headers["Docker-Content-Digest"], len(body)


@pytest.fixture(scope="module")
def hub():
    for server in hub_registry("--signup", "--public-by-default"):
        amd = push_full(server, "alice", "alice/web", "1.0")
        arm = push_full(server, "alice", "alice/web", "arm", arch="arm64", sizes=(2_500_000,))
        push_index(server, "alice", "alice/web", "latest", [(amd[0], amd[1], "amd64"), (arm[0], arm[1], "arm64")])
        push_full(server, "bob", "bob/tools", "v1", sizes=(1000,))
        yield server


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def sign_in(driver, hub, user: str, next_path: str = "/") -> None:
    """Sign in through the form."""
    driver.delete_all_cookies()
    driver.get(f"{hub.url}/signin?next={requests.utils.quote(next_path)}")
    driver.find_element("id", "username").send_keys(user)
    driver.find_element("id", "password").send_keys(PASSWORDS[user])
    submit(driver, driver.find_element("css selector", "form.stack button[type=submit]"))
    wait_for(driver, lambda: driver.find_elements("css selector", ".account .who"))
    assert driver.find_element("css selector", ".account .who").text == user


def submit(driver, button) -> None:
    """Click a button that loads a new page, and wait until that new document has loaded."""
    from selenium.common.exceptions import WebDriverException
    driver.execute_script("window.__before_submit = true")
    try:
        button.click()
    except WebDriverException as exc:  # the local server is fast: the page can be gone before the click returns
        if "does not belong to the document" not in str(exc):
            raise
    wait_for(driver, lambda: driver.execute_script(
        "return !window.__before_submit && document.readyState === 'complete'"))


def wait_for(driver, check, timeout: float = 10):
    """Poll `check` until it gives something true."""
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, timeout).until(lambda _: check())


def texts(driver, selector: str) -> list[str]:
    """The text of every element matching a CSS selector."""
    return [el.text for el in driver.find_elements("css selector", selector)]


def test_browser_journey(hub, browser):
    d = browser
    # sign up (enabled on this hub), signed in at once; sign out
    d.get(f"{hub.url}/signup")
    assert d.title == "Create an account · Dockyard Hub"
    screenshot(d, "signup")
    d.find_element("id", "username").send_keys("dave")
    d.find_element("id", "email").send_keys("dave@example.org")
    d.find_element("id", "password").send_keys("dave-pass-1")
    submit(d, d.find_element("css selector", "form.stack button[type=submit]"))
    wait_for(d, lambda: d.find_elements("css selector", ".account .who"))
    assert d.find_element("css selector", ".account .who").text == "dave"
    submit(d, d.find_element("css selector", ".account button"))
    wait_for(d, lambda: d.find_elements("css selector", ".account a.button"))
    assert not d.find_elements("css selector", ".account .who")

    # the list, sorted, anonymous
    d.get(hub.url + "/")
    assert d.title == "Repositories · Dockyard Hub"
    assert texts(d, ".card .repo-name") == ["alice/web", "bob/tools"]
    screenshot(d, "list")
    d.get(hub.url + "/?sort=updated")
    assert texts(d, ".card .repo-name") == ["bob/tools", "alice/web"]

    # wrong password, then sign in and come back to next=
    d.get(f"{hub.url}/signin")
    screenshot(d, "signin")
    d.find_element("id", "username").send_keys("alice")
    d.find_element("id", "password").send_keys("nope")
    submit(d, d.find_element("css selector", "form.stack button[type=submit]"))
    wait_for(d, lambda: d.find_elements("css selector", ".error"))
    assert "Incorrect user name or password." in d.find_element("css selector", ".error").text
    sign_in(d, hub, "alice", "/r/alice/web")
    assert d.current_url == f"{hub.url}/r/alice/web"

    # search as you type, then the same search without JS (the form)
    box = d.find_element("css selector", "input[data-suggest]")
    box.send_keys("tool")
    wait_for(d, lambda: texts(d, ".suggest li a"))
    assert texts(d, ".suggest li a")[0].splitlines()[0] == "bob/tools"
    screenshot(d, "search-suggest")
    box.send_keys("\n")
    wait_for(d, lambda: "q=tool" in d.current_url)
    assert d.title == "Search: tool · Dockyard Hub"
    assert texts(d, ".card .repo-name") == ["bob/tools"]
    screenshot(d, "search-results")

    # the repository page: tags with sizes, platforms, pusher; pull command copied
    submit(d, d.find_element("link text", "bob/tools"))
    d.get(f"{hub.url}/r/alice/web")
    assert d.title == "alice/web · Dockyard Hub"
    rows = [r.find_elements("tag name", "td") for r in d.find_elements("css selector", "table.tags tbody tr")]
    table = {cells[0].text: [c.text for c in cells[1:]] for cells in rows}
    assert set(table) == {"latest", "arm", "1.0"}
    assert table["latest"][2] == "linux/amd64 linux/arm64" and table["latest"][4] == "alice"
    assert table["1.0"][1] == "312 kB" and table["arm"][1] == "2.5 MB"
    assert re.fullmatch(r"[0-9a-f]{12}", table["1.0"][0])
    d.execute_cdp_cmd("Browser.grantPermissions", {"origin": hub.url,
                                                   "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    copy = d.find_element("css selector", "button.copy")
    expected = f"docker pull {hub.host}/alice/web:latest"
    assert copy.get_attribute("data-copy") == expected
    copy.click()
    wait_for(d, lambda: copy.get_attribute("data-copied") == "yes")
    assert d.execute_async_script("navigator.clipboard.readText().then(arguments[0], e => arguments[0]('' + e))") \
        == expected
    screenshot(d, "repository")

    # star it, then unstar
    submit(d, d.find_element("xpath", "//button[contains(., 'Star')]"))
    wait_for(d, lambda: "★ Starred" in d.find_element("css selector", ".actions").text)
    assert "★ 1 stars" in d.find_element("css selector", ".repo-head .meta").text

    # the tag page: layers, config, history for each platform of the index
    submit(d, d.find_element("link text", "latest"))
    assert d.title == "alice/web:latest · Dockyard Hub"
    images = d.find_elements("css selector", "section.image")
    assert [i.find_element("css selector", "h2 .chip").text for i in images] == ["linux/amd64", "linux/arm64"]
    layers = images[0].find_elements("css selector", "table.layers tbody tr")
    assert [[c.text for c in r.find_elements("tag name", "td")][1::2] for r in layers] == [
        ["ADD file:abc in /", "300 kB"], ["RUN /bin/sh -c make install # buildkit", "12.3 kB"]]
    config = images[0].find_element("css selector", "dl.config").text
    for part in ("/bin/web", "--port 8080", "PATH=/usr/bin:/bin", "8080/tcp", "/srv",
                 "org.opencontainers.image.title", EVIL):
        assert part in config, part
    assert len(images[0].find_elements("css selector", "ol.history li")) == 4
    assert not d.find_elements("css selector", "dl.config img"), "labels and env are text"
    assert d.execute_script("return window.__pwned") is None
    screenshot(d, "tag")

    # settings: a description with markup is text; the overview's Markdown renders
    d.get(f"{hub.url}/r/alice/web/-/settings")
    assert d.title == "Settings · alice/web · Dockyard Hub"
    short = d.find_element("id", "description")
    short.clear()
    short.send_keys("<script>window.__pwned=2</script> web server")
    full = d.find_element("id", "full_description")
    full.clear()
    full.send_keys("## Usage\nRun it with *care*:\n\n- `docker run web`\n- see [the docs](https://example.org/docs)\n\n"
                   "<script>window.__pwned=3</script> [x](javascript:alert(1))")
    submit(d, full.find_element("xpath", "./following-sibling::button"))
    assert d.find_element("css selector", ".notice").text == "Description saved."
    screenshot(d, "settings")
    d.get(f"{hub.url}/r/alice/web")
    assert d.find_element("css selector", ".lead").text == "<script>window.__pwned=2</script> web server"
    markdown = d.find_element("css selector", ".markdown")
    assert markdown.find_element("tag name", "h2").text == "Usage"
    assert markdown.find_element("tag name", "em").text == "care"
    assert [a.get_attribute("href") for a in markdown.find_elements("tag name", "a")] == ["https://example.org/docs"]
    assert "<script>window.__pwned=3</script> [x](javascript:alert(1))" in markdown.text
    assert not d.find_elements("css selector", "main script")
    assert d.execute_script("return window.__pwned") is None
    screenshot(d, "repository-described")

    # collaborators and a tag deleted from settings
    d.get(f"{hub.url}/r/alice/web/-/settings")
    d.find_element("css selector", "input[name=user]").send_keys("bob")
    submit(d, d.find_element("xpath", "//button[.='Add']"))
    assert d.find_element("css selector", ".notice").text == "Collaborators updated."
    assert "bob" in d.find_elements("css selector", "ul.rows")[0].text
    submit(d, d.find_element("xpath", "//li[code='arm']//button"))
    assert d.find_element("css selector", ".notice").text == "Tag deleted."
    assert requests.get(f"{hub.url}/v2/repositories/alice/web/tags/arm/").status_code == 404

    # private: gone for an anonymous visitor (list, page, search), still there for alice
    d.find_element("css selector", "input[value=private]").click()
    submit(d, d.find_element("xpath", "//button[.='Save visibility']"))
    assert d.find_element("css selector", ".notice").text == "Visibility changed."
    d.get(hub.url + "/")
    assert "alice/web" in texts(d, ".card .repo-name")
    d.delete_all_cookies()
    d.get(hub.url + "/")
    assert texts(d, ".card .repo-name") == ["bob/tools"]
    d.get(f"{hub.url}/r/alice/web")
    assert d.title == "Not found · Dockyard Hub"
    screenshot(d, "not-found")
    assert requests.get(f"{hub.url}/v2/search/repositories/", params={"query": "web"}).json()["count"] == 0

    # delete the repository (its name typed to confirm)
    sign_in(d, hub, "alice", "/r/alice/web/-/settings")
    confirm = d.find_element("css selector", "input[name=confirm]")
    button = confirm.find_element("xpath", "./following-sibling::button")
    assert not button.is_enabled()
    confirm.send_keys("alice/web")
    submit(d, button)
    assert d.title == "Repositories · Dockyard Hub"
    assert texts(d, ".card .repo-name") == ["bob/tools"]


def test_csrf_origin_and_session_rules(hub):
    s = requests.Session()
    r = s.get(f"{hub.url}/signin")
    set_cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Secure" not in set_cookie
    token = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
    login = {"username": "alice", "password": PASSWORDS["alice"], "next": "/"}
    assert s.post(f"{hub.url}/signin", data=login, allow_redirects=False).status_code == 403, "no CSRF token"
    assert s.post(f"{hub.url}/signin", data={**login, "csrf": "x" * 43}, allow_redirects=False).status_code == 403
    assert requests.post(f"{hub.url}/signin", data={**login, "csrf": token}, allow_redirects=False).status_code == 403, \
        "a token without its session"
    r = s.post(f"{hub.url}/signin", data={**login, "csrf": token}, allow_redirects=False,
               headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "cross-site" in r.text
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        r = s.post(f"{hub.url}/signin", data={**login, "csrf": token, "next": target}, allow_redirects=False)
        assert r.status_code == 303 and r.headers["Location"] == "/", target
        s.cookies.clear()
        page = s.get(f"{hub.url}/signin")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = s.post(f"{hub.url}/signin", data={**login, "csrf": token, "next": "/r/bob/tools?page=1"},
               allow_redirects=False)
    assert r.headers["Location"] == "/r/bob/tools?page=1"
    old_anonymous = token

    # signed in: the settings forms still need the (new) session's token
    home = s.get(f"{hub.url}/")
    assert '<span class="who" title="Signed in">alice</span>' in home.text
    token = re.search(r'name="csrf" value="([^"]+)"', home.text).group(1)
    assert token != old_anonymous, "signing in makes a new session"
    bob_repo = f"{hub.url}/r/bob/tools/-/description"
    assert s.post(bob_repo, data={"description": "x", "csrf": token}).status_code == 403, "not alice's"
    sid = s.cookies["dyhub_session"]
    with sqlite3.connect(hub.data / "hub.db") as db:
        stored = [row[0] for row in db.execute("SELECT id_hash FROM web_sessions")]
    assert sid not in stored and hashlib.sha256(sid.encode()).hexdigest() in stored, "ids kept hashed"

    # the JSON API reads with the session (search as you type) but never changes anything with it
    push_full(hub, "alice", "alice/notes", "v1", sizes=(10,))
    assert s.get(f"{hub.url}/v2/repositories/alice/notes/").json()["permissions"]["admin"] is True
    r = s.patch(f"{hub.url}/v2/repositories/alice/notes/", json={"description": "by cookie"})
    assert r.status_code == 403 and s.get(f"{hub.url}/v2/repositories/alice/notes/").json()["description"] == ""

    # sign out ends the session on the server: the old cookie is worth nothing
    assert s.post(f"{hub.url}/signout", data={}, allow_redirects=False).status_code == 403
    r = s.post(f"{hub.url}/signout", data={"csrf": token}, allow_redirects=False)
    assert r.status_code == 303 and "Max-Age=0" in r.headers["Set-Cookie"]
    replay = requests.get(f"{hub.url}/", cookies={"dyhub_session": sid})
    assert 'class="who"' not in replay.text

    # a session past its expiry is worth nothing either
    fresh = requests.Session()
    token = re.search(r'name="csrf" value="([^"]+)"', fresh.get(f"{hub.url}/signin").text).group(1)
    fresh.post(f"{hub.url}/signin", data={**login, "csrf": token})
    assert 'class="who"' in fresh.get(f"{hub.url}/").text
    with sqlite3.connect(hub.data / "hub.db") as db:
        db.execute("UPDATE web_sessions SET expires = 1 WHERE id_hash = ?",
                   (hashlib.sha256(fresh.cookies["dyhub_session"].encode()).hexdigest(),))
    assert 'class="who"' not in fresh.get(f"{hub.url}/").text


def test_escaping_and_headers(hub):
    r = requests.get(f"{hub.url}/r/bob/tools/-/tags/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert r.status_code == 404 and "<script>alert" not in r.text and "&lt;script&gt;alert(1)" in r.text
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in r.headers["Content-Security-Policy"]
    assert re.search(r"<script(?! src=\"/static/hub.js\" defer>)", r.text) is None, "no inline script anywhere"
    # a tag name with markup cannot be pushed at all (the registry's tag grammar)
    headers = {**requests.utils.default_headers(), **hub_bearer(hub)}
    r = requests.put(f"{hub.url}/v2/bob/tools/manifests/%3Cb%3Ex", data=b"{}",
                     headers={**headers, "Content-Type": OCI_INDEX})
    assert r.status_code in (400, 404)
    r = requests.get(f"{hub.url}/?q=%3Cb%3Ebold")
    assert "<b>bold" not in r.text and "&lt;b&gt;bold" in r.text
    for name, kind in (("hub.css", "text/css"), ("hub.js", "text/javascript"), ("icon.svg", "image/svg+xml")):
        r = requests.get(f"{hub.url}/static/{name}")
        assert r.status_code == 200 and r.headers["Content-Type"].startswith(kind)
    assert requests.get(f"{hub.url}/static/..%2Ffront.py").status_code == 404
    assert requests.get(f"{hub.url}/signup").status_code == 200


def hub_bearer(hub) -> dict[str, str]:
    """bob's push token for bob/tools."""
    return hub.bearer("bob", "bob/tools")


def test_markdown_subset_is_safe():
    assert render("# T <i>\n\ntext **b** *i* `<x>`") == \
        "<h1>T &lt;i&gt;</h1>\n<p>text <strong>b</strong> <em>i</em> <code>&lt;x&gt;</code></p>"
    assert render("- a\n- [l](https://e.org/?a=1&b=2)\n\n1. x") == (
        '<ul><li>a</li><li><a href="https://e.org/?a=1&amp;b=2" rel="nofollow noopener noreferrer">l</a></li></ul>\n'
        "<ol><li>x</li></ol>")
    for evil in ("[x](javascript:alert(1))", '[x](https://e.org/"onmouseover="alert(1))', "<script>a()</script>",
                 "[x](data:text/html,<b>)", '<a href="https://e.org">x</a>'):
        out = render(evil)
        assert "<script" not in out and "<a " not in out and "<b>" not in out, out
    assert render("```\n<b>\n```") == "<pre><code>&lt;b&gt;</code></pre>"


def test_sign_in_next_and_cookie_rules():
    assert safe_next("/r/a/b?page=2") == "/r/a/b?page=2"
    for bad in ("//evil", "https://evil/", "/\\evil", "evil", "", None, "/x\r\nSet-Cookie: a=b"):
        assert safe_next(bad) == "/"
    assert cookie("abc", True, 60).endswith("Secure") and "SameSite=Lax" in cookie("abc", False, 60)
    assert "Secure" not in cookie("abc", False, 60) and "HttpOnly" in cookie("abc", False, 60)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl command not installed")
def test_secure_cookie_over_tls_and_no_sign_in_without_accounts(tmp_path):
    cert, key = _self_signed(tmp_path)
    port = free_port()
    with open(tmp_path / "server.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "dockyard.entry", "registry", "serve", "--addr",
                                 f"127.0.0.1:{port}", "--root", str(tmp_path / "data"), "--auth", "hub",
                                 "--tls-cert", str(cert), "--tls-key", str(key)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            try:
                r = requests.get(f"https://127.0.0.1:{port}/signin", verify=str(cert), timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "TLS hub did not come up"
                time.sleep(0.05)
        assert r.status_code == 200
        assert r.headers["Set-Cookie"].split("; ")[1:] == ["Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=7200",
                                                           "Secure"]
    finally:
        proc.terminate()
        proc.wait(20)
    for plain in dockyard_registry():
        assert requests.get(f"{plain.url}/signin").status_code == 404, "no accounts without auth mode hub"
        assert "Sign in" not in requests.get(f"{plain.url}/").text


def test_list_pagination_and_sorting():
    for hub in hub_registry("--public-by-default"):
        for i in range(23):
            push_image(hub, "bob", f"bob/r{i:02d}", "v1", f"layer {i}".encode())
        requests.post(f"{hub.url}/v2/repositories/bob/r07/stars/", headers=hub_login(hub, "alice"))
        first = requests.get(f"{hub.url}/", params={"sort": "name"}).text
        names = re.findall(r'class="repo-name" href="/r/([^"]+)"', first)
        assert names == [f"bob/r{i:02d}" for i in range(20)] and "Page 1 of 2" in first
        nxt = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
        second = requests.get(hub.url + nxt).text
        assert re.findall(r'class="repo-name" href="/r/([^"]+)"', second) == ["bob/r20", "bob/r21", "bob/r22"]
        assert "Page 2 of 2" in second and 'rel="prev"' in second
        by_stars = requests.get(f"{hub.url}/", params={"sort": "stars"}).text
        assert re.findall(r'class="repo-name" href="/r/([^"]+)"', by_stars)[0] == "bob/r07"
        found = requests.get(f"{hub.url}/", params={"q": "r2"}).text
        assert re.findall(r'class="repo-name" href="/r/([^"]+)"', found) == ["bob/r20", "bob/r21", "bob/r22"]
