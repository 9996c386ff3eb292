#!/usr/bin/env python3
"""Replays, against a running `gatehouse directory serve`, the request sequences Okta and
Microsoft Entra ID send while provisioning, with the bodies their documentation publishes
(Okta's "SCIM 2.0 protocol reference"; Microsoft's "Develop and plan provisioning for a SCIM
endpoint" and "Known issues ... SCIM 2.0 protocol compliance", the `aadOptscim062020` requests),
and asserts what each IdP relies on in the answers: status codes, ListResponse paging fields as
integers, the `id` it stores, the attributes echoed back, 409 on a duplicate, 404 after a delete.

    SCIM_TOKEN=... idp_replay.py okta|entra BASE_URL [--bundle FILE --gatehouse BIN]

BASE_URL is the tenant's SCIM root (http://HOST:PORT/scim/v2/<tenant>). With --bundle (the
service's --bundle-out) and --gatehouse, each change is also followed into the policy: the
bundle the service publishes is polled with `gatehouse check --as user:EMAIL` on the tenant's
prompt route until the user is allowed, or refused with the expected reason (principal_inactive
after a deactivation, principal_unknown after a delete).

Prints one line per request; exits 1 at the first broken expectation with the request and the
answer.
"""

import argparse
import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


class Failed(Exception):
    pass


