"""Single sign-on in the browser (issue 21), against a real OpenID Connect provider on loopback
(`tests/oidc_provider.py`): through the provider's own form and back, signed in with the same
HttpOnly session cookie as a password sign-in; roles from a claim; refusals as sentences on the
sign-in page; a callback replayed in another browser; the password sign-in beside it; sign-out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import scratch_database
from tests.e2e.conftest import Server, free_port, running_server, two_replicas, write_test_users
from tests.e2e.test_browser import CHAT_INPUT, auth_cookie, idle, sign_in
from tests.fake_openai import FakeOpenAI
from tests.oidc_provider import Provider, provider

pytestmark = pytest.mark.browser

LABEL = "Sign in with Example ID"
CLIENT_SECRET = "sso-client-secret-9f8e7d6c5b4a"  # the end-of-run secrets check looks for it too
ERROR = "#signin-message"


@pytest.fixture(scope="module")
def idp() -> Iterator[Provider]:
    with provider() as running:
        yield running


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory: pytest.TempPathFactory, fake_model: FakeOpenAI, idp: Provider) -> Iterator[Server]:
    port = free_port()
    env = {
        "PARLEY_OIDC_ISSUER": idp.issuer,
        "PARLEY_OIDC_CLIENT_ID": "parley",
        "PARLEY_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "PARLEY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PARLEY_OIDC_LABEL": LABEL,
        "PARLEY_OIDC_ADMIN_GROUP": "parley-admins",
        "PARLEY_OIDC_ALLOWED_DOMAINS": "example.com",
    }
    with running_server(tmp_path_factory.mktemp("sso"), fake_model, env_extra=env, port=port) as (server, _):
        yield server


def through_the_provider(page, server: Server, sub: str) -> None:  # type: ignore[no-untyped-def]
    """From Parley's sign-in page, the button, then the provider's form as `sub`."""
    page.goto(server.url)
    page.get_by_role("link", name=LABEL).click()
    page.locator("input[name=sub]").fill(sub)
    page.get_by_role("button", name="Authorize").click()


def test_a_sign_in_through_the_provider_is_a_parley_session(page, sso_server: Server, idp: Provider) -> None:  # type: ignore[no-untyped-def]
    idp.set_claims("u-ann", email="Ann@Example.com", email_verified=True, name="Ann Example", groups=["staff"])
    through_the_provider(page, sso_server, "u-ann")
    page.locator(CHAT_INPUT).wait_for()
    assert "Ann Example" in page.locator("[data-testid='stSidebar']").inner_text()
    cookie = next(c for c in page.context.cookies() if c["name"] == "parley_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert not any(c["name"] == "parley_sso" for c in page.context.cookies())  # the flow's cookie is gone
    assert page.get_by_role("link", name="Admin").count() == 0  # not in the admin group
    auth_cookie(page)  # noted for the end-of-run secrets check
    page.get_by_role("link", name="Account").click()
    page.get_by_text("you have no password in Parley").wait_for()
    page.goto(f"{sso_server.url}/password")
    assert "you have no password in Parley" in page.locator("main").inner_text()
    page.goto(f"{sso_server.url}/signout")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("link", name=LABEL).wait_for()


def test_the_role_follows_the_providers_group_claim(page, sso_server: Server, idp: Provider) -> None:  # type: ignore[no-untyped-def]
    idp.set_claims("u-root", email="root@example.com", email_verified=True, groups=["parley-admins"])
    through_the_provider(page, sso_server, "u-root")
    page.get_by_role("link", name="Admin").wait_for()


@pytest.mark.parametrize(
    ("claims", "says"),
    [
        ({"email": "eve@example.com", "email_verified": False}, "has not confirmed your email"),
        ({"email": "eve@elsewhere.org", "email_verified": True}, "Accounts of elsewhere.org may not use this Parley"),
    ],
    ids=["unverified email", "domain not allowed"],
)
def test_who_the_policy_refuses_gets_a_sentence_on_the_sign_in_page(  # type: ignore[no-untyped-def]
    page, sso_server: Server, idp: Provider, claims: dict[str, object], says: str
) -> None:
    idp.set_claims("u-eve", **claims)
    through_the_provider(page, sso_server, "u-eve")
    assert says in page.locator(ERROR).inner_text()
    assert page.locator(CHAT_INPUT).count() == 0


def test_a_callback_brought_to_another_browser_signs_no_one_in(  # type: ignore[no-untyped-def]
    page, browser, sso_server: Server, idp: Provider
) -> None:
    """Someone's own sign-in, its callback kept from Parley and sent to you: you are not signed in
    as them. Used once, it is then no good in the browser that began it either."""
    idp.set_claims("u-mallory", email="mallory@example.com", email_verified=True)
    caught: list[str] = []

    def hold_the_callback(route) -> None:  # type: ignore[no-untyped-def]
        """The provider's answer to its form, kept: where it would send the browser back to."""
        if route.request.method != "POST":
            route.continue_()
            return
        caught.append(route.fetch(max_redirects=0).headers["location"])
        route.fulfill(status=200, content_type="text/plain", body="held")

    page.route(f"{idp.issuer}/oauth2/authorize*", hold_the_callback)
    through_the_provider(page, sso_server, "u-mallory")
    page.get_by_text("held").wait_for()
    assert len(caught) == 1 and "/signin/sso/callback?" in caught[0]
    victim = browser.new_context()
    try:
        tab = victim.new_page()
        tab.goto(caught[0])
        assert "started in another browser" in tab.locator(ERROR).inner_text()
        assert not any(c["name"] == "parley_session" for c in victim.cookies())
    finally:
        victim.close()
    page.goto(caught[0])
    assert "expired or was already used" in page.locator(ERROR).inner_text()


