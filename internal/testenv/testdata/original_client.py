#!/usr/bin/env python3
"""A client written for the original FastAPI service, unchanged.

It does what an application built against the original does, and checks
the answers it relies on, as the original gives them:

  POST /register {username, email, password}    201 {id, username, email, is_active}
      again, same username                      400 {"detail": "Username already registered"}
      fields missing or of the wrong type       422 {"detail": [{"loc", "msg", "type"}, ...]}
  POST /login {username, password} (JSON)       200 {access_token, refresh_token, token_type: "bearer"}
      wrong password, unknown user              401 {"detail": "Invalid credentials"}
  GET  /me  Authorization: Bearer <access>      200 {id, username, email, is_active, ...}
      no token, a bad token                     401 {"detail": "..."}
  POST /refresh  Authorization: Bearer <refresh>  200 a new pair of the same shape
  POST /logout   Authorization: Bearer <access>   200 {"message": "Successfully logged out"}
      the same token again                      200 (logout is idempotent)
      then GET /me with it                      401
      no token                                  401

Fields a client does not use may be added to a body; the ones above must be
there, with these types and values.

Usage: original_client.py BASE_URL   (e.g. http://127.0.0.1:8000)
Exit status 0 when every check passes; 1 with the failed check on stderr;
2 on wrong usage. Python 3 standard library only.
"""

import json
import secrets
import sys
import urllib.error
import urllib.request


class CheckFailed(Exception):
    pass


class Client:
    def __init__(self, base):
        self.base = base.rstrip("/")

    def call(self, method, path, body=None, token=None):
        """Returns (status, parsed JSON body or None, raw body, headers)."""
        data = None
        headers = {"Accept": "application/json"}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        req = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, raw, hdrs = resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as e:
            status, raw, hdrs = e.code, e.read(), e.headers
        except (urllib.error.URLError, OSError) as e:
            raise CheckFailed("%s %s%s: no answer: %s" % (method, self.base, path, e))
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return status, parsed, raw, hdrs


def expect(what, cond, status, raw):
    if not cond:
        raise CheckFailed("%s; got %d %s" % (what, status, raw.decode("utf-8", "replace")[:500]))


def expect_status(step, want, status, raw):
    expect("%s: want status %d" % (step, want), status == want, status, raw)


def expect_detail(step, want_status, want_detail, got):
    status, body, raw, _ = got
    expect_status(step, want_status, status, raw)
    expect('%s: want {"detail": %r}' % (step, want_detail),
           isinstance(body, dict) and body.get("detail") == want_detail, status, raw)


def expect_detail_string(step, want_status, got):
    status, body, raw, _ = got
    expect_status(step, want_status, status, raw)
    expect('%s: want {"detail": "<a message>"}' % step,
           isinstance(body, dict) and isinstance(body.get("detail"), str) and body["detail"], status, raw)


def expect_user(step, body, status, raw, username, email, user_id=None):
    expect("%s: want a JSON object" % step, isinstance(body, dict), status, raw)
    expect("%s: want an integer id" % step,
           isinstance(body.get("id"), int) and not isinstance(body.get("id"), bool), status, raw)
    if user_id is not None:
        expect("%s: want id %d" % (step, user_id), body["id"] == user_id, status, raw)
    expect("%s: want username %r" % (step, username), body.get("username") == username, status, raw)
    expect("%s: want email %r" % (step, email), body.get("email") == email, status, raw)
    expect("%s: want is_active true" % step, body.get("is_active") is True, status, raw)


def expect_validation(step, got, fields):
    """422 whose detail is a list of {loc, msg, type}, naming every field."""
    status, body, raw, _ = got
    expect_status(step, 422, status, raw)
    detail = body.get("detail") if isinstance(body, dict) else None
    expect("%s: want detail to be a list of {loc, msg, type}" % step,
           isinstance(detail, list) and detail, status, raw)
    for item in detail:
        expect("%s: want each detail item to be {loc: [...], msg: str, type: str}" % step,
               isinstance(item, dict)
               and isinstance(item.get("loc"), list) and item["loc"]
               and isinstance(item.get("msg"), str)
               and isinstance(item.get("type"), str),
               status, raw)
    named = {item["loc"][-1] for item in detail}
    for f in fields:
        expect("%s: want an item whose loc ends in %r" % (step, f), f in named, status, raw)