class Scim:
    def __init__(self, base, token, user_agent, content_type):
        url = urllib.parse.urlsplit(base.rstrip("/"))
        self.host, self.port, self.root = url.hostname, url.port, url.path
        self.token = token
        self.user_agent = user_agent
        self.content_type = content_type
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def request(self, method, path, body=None, token=None, expect=None):
        """Sends one request (path relative to the tenant's root, query already encoded)."""
        headers = {"User-Agent": self.user_agent, "Accept": "application/scim+json"}
        if token is not False:
            headers["Authorization"] = f"Bearer {self.token if token is None else token}"
        data = None
        if body is not None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            headers["Content-Type"] = self.content_type
        for attempt in (1, 2):
            try:
                self.conn.request(method, self.root + path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                break
            except (http.client.HTTPException, ConnectionError):
                # The server may close a keep-alive connection between requests: reconnect once.
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt == 2:
                    raise
        text = raw.decode("utf-8", "replace")
        doc = None
        if raw:
            try:
                doc = json.loads(text)
            except ValueError:
                doc = None
        print(f"  {method} {path} -> {resp.status}")
        answer = Answer(method, path, body, resp.status, dict(resp.getheaders()), text, doc)
        if expect is not None:
            answer.status_in(*((expect,) if isinstance(expect, int) else expect))
        return answer


class Answer:
    def __init__(self, method, path, body, status, headers, text, doc):
        self.method, self.path, self.body = method, path, body
        self.status, self.headers, self.text, self.doc = status, headers, text, doc

    def fail(self, why):
        sent = "" if self.body is None else (
            self.body if isinstance(self.body, str) else json.dumps(self.body, indent=1))
        raise Failed(f"{why}\n  request: {self.method} {self.path}\n{sent}\n"
                     f"  answer: {self.status}\n{self.text[:2000]}")

    def status_in(self, *codes):
        if self.status not in codes:
            self.fail(f"status {self.status}, expected {' or '.join(map(str, codes))}")
        if self.status != 204 and self.text:
            ctype = {k.lower(): v for k, v in self.headers.items()}.get("content-type", "")
            if "json" not in ctype:
                self.fail(f"Content-Type {ctype!r} is not JSON (RFC 7644 3.1: application/scim+json)")
        return self

    def json(self):
        if not isinstance(self.doc, dict):
            self.fail("the body is not a JSON object")
        return self.doc

    def check(self, cond, why):
        if not cond:
            self.fail(why)
        return self


def list_response(answer, total):
    """A ListResponse with `total` results and integer paging fields (Okta needs integers)."""
    doc = answer.status_in(200).json()
    answer.check(LIST in doc.get("schemas", []), "no ListResponse schema")
    for field in ("totalResults", "startIndex", "itemsPerPage"):
        answer.check(type(doc.get(field)) is int, f"`{field}` is not an integer: {doc.get(field)!r}")
    answer.check(doc["totalResults"] == total, f"totalResults {doc['totalResults']}, expected {total}")
    resources = doc.get("Resources", [])
    answer.check(isinstance(resources, list) and len(resources) == total,
                 f"{len(resources) if isinstance(resources, list) else resources!r} Resources, expected {total}")
    return resources


def error_response(answer, status):
    doc = answer.status_in(status).json()
    answer.check(ERROR in doc.get("schemas", []), "no Error schema")
    answer.check(str(doc.get("status")) == str(status), f"Error status {doc.get('status')!r}")
    return doc


def q(expr):
    return urllib.parse.quote(expr, safe="")


def member_ids(group):
    return [m.get("value") for m in (group.get("members") or [])]


class Policy:
    """Follows a change into the bundle the service publishes (--bundle-out)."""

    def __init__(self, bundle, gatehouse, timeout=20.0):
        self.bundle, self.gatehouse, self.timeout = bundle, gatehouse, timeout

    def expect(self, email, outcome):
        """outcome: "allow" or a denial reason; polls until the published bundle says so."""
        if not self.bundle:
            return
        start = time.monotonic()
        last = None
        while True:
            if os.path.exists(self.bundle):
                out = subprocess.run(
                    [self.gatehouse, "check", "--bundle", self.bundle, "--as", f"user:{email}",
                     "--method", "GET", "--path", "/api/prompts/prompts/summarize", "--json"],
                    capture_output=True, text=True)
                try:
                    got = json.loads(out.stdout)
                    last = "allow" if got.get("decision") == "allow" else got.get("reason")
                except ValueError:
                    last = f"exit {out.returncode}: {out.stderr.strip()[:300]}"
                if last == outcome:
                    print(f"  policy: user:{email} -> {outcome} "
                          f"({time.monotonic() - start:.2f} s after the answer)")
                    return
            if time.monotonic() - start > self.timeout:
                raise Failed(f"the published bundle never said {outcome} for user:{email} "
                             f"within {self.timeout:.0f} s; last: {last}")
            time.sleep(0.05)


def auth(scim):
    print("authentication (the IdP's 'Test Connection')")
    error_response(scim.request("GET", "/Users?startIndex=1&count=1", token=False), 401)
    error_response(scim.request("GET", "/Users?startIndex=1&count=1", token="not-the-secret"), 401)


def okta(scim, policy):
    """Okta's SCIM 2.0 reference, in the order an assignment, a profile push, Push Groups and an
    unassignment make them."""
    auth(scim)
    email = "test.user@example.com"
    print("import (Okta reads every user and group, 100 a page)")
    list_response(scim.request("GET", "/Users?startIndex=1&count=100"), 0)
    list_response(scim.request("GET", "/Groups?startIndex=1&count=100"), 0)

    print("assignment: does the user exist? then create it")
    lookup = "/Users?filter=" + q(f'userName eq "{email}"') + "&startIndex=1&count=100"
    list_response(scim.request("GET", lookup), 0)
    create = {
        "schemas": [USER],
        "userName": email,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": True, "value": email, "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": True,
    }
    made = scim.request("POST", "/Users", create, expect=201)
    user = made.json()
    made.check(isinstance(user.get("id"), str) and user["id"], "no `id` (Okta: 'Create new user returned empty user')")
    made.check(user.get("userName") == email, "userName not echoed")
    made.check(user.get("active") is True, "active not true")
    made.check(user.get("externalId") == "00ujl29u0le5T6Aj10h7", "externalId not kept")
    made.check("password" not in user, "the password is returned (RFC 7643 4.1.1: returned never)")
    uid = user["id"]
    policy.expect(email, "allow")
    found = list_response(scim.request("GET", lookup), 1)
    if found[0].get("id") != uid:
        raise Failed(f"the filter found {found[0].get('id')}, not {uid}")
    print("a second assignment of the same user: 409 stops Okta's job")
    error_response(scim.request("POST", "/Users", create), 409)

    print("profile push: GET the user, then PUT it whole")
    got = scim.request("GET", f"/Users/{uid}", expect=200)
    got.check(got.json().get("id") == uid, "GET by id answers another user")
    put = {
        "schemas": [USER],
        "id": uid,
        "userName": email,
        "name": {"givenName": "Another", "middleName": "", "familyName": "User"},
        "emails": [{"primary": True, "value": email, "type": "work", "display": email}],
        "active": True,
        "groups": [],
        "meta": {"resourceType": "User"},
    }
    replaced = scim.request("PUT", f"/Users/{uid}", put, expect=200)
    replaced.check(replaced.json().get("name", {}).get("givenName") == "Another", "PUT did not replace name")
    replaced.check(replaced.json().get("active") is True, "PUT changed active")

    print("Push Groups: create, rename (id in the value), add the member, read it back")
    made = scim.request("POST", "/Groups", {"schemas": [GROUP], "displayName": "Test SCIM", "members": []},
                        expect=201)
    gid = made.json().get("id")
    made.check(isinstance(gid, str) and gid, "no group `id`")
    made.check(made.json().get("displayName") == "Test SCIM", "displayName not echoed")
    scim.request("GET", f"/Groups/{gid}", expect=200)
    rename = {"schemas": [PATCH], "Operations": [
        {"op": "replace", "value": {"id": gid, "displayName": "Test SCIM2"}}]}
    scim.request("PATCH", f"/Groups/{gid}", rename, expect=(200, 204))
    add = {"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": uid, "display": email}]}]}
    scim.request("PATCH", f"/Groups/{gid}", add, expect=(200, 204))
    group = scim.request("GET", f"/Groups/{gid}", expect=200)
    group.check(group.json().get("displayName") == "Test SCIM2", "the rename was lost")
    group.check(uid in member_ids(group.json()), "the member was not added")
    listed = list_response(scim.request("GET", "/Groups?startIndex=1&count=100"), 1)
    if listed[0].get("id") != gid:
        raise Failed("the group list does not hold the pushed group")

    print("unassignment: PATCH active false with no path (Okta never DELETEs users)")
    deactivate = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
    done = scim.request("PATCH", f"/Users/{uid}", deactivate, expect=(200, 204))
    if done.status == 200:
        done.check(done.json().get("active") is False, "the answer still says active")
    got = scim.request("GET", f"/Users/{uid}", expect=200)
    got.check(got.json().get("active") is False, "the user is still active")
    policy.expect(email, "principal_inactive")

    print("unlink the pushed group, deleting it in the app")
    scim.request("DELETE", f"/Groups/{gid}", expect=204)
    error_response(scim.request("GET", f"/Groups/{gid}"), 404)


