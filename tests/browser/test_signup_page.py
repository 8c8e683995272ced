"""The signup page in a real browser, against the local stack: the invitation link lands
on it, and every way a signup can go is explained to the person."""

import json
import re

from playwright.sync_api import expect

from conftest import AXE_SCRIPT, SIGN_IN_URL, STRONG_PASSWORD

FORM_TITLE = "Create your account"
DONE_TITLE = "Your account is ready"
TOKEN_TITLE = "This link can no longer be used"


def fill_form(page, password=STRONG_PASSWORD, confirm=None):
    page.fill("#password", password)
    page.fill("#confirm", password if confirm is None else confirm)


def focused_id(page):
    return page.evaluate("document.activeElement && document.activeElement.id")


def test_the_page_is_served_with_a_strict_policy_and_no_referrer(stack):
    answer = stack.request("GET", "/signup")
    assert answer.status == 200
    assert answer.headers["referrer-policy"] == "no-referrer"
    csp = answer.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe" not in csp
    config = json.loads(stack.request("GET", "/signup-config.json").body)
    # The rules of template.yaml's user pool, served as the page's configuration.
    assert config["passwordPolicy"]["minimumLength"] == 8
    assert config["apiBaseUrl"] == ""


def test_an_invitee_signs_up_with_the_keyboard_from_the_emailed_link_and_can_sign_in(stack, visit):
    email = stack.invite("Ada", "Lovelace")
    link = stack.latest_link(email)
    assert link.startswith(stack.base_url + "/signup?token="), "SIGNUP_URL is the gateway's own page"

    browser_page = visit()
    page = browser_page.page
    page.goto(link)
    expect(page.get_by_role("heading", name=FORM_TITLE)).to_be_visible()
    assert "token" not in page.url, "the token is removed from the address bar"
    expect(page.locator("#invitee-email")).to_have_text(email)
    expect(page.get_by_label("First name")).to_have_value("Ada")
    expect(page.get_by_label("Last name")).to_have_value("Lovelace")
    browser_page.screenshot("01-form-desktop")

    # Keyboard only: Tab from the focused heading through the fields, Enter submits.
    assert focused_id(page) == "form-title"
    page.keyboard.press("Tab")
    assert focused_id(page) == "email"
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("Augusta Ada")
    page.keyboard.press("Tab")
    assert focused_id(page) == "lastname"
    page.keyboard.press("Tab")
    page.keyboard.type(STRONG_PASSWORD)
    rules = page.locator("#password-rules li")
    expect(rules).to_have_count(4)
    expect(page.locator("#password-rules li.met")).to_have_count(4)
    page.keyboard.press("Tab")
    page.keyboard.type(STRONG_PASSWORD)
    browser_page.screenshot("02-form-filled")

    # Enter submits; a second submit while the first is under way sends nothing (the
    # script submits past the disabled button, as a fast double click could).
    page.keyboard.press("Enter")
    page.evaluate("document.getElementById('signup-form').requestSubmit()")
    expect(page.get_by_role("heading", name=DONE_TITLE)).to_be_visible()
    expect(page.locator("#done-email")).to_have_text(email)
    expect(page.get_by_role("link", name="Sign in")).to_have_attribute("href", SIGN_IN_URL)
    browser_page.screenshot("03-account-ready")
    assert len(browser_page.api_calls("/api/v1/user/signup")) == 1

    login = stack.login(email, STRONG_PASSWORD)
    assert login.status == 200, login.body
    assert login.json()["accessToken"]
    profile = stack.request("GET", "/api/v1/user/userinfo", token=login.json()["accessToken"]).json()
    assert profile["firstname"] == "Augusta Ada"


