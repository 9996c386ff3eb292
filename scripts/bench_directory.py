#!/usr/bin/env python3
"""Driver of scripts/bench-directory.sh (run that; it builds and passes the paths): SCIM
provisioning into a running Envoy, measured end to end with the real service, the real filter and
the real Envoy, standard library only.

For each tenant size N:

1. a fresh `gatehouse directory serve` (fresh database, a policy directory holding
   tests/fixtures/scim/initech.yaml) publishing the ECDS file an Envoy watches;
2. N users created over SCIM, one POST /Users each (as Okta provisions), by CONCURRENCY client
   threads on keep-alive connections: SCIM writes per second over the burst (and over its first
   10,000 writes), then the time from the burst's last answer until the published bundle
   (--bundle-out) knows the last user (`gatehouse check --as`);
3. Envoy (1 worker) started on the ECDS file; every round takes another provisioned user, mints a
   control-plane token for them, requires 200 for it through Envoy, then keeps requesting with it
   in a tight loop on one keep-alive connection while the SCIM PATCH `active: false` (Okta's
   path-less form) is sent; the figure is the time from the PATCH's answer until Envoy's first
   401/403 for that token (whose reason must be principal_inactive).

Prints a Markdown table and writes it and the raw samples (JSON) to --out.
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

TENANT = "initech"
ISSUER = "https://cp.initech.test"
ROUTE = "/api/prompts/prompts/summarize"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GOAL_RATE = 500
GOALS_P99 = ((1000, 2.0), (100000, 5.0))  # (up to this many users, p99 seconds)


class BenchError(Exception):
    pass


def email(i):
    return f"u{i:06d}@initech.test"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


class Http:
    """One keep-alive HTTP/1.1 connection that reconnects when the server closed it."""

    def __init__(self, host, port, timeout=30):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn = None
        self.last_retry_after = None

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/scim+json"
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                self.last_retry_after = resp.getheader("retry-after")
                if resp.getheader("connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return resp.status, raw
            except (http.client.HTTPException, ConnectionError, OSError):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


class Service:
    def __init__(self, args, work, size):
        self.args = args
        self.dir = os.path.join(work, f"n{size}")
        subprocess.run(["rm", "-rf", self.dir], check=True)
        self.policy = os.path.join(self.dir, "policy")
        os.makedirs(self.policy)
        with open(args.tenant, "rb") as src, open(os.path.join(self.policy, "initech.yaml"), "wb") as dst:
            dst.write(src.read())
        self.db = os.path.join(self.dir, "directory.db")
        self.ecds_dir = os.path.join(self.dir, "envoy")
        os.makedirs(self.ecds_dir)
        self.ecds = os.path.join(self.ecds_dir, "gatehouse-filter.yaml")
        self.bundle = os.path.join(self.dir, "published.bundle")
        self.token = subprocess.run(
            [args.gatehouse, "directory", "token", "--db", self.db, "--tenant", TENANT],
            check=True, capture_output=True, text=True).stdout.strip()
        cmd = [args.gatehouse, "directory", "serve", "--policy", self.policy, "--db", self.db,
               "--listen", "127.0.0.1:0", "--gateway", args.gateway, "--publish", self.ecds,
               "--wasm", args.wasm, "--bundle-out", self.bundle]
        if args.debounce_ms is not None:
            cmd += ["--debounce-ms", str(args.debounce_ms)]
        if args.rate_limit:
            cmd += ["--rate-limit", str(args.rate_limit), "--rate-burst", str(args.rate_limit)]
        self.log_path = os.path.join(self.dir, "service.log")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(self.log_path, "wb"), text=True)
        line = read_line(self.proc.stdout, 60)
        if not line or not line.startswith("listening on http://"):
            self.stop()
            raise BenchError(f"directory serve did not start ({line!r}); see {self.log_path}")
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()
        url = urllib.parse.urlsplit(line.split(" ", 2)[2].strip())
        self.host, self.port = url.hostname, url.port
        self.root = f"/scim/v2/{TENANT}"

    def client(self):
        return Http(self.host, self.port)

    def auth(self):
        return {"Authorization": f"Bearer {self.token}"}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def read_line(stream, timeout):
    box = []
    t = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    t.start()
    t.join(timeout)
    return box[0].strip() if box else None


def burst(service, size, concurrency):
    """Creates users 0..size-1, one POST each; returns (ids, seconds, first-10k seconds, end time)."""
    ids = [None] * size
    lock = threading.Lock()
    state = {"next": 0, "done": 0, "t10k": None, "error": None, "last": 0.0, "throttled": 0}
    start = time.perf_counter()

    def work():
        http = service.client()
        while True:
            with lock:
                i = state["next"]
                if i >= size or state["error"]:
                    return
                state["next"] += 1
            body = {
                "schemas": [USER],
                "userName": email(i),
                "name": {"givenName": "U", "familyName": str(i)},
                "emails": [{"primary": True, "value": email(i), "type": "work"}],
                "displayName": f"U {i}",
                "externalId": f"00u{i:06d}",
                "groups": [],
                "active": True,
            }
            while True:
                try:
                    status, raw = http.request("POST", service.root + "/Users", body, service.auth())
                except Exception as e:  # noqa: BLE001 - any failure ends the burst with its reason
                    with lock:
                        state["error"] = f"POST {email(i)}: {e}"
                    return
                if status != 429:
                    break
                # Over the service's per-tenant rate limit: wait as told, as Okta and Entra do.
                with lock:
                    state["throttled"] += 1
                time.sleep(min(float(http.last_retry_after or 1), 5))
            now = time.perf_counter()
            if status != 201:
                with lock:
                    state["error"] = f"POST {email(i)}: {status} {raw[:300]!r}"
                return
            ids[i] = json.loads(raw)["id"]
            with lock:
                state["done"] += 1
                state["last"] = max(state["last"], now)
                if state["done"] == 10000:
                    state["t10k"] = now - start

    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    for t in threads:
        t.start()
    last_report = time.monotonic()
    while any(t.is_alive() for t in threads):
        time.sleep(0.2)
        if time.monotonic() - last_report > 10:
            last_report = time.monotonic()
            print(f"    {state['done']}/{size} users", file=sys.stderr, flush=True)
    for t in threads:
        t.join()
    if state["error"]:
        raise BenchError(state["error"])
    return ids, state["last"] - start, state["t10k"], state["last"], state["throttled"]


def check(args, bundle, mail):
    out = subprocess.run(
        [args.gatehouse, "check", "--bundle", bundle, "--as", f"user:{mail}", "--method", "GET",
         "--path", ROUTE, "--json"], capture_output=True, text=True)
    try:
        got = json.loads(out.stdout)
    except ValueError:
        return None
    return "allow" if got.get("decision") == "allow" else got.get("reason")


def wait_published(args, service, mail, since, timeout):
    """Seconds from `since` until the published bundle allows `mail`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(service.bundle) and os.path.exists(service.ecds) \
                and check(args, service.bundle, mail) == "allow":
            return time.perf_counter() - since
        time.sleep(0.02)
    raise BenchError(f"no published bundle allowed {mail} within {timeout} s; see {service.log_path}")


