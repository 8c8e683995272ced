"""Browser tests of the signup page (web/): the `local` binary on a free port with its own
moto, as `make run` starts it, and Debian's chromium driven by Playwright.

Everything started here is stopped here, by pid. Run with `make test-browser`."""

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
LOCAL_BINARY = ROOT / "target" / "debug" / "local"
SCREENSHOTS = ROOT / "target" / "browser-screenshots"
AXE_SCRIPT = ROOT / ".node-browser" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags chromium tries to reach Google's hosts, which
# this closed network refuses; as root it needs --no-sandbox.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OWNER = ("owner@example.com", "Demo-Owner-1")
SIGN_IN_URL = "https://app.example.com/sign-in"
STRONG_PASSWORD = "Correct-Horse-7"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body) if self.body else None


class Stack:
    """The running local stack and the API calls the scenarios need around the page."""

    def __init__(self, base_url, table_name, moto_endpoint):
        self.base_url = base_url
        self.table_name = table_name
        self.moto_endpoint = moto_endpoint
        self._owner_token = None

    def request(self, method, path, body=None, token=None):
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return Answer(response.status, response.headers, response.read().decode())
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.headers, error.read().decode())

    def login(self, username, password):
        return self.request("POST", "/local/login", {"username": username, "password": password})

    def owner_token(self):
        if self._owner_token is None:
            answer = self.login(*OWNER)
            assert answer.status == 200, answer.body
            self._owner_token = answer.json()["accessToken"]
        return self._owner_token

    def invite(self, firstname="", lastname=""):
        """Invites a new standard user into the demo account; returns their address."""
        email = f"invitee-{uuid.uuid4().hex[:10]}@example.com"
        body = {"username": email, "email": email, "firstname": firstname, "lastname": lastname, "userType": 8}
        answer = self.request("POST", "/api/v1/user/insert_user", body, token=self.owner_token())
        assert answer.status == 200, answer.body
        return email

    def links_sent_to(self, email):
        """The signup links of every email sent to `email`, oldest first."""
        answer = self.request("GET", "/local/outbox")
        assert answer.status == 200, answer.body
        links = []
        for mail in answer.json():
            if email in mail["to"]:
                links += re.findall(r"https?://[^\s\"'<>]+/signup\?token=[A-Za-z0-9_-]+", json.dumps(mail["body"]))
        return links

    def latest_link(self, email):
        links = self.links_sent_to(email)
        assert links, f"no signup link was sent to {email}"
        return links[-1]

    def sign_up(self, link, password=STRONG_PASSWORD):
        token = parse_qs(urlparse(link).query)["token"][0]
        body = {"firstname": "Api", "lastname": "Signup", "password": password, "token": token}
        return self.request("POST", "/api/v1/user/signup", body)

    def resend(self, email):
        return self.request("POST", "/api/v1/user/resend_user_email", {"username": email})

    def expire(self, link):
        """Moves the link's token past its expiry, in the table itself (only its hash is stored)."""
        token = parse_qs(urlparse(link).query)["token"][0]
        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=self.moto_endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        dynamodb.update_item(
            TableName=self.table_name,
            Key={"pk": {"S": "TOKEN#" + hashlib.sha256(token.encode()).hexdigest()}, "sk": {"S": "TOKEN"}},
            UpdateExpression="SET expiresAt = :past",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 60)}},
        )


@pytest.fixture(scope="session")
def stack():
    assert LOCAL_BINARY.exists(), f"{LOCAL_BINARY} is missing: run `cargo build -p local --bin local`"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    log_path = ROOT / "target" / "browser-tests-local.log"
    port = free_port()
    # Our own moto, and invitations linking to this gateway's page.
    env = {k: v for k, v in os.environ.items() if k not in ("SIGNUP_URL", "AWS_ENDPOINT_URL")}
    env.update(PORT=str(port), SIGN_IN_URL=SIGN_IN_URL)
    with open(log_path, "w") as log:
        process = subprocess.Popen([str(LOCAL_BINARY)], cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 90
        text = ""
        while "Ctrl-C stops" not in text:
            assert process.poll() is None, f"the local stack exited: {log_path.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"the local stack did not start: {text[-2000:]}"
            time.sleep(0.2)
            text = log_path.read_text()
        base_url = re.search(r"User API running at (\S+)", text).group(1)
        table_name = re.search(r"table (\S+),", text).group(1)
        moto_endpoint = re.search(r"moto started on (\S+)", text).group(1)
        yield Stack(base_url, table_name, moto_endpoint)
    finally:
        # SIGTERM: the gateway stops moto, which it started, before it exits.
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Visit:
    """A page in a fresh browser context that records every request it makes."""

    def __init__(self, browser, stack, **context_options):
        self.context = browser.new_context(**context_options)
        self.page = self.context.new_page()
        self.requests = []
        self.page.on("request", lambda request: self.requests.append(request))
        self.csp_violations = []
        self.page.on(
            "console",
            lambda message: "Content Security Policy" in message.text and self.csp_violations.append(message.text),
        )
        self.stack = stack

    def api_calls(self, path):
        return [r for r in self.requests if urlparse(r.url).path == path]

    def screenshot(self, name):
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def check_no_third_party_request_no_referrer_no_csp_violation(self):
        assert self.csp_violations == [], "the page breaks its own Content-Security-Policy"
        for request in self.requests:
            assert request.url.startswith(self.stack.base_url + "/"), f"third-party request: {request.url}"
            assert "referer" not in request.all_headers(), f"{request.url} was sent a referrer"


@pytest.fixture
def visit(browser, stack):
    """Opens pages; every page of the test is checked for third-party requests, referrers
    and breaches of its Content-Security-Policy."""
    visits = []

    def open_page(**context_options):
        context_options.setdefault("viewport", {"width": 1280, "height": 800})
        opened = Visit(browser, stack, **context_options)
        visits.append(opened)
        return opened

    yield open_page
    for opened in visits:
        opened.check_no_third_party_request_no_referrer_no_csp_violation()
        opened.context.close()