def entra(scim, policy):
    """Microsoft Entra ID's provisioning service, with the SCIM-compliant behaviour the tenant URL
    flag `aadOptscim062020` selects, and the default (legacy) requests it still sends without it."""
    auth(scim)
    user_name = "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1"
    external_id = "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"
    email = "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"

    print("matching: by userName, and by externalId when mapped so")
    by_name = "/Users?filter=" + q(f'userName eq "{user_name}"')
    by_external = "/Users?filter=" + q(f'externalId eq "{external_id}"')
    list_response(scim.request("GET", by_name), 0)
    list_response(scim.request("GET", by_external), 0)

    print("create, with the enterprise extension in `schemas`")
    create = {
        "schemas": [USER, ENTERPRISE],
        "externalId": external_id,
        "userName": user_name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": email}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
    }
    made = scim.request("POST", "/Users", create, expect=201)
    user = made.json()
    made.check(isinstance(user.get("id"), str) and user["id"], "no `id`")
    made.check(user.get("userName") == user_name, "userName not echoed")
    made.check(user.get("externalId") == external_id, "externalId not kept")
    uid = user["id"]
    # userName is not an email here: the Gatehouse user is the primary work email (SPEC 2.6).
    policy.expect(email, "allow")
    for path in (by_name, by_external):
        found = list_response(scim.request("GET", path), 1)
        if found[0].get("id") != uid:
            raise Failed(f"{path} found {found[0].get('id')}, not {uid}")
    list_response(scim.request("GET", "/Users?filter=" + q('userName eq "non-existent user"')), 0)
    error_response(scim.request("POST", "/Users", create), 409)

    print("update: `Replace` (capitalised), a value-filtered path, a sub-attribute")
    new_email = "updatedEmail@microsoft.com"
    update = {"schemas": [PATCH], "Operations": [
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": new_email},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
    ]}
    scim.request("PATCH", f"/Users/{uid}", update, expect=(200, 204))
    got = scim.request("GET", f"/Users/{uid}", expect=200).json()
    emails = [e.get("value") for e in got.get("emails", [])]
    if new_email not in emails or got.get("name", {}).get("familyName") != "updatedFamilyName":
        raise Failed(f"the PATCH was not applied: {json.dumps(got)}")
    policy.expect(new_email, "allow")
    policy.expect(email, "principal_unknown")
    email = new_email

    print("update with the flag: several attributes in one value object")
    several = {"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": email},
        {"op": "replace", "value": {
            "displayName": "Bjfe",
            "name.givenName": "Kkom",
            "name.familyName": "Unua",
            f"{ENTERPRISE}:employeeNumber": "Aklq",
        }},
    ]}
    scim.request("PATCH", f"/Users/{uid}", several, expect=(200, 204))
    got = scim.request("GET", f"/Users/{uid}", expect=200).json()
    if got.get("displayName") != "Bjfe" or got.get("name", {}).get("givenName") != "Kkom":
        raise Failed(f"the value-object PATCH was not applied: {json.dumps(got)}")

    print("groups: create (Entra's own schema URN too), find by displayName without members")
    made = scim.request("POST", "/Groups", {
        "schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName",
        "meta": {"resourceType": "Group"},
    }, expect=201)
    gid = made.json().get("id")
    made.check(isinstance(gid, str) and gid, "no group `id`")
    found = list_response(scim.request(
        "GET", "/Groups?excludedAttributes=members&filter=" + q('displayName eq "displayName"')), 1)
    if found[0].get("id") != gid or "members" in found[0]:
        raise Failed(f"filtered group list: {json.dumps(found)}")
    got = scim.request("GET", f"/Groups/{gid}?excludedAttributes=members", expect=200)
    got.check("members" not in got.json(), "excludedAttributes=members still returns members")
    rename = {"schemas": [PATCH], "Operations": [
        {"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}]}
    scim.request("PATCH", f"/Groups/{gid}", rename, expect=(200, 204))

    print("membership: Add, remove by filter (flag), Add again, remove with a value list (legacy)")
    add = {"schemas": [PATCH], "Operations": [
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": uid}]}]}
    scim.request("PATCH", f"/Groups/{gid}", add, expect=(200, 204))
    group = scim.request("GET", f"/Groups/{gid}", expect=200).json()
    if uid not in member_ids(group) or not group.get("displayName", "").endswith("updatedDisplayName"):
        raise Failed(f"after Add: {json.dumps(group)}")
    remove = {"schemas": [PATCH], "Operations": [
        {"op": "remove", "path": f'members[value eq "{uid}"]'}]}
    scim.request("PATCH", f"/Groups/{gid}", remove, expect=(200, 204))
    if uid in member_ids(scim.request("GET", f"/Groups/{gid}", expect=200).json()):
        raise Failed("members[value eq ...] remove left the member in the group")
    scim.request("PATCH", f"/Groups/{gid}", add, expect=(200, 204))
    legacy_remove = {"schemas": [PATCH], "Operations": [
        {"op": "Remove", "path": "members", "value": [{"value": uid}]}]}
    answer = scim.request("PATCH", f"/Groups/{gid}", legacy_remove)
    left = uid in member_ids(scim.request("GET", f"/Groups/{gid}", expect=200).json())
    # RFC 7644 reads this as "remove every member"; either way the member must be gone, or the
    # request refused: never a success that keeps them.
    if answer.status in (200, 204) and left:
        answer.fail("a Remove with a value list succeeded but kept the member")
    if answer.status not in (200, 204, 400):
        answer.fail("the legacy Remove is neither applied nor refused with 400")

    print("disable: flag form (boolean), then the legacy form (the string \"False\")")
    disable = {"Operations": [{"op": "Replace", "path": "active", "value": False}], "schemas": [PATCH]}
    done = scim.request("PATCH", f"/Users/{uid}", disable, expect=(200, 204))
    if done.status == 200:
        done.check(done.json().get("active") is False, "the answer still says active")
    got = scim.request("GET", f"/Users/{uid}", expect=200)
    got.check(got.json().get("active") is False, "the user is still active")
    policy.expect(email, "principal_inactive")
    enable = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": True}]}
    scim.request("PATCH", f"/Users/{uid}", enable, expect=(200, 204))
    policy.expect(email, "allow")
    legacy = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
    answer = scim.request("PATCH", f"/Users/{uid}", legacy)
    still = scim.request("GET", f"/Users/{uid}", expect=200).json().get("active")
    if answer.status in (200, 204) and still is not False:
        answer.fail('"value": "False" was accepted but the user stays active')
    if answer.status not in (200, 204, 400):
        answer.fail('"value": "False" is neither applied nor refused with 400')
    if still is not False:
        scim.request("PATCH", f"/Users/{uid}", disable, expect=(200, 204))
    policy.expect(email, "principal_inactive")

    print("delete the user and the group")
    scim.request("DELETE", f"/Users/{uid}", expect=204)
    error_response(scim.request("GET", f"/Users/{uid}"), 404)
    list_response(scim.request("GET", by_name), 0)
    policy.expect(email, "principal_unknown")
    scim.request("DELETE", f"/Groups/{gid}", expect=204)
    error_response(scim.request("GET", f"/Groups/{gid}"), 404)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("idp", choices=("okta", "entra"))
    parser.add_argument("base_url")
    parser.add_argument("--bundle", help="the bundle the service publishes (--bundle-out)")
    parser.add_argument("--gatehouse", default="gatehouse", help="the gatehouse CLI")
    args = parser.parse_args()
    token = os.environ.get("SCIM_TOKEN")
    if not token:
        sys.exit("idp_replay.py: set SCIM_TOKEN to the tenant's bearer secret")
    if args.idp == "okta":
        scim = Scim(args.base_url, token, "Okta SCIM Client 1.0.0", "application/scim+json; charset=utf-8")
    else:
        scim = Scim(args.base_url, token, "Microsoft.Azure.AD.Provisioning", "application/scim+json")
    policy = Policy(args.bundle, args.gatehouse)
    try:
        (okta if args.idp == "okta" else entra)(scim, policy)
    except Failed as e:
        print(f"FAILED ({args.idp}): {e}", file=sys.stderr)
        sys.exit(1)
    print(f"{args.idp}: every request answered as the IdP expects")


if __name__ == "__main__":
    main()