class Envoy:
    def __init__(self, args, service):
        self.port, self.admin = free_port(), free_port()
        config = os.path.join(service.dir, "envoy.yaml")
        with open(config, "w") as f:
            subprocess.run(
                [args.gatehouse, "envoy-config", "--kind", "ecds-bootstrap", "--ecds-path", service.ecds,
                 "--listen", f"127.0.0.1:{self.port}", "--admin", f"127.0.0.1:{self.admin}"],
                check=True, stdout=f)
        self.log_path = os.path.join(service.dir, "envoy.log")
        self.proc = subprocess.Popen(
            [args.envoy, "-c", config, "--concurrency", "1", "--use-dynamic-base-id",
             "--log-path", self.log_path],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        admin = Http("127.0.0.1", self.admin, timeout=2)
        while time.monotonic() < deadline:
            try:
                if admin.request("GET", "/ready")[1].strip() == b"LIVE":
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise BenchError(f"Envoy did not become ready; see {self.log_path}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def mint(args, mail):
    return subprocess.run(
        [args.gatehouse, "token", "mint", "--key", args.key, "--issuer", ISSUER, "--tenant", TENANT,
         "--sub", f"user:{mail}", "--ttl", "2h"], check=True, capture_output=True, text=True).stdout.strip()


def deactivation_round(args, service, envoy, uid, mail, token, timeout):
    """Seconds from the PATCH's answer until Envoy's first 401/403 for the token."""
    headers = {"Authorization": f"Bearer {token}"}
    gw = Http("127.0.0.1", envoy.port)
    deadline = time.monotonic() + timeout
    while True:
        status, raw = gw.request("GET", ROUTE, headers=headers)
        if status == 200:
            break
        if time.monotonic() > deadline:
            raise BenchError(f"{mail} is not allowed through Envoy before the PATCH: {status} {raw[:200]!r}")
        time.sleep(0.05)

    seen = {}
    stop = threading.Event()

    def hammer():
        requests = 0
        while not stop.is_set():
            status, raw = gw.request("GET", ROUTE, headers=headers)
            requests += 1
            if status in (401, 403):
                seen.update(at=time.perf_counter(), status=status, body=raw, requests=requests)
                return
            if status != 200:
                seen.update(error=f"{status} {raw[:200]!r}")
                return
        seen.update(requests=requests)

    t = threading.Thread(target=hammer)
    t.start()
    time.sleep(0.05)  # the loop is running before the change is sent
    scim = service.client()
    body = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
    status, raw = scim.request("PATCH", f"{service.root}/Users/{uid}", body, service.auth())
    answered = time.perf_counter()
    if status not in (200, 204):
        stop.set()
        t.join()
        raise BenchError(f"PATCH {mail}: {status} {raw[:300]!r}")
    t.join(timeout)
    stop.set()
    t.join()
    if "error" in seen:
        raise BenchError(f"{mail} through Envoy: {seen['error']}")
    if "at" not in seen:
        raise BenchError(f"Envoy still allowed {mail} {timeout} s after the PATCH's answer")
    reason = json.loads(seen["body"]).get("reason")
    if reason != "principal_inactive":
        raise BenchError(f"{mail} refused with {seen['status']} {reason}, not principal_inactive")
    return max(0.0, seen["at"] - answered), seen["requests"]


def run_size(args, size):
    print(f"== {size} users", file=sys.stderr, flush=True)
    service = Service(args, args.work, size)
    envoy = None
    try:
        ids, seconds, t10k, last, throttled = burst(service, size, args.concurrency)
        rate = size / seconds
        rate10k = 10000 / t10k if t10k else None
        print(f"   burst: {size} POST /Users in {seconds:.2f} s = {rate:.0f}/s "
              f"({throttled} answered 429 and retried)", file=sys.stderr, flush=True)
        settle = wait_published(args, service, email(size - 1), last, args.publish_timeout)
        print(f"   published {settle:.2f} s after the burst's last answer", file=sys.stderr, flush=True)
        envoy = Envoy(args, service)
        rounds = min(args.rounds, size)
        samples, requests = [], []
        for r in range(rounds):
            i = r * size // rounds
            lat, n = deactivation_round(args, service, envoy, ids[i], email(i), mint(args, email(i)),
                                        args.round_timeout)
            samples.append(lat)
            requests.append(n)
        print(f"   {rounds} deactivations: p50 {percentile(samples, 50):.3f} s, "
              f"p99 {percentile(samples, 99):.3f} s", file=sys.stderr, flush=True)
        return {
            "users": size, "concurrency": args.concurrency, "burst_seconds": seconds,
            "writes_per_second": rate, "first_10k_writes_per_second": rate10k, "throttled": throttled,
            "publish_after_burst_seconds": settle, "rounds": rounds,
            "deactivation_seconds": samples, "requests_until_denied": requests,
            "p50": percentile(samples, 50), "p99": percentile(samples, 99), "max": max(samples),
        }
    finally:
        if envoy:
            envoy.stop()
        service.stop()


def goal_p99(size):
    for upto, goal in GOALS_P99:
        if size <= upto:
            return goal
    return GOALS_P99[-1][1]


def table(rows, args):
    lines = [
        f"SCIM deactivation to Envoy's first 401 (1 Envoy worker, {args.concurrency} concurrent SCIM "
        f"clients, Okta-style one POST per user; service --rate-limit {args.rate_limit or 'default'}, "
        f"--debounce-ms {args.debounce_ms if args.debounce_ms is not None else 'default'}; "
        f"{time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores)",
        "",
        "| users | SCIM writes/s (burst) | first 10,000 writes/s | published after burst | rounds "
        "| deactivation -> 401 p50 | p99 | max | p99 goal |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        first = f"{r['first_10k_writes_per_second']:.0f}" if r["first_10k_writes_per_second"] else "-"
        goal = goal_p99(r["users"])
        lines.append(
            f"| {r['users']:,} | {r['writes_per_second']:.0f} | {first} | "
            f"{r['publish_after_burst_seconds']:.2f} s | {r['rounds']} | {r['p50']:.3f} s | "
            f"{r['p99']:.3f} s | {r['max']:.3f} s | <= {goal:g} s {'met' if r['p99'] <= goal else 'MISSED'} |")
    rates = [r["first_10k_writes_per_second"] or r["writes_per_second"] for r in rows]
    lines.append("")
    lines.append(f"SCIM writes goal >= {GOAL_RATE}/s: "
                 + ("met" if all(x >= GOAL_RATE for x in rates) else "MISSED")
                 + f" (lowest {min(rates):.0f}/s)")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gatehouse", required=True)
    p.add_argument("--envoy", required=True)
    p.add_argument("--wasm", required=True)
    p.add_argument("--tenant", required=True, help="tests/fixtures/scim/initech.yaml")
    p.add_argument("--gateway", required=True)
    p.add_argument("--key", required=True, help="the tenant's control-plane private JWK")
    p.add_argument("--work", required=True)
    p.add_argument("--sizes", default="1000 100000")
    p.add_argument("--rounds", type=int, default=50)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--debounce-ms", type=int)
    p.add_argument("--rate-limit", type=float, help="the service's --rate-limit and --rate-burst")
    p.add_argument("--publish-timeout", type=float, default=600)
    p.add_argument("--round-timeout", type=float, default=30)
    args = p.parse_args()
    for name in ("gatehouse", "envoy", "wasm", "tenant", "gateway", "key", "work"):
        setattr(args, name, os.path.abspath(getattr(args, name)))
    os.makedirs(args.work, exist_ok=True)
    rows = []
    try:
        for size in map(int, args.sizes.split()):
            rows.append(run_size(args, size))
    except BenchError as e:
        print(f"bench-directory: {e}", file=sys.stderr)
        sys.exit(1)
    text = table(rows, args)
    print(text)
    with open(os.path.join(args.work, "results.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(args.work, "results.json"), "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