def expect_pair(step, got):
    status, body, raw, _ = got
    expect_status(step, 200, status, raw)
    expect("%s: want {access_token, refresh_token, token_type: \"bearer\"}" % step,
           isinstance(body, dict)
           and isinstance(body.get("access_token"), str) and body["access_token"]
           and isinstance(body.get("refresh_token"), str) and body["refresh_token"]
           and body.get("token_type") == "bearer",
           status, raw)
    return body["access_token"], body["refresh_token"]


def run(base):
    c = Client(base)
    suffix = secrets.token_hex(4)
    username = "client_" + suffix
    email = "client_%s@example.com" % suffix
    password = "client-passphrase-" + secrets.token_hex(6)

    status, body, raw, _ = c.call("POST", "/register",
                                  {"username": username, "email": email, "password": password})
    expect_status("register", 201, status, raw)
    expect_user("register", body, status, raw, username, email)
    user_id = body["id"]

    expect_detail("register the same username again", 400, "Username already registered",
                  c.call("POST", "/register", {"username": username,
                                               "email": "other_%s@example.com" % suffix,
                                               "password": password}))
    expect_validation("register without email and password",
                      c.call("POST", "/register", {"username": "client_x" + suffix}),
                      ["email", "password"])
    expect_validation("register with a list as email",
                      c.call("POST", "/register", {"username": "client_y" + suffix,
                                                   "email": ["a@example.com"],
                                                   "password": password}),
                      ["email"])
    expect_validation("login without password",
                      c.call("POST", "/login", {"username": username}), ["password"])

    expect_detail("login with a wrong password", 401, "Invalid credentials",
                  c.call("POST", "/login", {"username": username, "password": password + "x"}))
    expect_detail("login as an unknown user", 401, "Invalid credentials",
                  c.call("POST", "/login", {"username": "nobody_" + suffix, "password": password}))
    access, refresh = expect_pair("login",
                                  c.call("POST", "/login", {"username": username, "password": password}))

    status, body, raw, _ = c.call("GET", "/me", token=access)
    expect_status("me", 200, status, raw)
    expect_user("me", body, status, raw, username, email, user_id)
    expect_detail_string("me without a token", 401, c.call("GET", "/me"))
    expect_detail_string("me with a malformed token", 401, c.call("GET", "/me", token="not-a-token"))

    access2, _ = expect_pair("refresh", c.call("POST", "/refresh", token=refresh))
    status, body, raw, _ = c.call("GET", "/me", token=access2)
    expect_status("me with the refreshed access token", 200, status, raw)
    expect_user("me with the refreshed access token", body, status, raw, username, email, user_id)

    for step in ("logout", "logout again with the same token"):
        status, body, raw, _ = c.call("POST", "/logout", token=access)
        expect_status(step, 200, status, raw)
        expect('%s: want {"message": "Successfully logged out"}' % step,
               isinstance(body, dict) and body.get("message") == "Successfully logged out", status, raw)
    expect_detail_string("me with the logged-out token", 401, c.call("GET", "/me", token=access))
    expect_detail_string("logout without a token", 401, c.call("POST", "/logout"))


def main(argv):
    if len(argv) != 2 or not argv[1].startswith(("http://", "https://")):
        print("usage: %s BASE_URL   (e.g. http://127.0.0.1:8000)" % argv[0], file=sys.stderr)
        return 2
    try:
        run(argv[1])
    except CheckFailed as e:
        print("original_client: FAIL: %s" % e, file=sys.stderr)
        return 1
    print("original_client: ok: every check passed against %s" % argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