def test_consent_denied_is_a_sentence(page, sso_server: Server) -> None:  # type: ignore[no-untyped-def]
    page.goto(sso_server.url)
    page.get_by_role("link", name=LABEL).click()
    page.get_by_role("button", name="Deny").click()
    assert "did not allow Parley to sign you in" in page.locator(ERROR).inner_text()


def test_the_password_sign_in_still_works_beside_it(page, sso_server: Server) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, sso_server, "alice")
    assert page.locator(CHAT_INPUT).is_visible()


def test_a_provider_that_is_down_is_a_sentence_and_passwords_may_be_turned_off(  # type: ignore[no-untyped-def]
    page, tmp_path_factory: pytest.TempPathFactory, fake_model: FakeOpenAI
) -> None:
    port = free_port()
    env = {
        "PARLEY_OIDC_ISSUER": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "PARLEY_OIDC_CLIENT_ID": "parley",
        "PARLEY_OIDC_CLIENT_SECRET": "a-client-secret",
        "PARLEY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PARLEY_PASSWORD_SIGNIN": "false",
    }
    with running_server(tmp_path_factory.mktemp("sso-down"), fake_model, env_extra=env, port=port) as (server, _):
        page.goto(server.url)
        assert page.locator("#password").count() == 0  # the button alone
        posted = page.request.post(f"{server.url}/signin", form={"username": "alice", "password": "x"})
        assert posted.status == 403 and "identity provider only" in posted.text()
        page.get_by_role("link", name="Sign in with single sign-on").click()
        assert "could not be reached" in page.locator(ERROR).inner_text()


def test_an_admin_blocks_an_account_and_its_running_sign_in_ends(  # type: ignore[no-untyped-def]
    page, browser, sso_server: Server, idp: Provider
) -> None:
    idp.set_claims("u-carl", email="carl@example.com", email_verified=True, name="Carl")
    carl = browser.new_context().new_page()
    try:
        through_the_provider(carl, sso_server, "u-carl")
        carl.locator(CHAT_INPUT).wait_for()
        idp.set_claims("u-boss", email="boss@example.com", email_verified=True, groups=["parley-admins"])
        through_the_provider(page, sso_server, "u-boss")
        page.get_by_role("link", name="Admin").click()
        page.get_by_role("heading", name="Single sign-on accounts").wait_for()
        idle(page)
        page.get_by_role("combobox", name="Account").click()
        page.get_by_role("option", name="carl@example.com").click()
        idle(page)
        page.get_by_role("button", name="Block").click()
        page.get_by_text("carl@example.com is blocked").wait_for()

        carl.reload()  # Carl's sign-in ended at once
        carl.get_by_role("link", name=LABEL).wait_for()
        through_the_provider(carl, sso_server, "u-carl")
        assert "blocked" in carl.locator(ERROR).inner_text()
    finally:
        carl.context.close()


def test_a_callback_that_lands_on_the_other_replica_signs_in(  # type: ignore[no-untyped-def]
    page, tmp_path_factory: pytest.TempPathFactory, postgres_server: str, fake_model: FakeOpenAI, idp: Provider
) -> None:
    """Two replicas on one PostgreSQL: the sign-in begins on A, the provider sends the browser
    back to B (the public URL's), which finishes it from the database; A then knows the session."""
    auth_file = tmp_path_factory.mktemp("sso-shared") / "auth.yaml"
    write_test_users(auth_file)
    port_a, port_b = free_port(), free_port()
    env = {
        "PARLEY_OIDC_ISSUER": idp.issuer,
        "PARLEY_OIDC_CLIENT_ID": "parley",
        "PARLEY_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "PARLEY_PUBLIC_URL": f"http://127.0.0.1:{port_b}",  # the provider returns to B
        "PARLEY_OIDC_LABEL": LABEL,
    }
    with (
        scratch_database(postgres_server, "parley_sso") as database_url,
        two_replicas(
            tmp_path_factory.mktemp,
            fake_model,
            database_url=database_url,
            auth_file=auth_file,
            env_extra=env,
            ports=(port_a, port_b),
        ) as (a, b),
    ):
        idp.set_claims("u-dana", email="dana@example.com", email_verified=True, name="Dana")
        through_the_provider(page, a, "u-dana")
        page.locator(CHAT_INPUT).wait_for()
        assert page.url.startswith(b.url)
        page.goto(a.url)  # the same cookie (one host), the same session row: A knows her too
        page.locator(CHAT_INPUT).wait_for()
        assert "Dana" in page.locator("[data-testid='stSidebar']").inner_text()