def test_an_expired_link_sends_a_new_one_on_request_and_the_new_link_works(stack, visit):
    email = stack.invite()
    expired_link = stack.latest_link(email)
    stack.expire(expired_link)

    browser_page = visit()
    page = browser_page.page
    page.goto(expired_link)
    expect(page.get_by_role("heading", name=TOKEN_TITLE)).to_be_visible()
    expect(page.locator("#token-reason")).to_contain_text("expired")
    # The token told nothing, so the page asks for the address.
    page.get_by_label("Your email address").fill(email)
    browser_page.screenshot("04-expired-link")
    page.get_by_role("button", name="Send me a new link").click()
    expect(page.locator("#resend-result")).to_contain_text(f"We sent a new link to {email}")

    new_link = stack.latest_link(email)
    assert new_link != expired_link
    page.goto(new_link)
    expect(page.get_by_role("heading", name=FORM_TITLE)).to_be_visible()
    expect(page.locator("#invitee-email")).to_have_text(email)
    page.get_by_label("First name").fill("Grace")
    page.get_by_label("Last name").fill("Hopper")
    fill_form(page)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name=DONE_TITLE)).to_be_visible()
    assert stack.login(email, STRONG_PASSWORD).status == 200


def test_a_weak_password_is_explained_at_the_field_and_the_token_still_works(stack, visit):
    email = stack.invite("Alan", "Turing")
    link = stack.latest_link(email)

    # The page checks the user pool's rules itself, before anything is sent.
    checked_in_page = visit()
    page = checked_in_page.page
    page.goto(link)
    expect(page.get_by_role("heading", name=FORM_TITLE)).to_be_visible()
    fill_form(page, "weak")
    expect(page.locator("#password-rules li.met")).to_have_count(1)  # only the lowercase letter
    page.get_by_role("button", name="Create account").click()
    password_error = page.locator("#password-error")
    expect(password_error).to_contain_text("at least 8 characters")
    expect(page.get_by_role("alert")).to_contain_text("Please correct")
    assert focused_id(page) == "password", "the first error gets focus"
    expect(page.get_by_label("Password", exact=True)).to_have_attribute("aria-invalid", "true")
    checked_in_page.screenshot("05-weak-password")
    assert checked_in_page.api_calls("/api/v1/user/signup") == []

    # A page whose rules are laxer than the pool's: the server's SECURITY message is shown
    # at the field, and the same link then works.
    lax_page = visit()
    page = lax_page.page
    lax_rules = {"minimumLength": 1, "requireLowercase": False, "requireUppercase": False,
                 "requireNumbers": False, "requireSymbols": False}
    page.route(
        "**/signup-config.json",
        lambda route: route.fulfill(json={"apiBaseUrl": "", "signInUrl": None, "passwordPolicy": lax_rules}),
    )
    page.goto(link)
    expect(page.get_by_role("heading", name=FORM_TITLE)).to_be_visible()
    fill_form(page, "weak")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("alert")).to_contain_text("The password was refused")
    expect(page.locator("#password-error")).to_be_visible()
    expect(page.locator("#password-error")).not_to_be_empty()
    assert focused_id(page) == "password"
    lax_page.screenshot("06-password-refused-by-server")

    fill_form(page)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name=DONE_TITLE)).to_be_visible()
    assert stack.login(email, STRONG_PASSWORD).status == 200


def test_a_used_link_explains_itself_and_sends_the_person_to_their_administrator(stack, visit):
    email = stack.invite()
    link = stack.latest_link(email)
    assert stack.sign_up(link).status == 200

    browser_page = visit()
    page = browser_page.page
    page.goto(link)
    expect(page.get_by_role("heading", name=TOKEN_TITLE)).to_be_visible()
    expect(page.locator("#token-reason")).to_contain_text("already used")
    expect(page.locator("#token-signin-hint")).to_contain_text("If you already created your account, just sign in")
    page.get_by_label("Your email address").fill(email)
    page.get_by_role("button", name="Send me a new link").click()
    # No pending invitation any more: the API answers 400.
    expect(page.locator("#resend-result")).to_contain_text("ask your administrator")
    browser_page.screenshot("07-used-link")


def test_a_link_replaced_while_the_page_is_open_sends_a_new_one_to_the_known_address(stack, visit):
    email = stack.invite("Donald", "Knuth")
    browser_page = visit()
    page = browser_page.page
    page.goto(stack.latest_link(email))
    expect(page.get_by_role("heading", name=FORM_TITLE)).to_be_visible()
    assert stack.resend(email).status == 200  # the old token dies at once

    fill_form(page)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name=TOKEN_TITLE)).to_be_visible()
    # The page knows the address from the invitation: it does not ask for it.
    expect(page.get_by_label("Your email address")).to_be_hidden()
    page.get_by_role("button", name="Send me a new link").click()
    expect(page.locator("#resend-result")).to_contain_text(f"We sent a new link to {email}")
    assert len(stack.links_sent_to(email)) == 3


