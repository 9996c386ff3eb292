#!/usr/bin/env python3
"""Runs scim2-tester's checker (Python `scim2-tester`, pinned by `ensure_scim_tester` in
scripts/lib.sh) against one tenant of a running `gatehouse directory serve`.

    SCIM_TOKEN=... conformance.py BASE_URL [--json FILE]

BASE_URL is the tenant's SCIM root, e.g. http://127.0.0.1:PORT/scim/v2/acme/ (the trailing slash
matters: endpoints are resolved against it). The bearer secret comes from the environment, never
the command line. Prints one line per check (status, category, resource type, title, reason), then
the counts per category and status; with --json also writes every result to FILE for the caller
(cli/tests/scim_conformance.rs) to judge. Exits 0 whatever the results: judging them, and listing
the checks that do not apply, is the caller's job.
"""

import argparse
import json
import os
import sys
from collections import Counter

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

# The tag that names what a check is about: discovery checks carry "discovery" plus the endpoint.
DISCOVERY = ("service-provider-config", "resource-types", "schemas")


def users_are_emails():
    """Makes the userName values the checker invents email addresses.

    A Gatehouse user is an email (SPEC 2.6: `userName`, or the primary email, is the user's
    email), so the service refuses a User whose userName is not an email and who has no email
    (400 invalidValue). scim2-tester fills userName with a random UUID and, for the User it
    creates first, sends no emails, which would fail every User check for that one reason. Its
    random userName values get an email domain instead: `<uuid>@scim2-tester.test`. Nothing else
    the checker sends or checks changes.
    """
    import scim2_tester.checkers.patch_add as patch_add
    import scim2_tester.checkers.patch_replace as patch_replace
    import scim2_tester.filling as filling

    original = filling.generate_random_value

    def generate_random_value(context, path, mutability=None, required=None):
        value = original(context, path, mutability=mutability, required=required)
        if str(path).split(":")[-1] == "userName" and isinstance(value, str) and "@" not in value:
            value = f"{value}@scim2-tester.test"
        return value

    for module in (filling, patch_add, patch_replace):
        module.generate_random_value = generate_random_value


def category(tags):
    tags = set(tags) - {"*"}
    for tag in DISCOVERY:
        if tag in tags:
            return "discovery:" + tag
    rest = sorted(tags - {"discovery"})
    return rest[0] if rest else "discovery" if "discovery" in tags else "other"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url")
    parser.add_argument("--json", help="write every result to this file")
    args = parser.parse_args()
    token = os.environ.get("SCIM_TOKEN")
    if not token:
        sys.exit("conformance.py: set SCIM_TOKEN to the tenant's bearer secret")

    http = Client(
        base_url=args.base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    client = SyncSCIMClient(http)
    users_are_emails()
    results = check_server(client)

    rows = []
    for r in results:
        rows.append(
            {
                "status": r.status.name,
                "category": category(r.tags),
                "resource_type": r.resource_type,
                "title": r.title,
                "reason": r.reason,
                "tags": sorted(r.tags),
            }
        )
        rt = r.resource_type or "-"
        print(f"{r.status.name:<10} {category(r.tags):<32} {rt:<6} {r.title}: {r.reason or ''}")

    counts = Counter((row["category"], row["status"]) for row in rows)
    statuses = [s.name for s in Status if any(row["status"] == s.name for row in rows)]
    print()
    print("| category | " + " | ".join(statuses) + " |")
    print("|---|" + "---|" * len(statuses))
    for cat in sorted({row["category"] for row in rows}):
        print(f"| {cat} | " + " | ".join(str(counts[(cat, s)]) for s in statuses) + " |")
    total = Counter(row["status"] for row in rows)
    print("| total | " + " | ".join(str(total[s]) for s in statuses) + " |")

    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"results": rows, "version": scim2_tester_version()}, f, indent=1)


def scim2_tester_version():
    from importlib.metadata import version

    return {p: version(p) for p in ("scim2-tester", "scim2-client", "scim2-models")}


if __name__ == "__main__":
    main()
