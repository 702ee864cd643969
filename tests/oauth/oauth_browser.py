"""A stand-in for the user's web browser, run by maild through $BROWSER.

``python browser.py URL`` does what a person does with the sandbox provider's sign-in
page: loads it, fills in the username and password from the environment, presses Allow
(or Deny), and follows the redirect back to maild's listener on 127.0.0.1. It exits 0
once the listener answered, so ``webbrowser.open`` reports a browser that worked.
"""

from __future__ import annotations

import os
import sys

import requests

from maild.sandbox.oauth import form_action

USER_ENV = "MAILD_TEST_BROWSER_USER"
PASSWORD_ENV = "MAILD_TEST_BROWSER_PASSWORD"
DECISION_ENV = "MAILD_TEST_BROWSER_DECISION"


def sign_in(url: str, user: str, password: str, decision: str = "allow") -> requests.Response:
    session = requests.Session()
    session.trust_env = False  # loopback only, whatever proxy the machine has
    page = session.get(url, timeout=30)
    page.raise_for_status()
    action = requests.compat.urljoin(url, form_action(page.text))
    return session.post(action, data={"username": user, "password": password,
                                      "decision": decision}, timeout=30)


def main(argv: list[str]) -> int:
    answer = sign_in(argv[1], os.environ[USER_ENV], os.environ[PASSWORD_ENV],
                     os.environ.get(DECISION_ENV, "allow"))
    return 0 if answer.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