def test_too_many_new_links_tell_when_to_try_again(stack, visit):
    email = stack.invite()
    for _ in range(3):  # RESEND_LIMIT_PER_HOUR
        assert stack.resend(email).status == 200

    browser_page = visit()
    page = browser_page.page
    page.goto(stack.base_url + "/signup")
    expect(page.get_by_role("heading", name=TOKEN_TITLE)).to_be_visible()
    expect(page.locator("#token-reason")).to_contain_text("needs the link from your invitation email")
    page.get_by_role("button", name="Send me a new link").click()
    expect(page.locator("#resend-email-error")).to_contain_text("Enter the email address")
    assert focused_id(page) == "resend-email"
    page.get_by_label("Your email address").fill(email)
    page.get_by_role("button", name="Send me a new link").click()
    expect(page.locator("#resend-result")).to_contain_text(re.compile(r"Try again in \d+ minutes?\."))
    browser_page.screenshot("08-too-many-links")


def test_a_network_failure_or_server_error_keeps_what_was_typed_and_retry_succeeds(stack, visit):
    email = stack.invite("Edsger", "Dijkstra")
    browser_page = visit()
    page = browser_page.page
    page.goto(stack.latest_link(email))
    expect(page.get_by_role("heading", name=FORM_TITLE)).to_be_visible()
    page.get_by_label("First name").fill("Edsger W.")
    fill_form(page)

    failures = ["network", "server"]

    def fail_then_pass(route):
        if not failures:
            return route.continue_()
        if failures.pop(0) == "network":
            return route.abort("internetdisconnected")
        return route.fulfill(status=500, body="")

    page.route("**/api/v1/user/signup", fail_then_pass)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("alert")).to_contain_text("could not reach the server")
    assert focused_id(page) == "form-retry"
    browser_page.screenshot("09-network-error")
    expect(page.get_by_label("First name")).to_have_value("Edsger W.")
    expect(page.get_by_label("Password", exact=True)).to_have_value(STRONG_PASSWORD)

    page.get_by_role("button", name="Try again").click()
    expect(page.get_by_role("alert")).to_contain_text("Something went wrong on our side")
    expect(page.get_by_label("Confirm password")).to_have_value(STRONG_PASSWORD)

    page.get_by_role("button", name="Try again").click()
    expect(page.get_by_role("heading", name=DONE_TITLE)).to_be_visible()
    assert stack.login(email, STRONG_PASSWORD).status == 200


def axe_violations(page):
    """Serious and critical axe-core findings on the page as it is now."""
    page.add_script_tag(path=str(AXE_SCRIPT))
    results = page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_every_state_passes_axe_on_a_phone_and_a_desktop(stack, visit):
    email = stack.invite("Barbara", "Liskov")
    link = stack.latest_link(email)
    for name, viewport in [("phone", {"width": 360, "height": 740}), ("desktop", {"width": 1280, "height": 800})]:
        # bypass_csp lets the test inject axe-core; the page's own CSP is checked above.
        browser_page = visit(viewport=viewport, bypass_csp=True)
        page = browser_page.page
        page.goto(link)
        expect(page.get_by_role("heading", name=FORM_TITLE)).to_be_visible()
        assert axe_violations(page) == [], f"form on a {name}"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"the page scrolls sideways on a {name}: {width}px"

        page.get_by_role("button", name="Create account").click()  # every field in error
        expect(page.locator(".field-error:visible")).to_have_count(2)
        assert focused_id(page) == "password", "names are prefilled: the password is the first error"
        assert axe_violations(page) == [], f"form with errors on a {name}"
        browser_page.screenshot(f"10-errors-{name}")

        page.goto(stack.base_url + "/signup?token=unknown-token")
        expect(page.get_by_role("heading", name=TOKEN_TITLE)).to_be_visible()
        assert axe_violations(page) == [], f"token explanation on a {name}"
        browser_page.screenshot(f"11-unknown-link-{name}")
