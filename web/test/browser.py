#!/usr/bin/env python3
"""The playground in a real browser: headless Chromium driven over the W3C WebDriver protocol
(chromedriver, standard library only). Loads the built page (target/web/site), checks that its
decisions are exactly `gatehouse check --json`'s for golden-vector cases, edits the tenant and
sees the decision change, breaks it and sees the diagnostic `gatehouse compile` gives, opens a
share link and gets its decision back. Prints the browser figures of docs/benchmarks.md (cold
load to first decision, compile, one decision), which it measures but does not judge.

  web/test/browser.py --site target/web/site --gatehouse target/debug/gatehouse \
      --vectors target/web/vectors.json [--screenshot docs/images/playground.png]
"""

import argparse
import base64
import functools
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
passed = 0
failed = 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriver:
    """The few W3C WebDriver commands the test needs, over HTTP."""

    def __init__(self, chromedriver, chromium):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [chromedriver, f"--port={self.port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                self._call("GET", "/status")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("chromedriver did not start")
                time.sleep(0.1)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1400,1050",
                         "--no-first-run", "--disk-cache-size=1"],
            },
        }}}
        self.session = self._call("POST", "/session", caps)["sessionId"]

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return json.load(resp)["value"]
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"webdriver {method} {path}: {e.read().decode()[:500]}") from None

    def cmd(self, method, path, body=None):
        return self._call(method, f"/session/{self.session}{path}", body)

    def get(self, url):
        self.cmd("POST", "/url", {"url": url})

    def js(self, script, *args):
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def js_async(self, script, *args):
        return self.cmd("POST", "/execute/async", {"script": script, "args": list(args)})

    def find(self, css):
        found = self.cmd("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(found.values()))

    def click(self, css):
        self.cmd("POST", f"/element/{self.find(css)}/click", {})

    def type_into(self, css, text):
        element = self.find(css)
        self.cmd("POST", f"/element/{element}/clear", {})
        self.cmd("POST", f"/element/{element}/value", {"text": text})

    def screenshot(self, path):
        with open(path, "wb") as f:
            f.write(base64.b64decode(self.cmd("GET", "/screenshot")))

    def wait(self, script, timeout=15, *args):
        """Polls `script` until it returns something truthy."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.js(script, *args)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for: {script}")
            time.sleep(0.05)

    def quit(self):
        try:
            self.cmd("DELETE", "")
        finally:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print(f"ok - {name}")
    else:
        failed += 1
        print(f"not ok - {name}: {detail}")


class Server:
    """The built site on a loopback port, in this process."""

    def __init__(self, site):
        handler = functools.partial(Quiet, directory=site)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()


class Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".wasm": "application/wasm", ".js": "text/javascript"}

    def log_message(self, *args):
        pass


# Reading and setting the page.
RESULT = "const r = document.getElementById('result'); return r.dataset.decision ? " \
         "{decision: r.dataset.decision, status: r.dataset.status, reason: r.dataset.reason, " \
         "json: document.getElementById('result-json').textContent} : null;"
SET_FIELDS = """
const [fields, identity] = arguments;
for (const [id, value] of Object.entries(fields)) {
  const el = document.getElementById(id);
  el.value = value;
}
for (const r of document.querySelectorAll('input[name=identity]')) r.checked = r.value === identity;
document.getElementById('result').dataset.decision = '';
window.playground.update();
"""


def page_answer(driver):
    got = driver.wait(RESULT)
    return got, (json.loads(got["json"]) if got["json"] else None)


def set_request(driver, request, identity=None):
    headers = "\n".join(f"{n}: {v}" for n, v in request.get("headers", []))
    fields = {
        "method": request["method"], "path": request["path"], "host": request.get("host", ""),
        "headers": headers, "body": request.get("body", ""), "now": request.get("now", ""),
        "as": request.get("as", ""), "token": request.get("token", ""),
    }
    identity = identity or ("token" if "token" in request else "as")
    driver.js(SET_FIELDS, fields, identity)
    return page_answer(driver)


def cli_check(gatehouse, bundle, request):
    args = [gatehouse, "check", "--bundle", bundle, "--json",
            "--method", request["method"], f"--path={request['path']}"]
    if request.get("host"):
        args += ["--host", request["host"]]
    for n, v in request.get("headers", []):
        args += ["-H", f"{n}: {v}"]
    if "token" in request:
        args.append(f"--token={request['token']}")
    if "as" in request:
        args.append(f"--as={request['as']}")
    if "body" in request:
        args.append(f"--body={request['body']}")
    if "now" in request:
        args += ["--now", request["now"]]
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode not in (0, 2):
        raise RuntimeError(f"gatehouse check failed: {out.stderr}")
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--site", required=True)
    ap.add_argument("--gatehouse", required=True)
    ap.add_argument("--vectors", required=True)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    ap.add_argument("--screenshot")
    ap.add_argument("--measurements", help="write the figures to this JSON file")
    ap.add_argument("--cases", type=int, default=12, help="golden-vector cases replayed in the page")
    args = ap.parse_args()
    args.gatehouse = os.path.abspath(args.gatehouse)

    scratch = tempfile.mkdtemp(prefix="gatehouse-browser-")
    # Edited copies of the tenant file go here, beside the key sets its `jwks_file`s name.
    os.symlink(os.path.join(REPO, "examples/acme/keys"), os.path.join(scratch, "keys"))
    bundle = os.path.join(scratch, "acme.bundle")
    tenant = os.path.join(REPO, "examples/acme/tenant.yaml")
    gateway = os.path.join(REPO, "examples/gateway.yaml")
    subprocess.run([args.gatehouse, "compile", "--gateway", gateway, tenant, "-o", bundle,
                    "--serial", "1"], check=True, capture_output=True)

    server = Server(args.site)
    driver = WebDriver(args.chromedriver, args.chromium)
    figures = {}
    try:
        # Cold load: a new browser, the first visit. The page decides its example at once.
        driver.get(server.url)
        got, answer = page_answer(driver)
        figures["first_decision_ms"] = float(driver.wait(
            "return document.body.dataset.firstDecisionMs"))
        figures["first_compile_ms"] = float(driver.js("return document.body.dataset.compileMs"))
        example = {"method": "POST", "path": "/api/llm/v1/chat/completions",
                   "as": "user:carol@acme.com", "body": '{"model": "openai-main/gpt-4o"}'}
        want = cli_check(args.gatehouse, bundle, example)
        now = int(time.time())
        # The explanation and answer do not depend on the second the two ran in.
        check("the page decides its example on load, as gatehouse check --json",
              answer == want, f"page {answer}\n  cli  {want}")
        check("the result panel carries data-decision/status/reason",
              (got["decision"], got["status"], got["reason"]) == ("allow", "200", ""), got)
        who = driver.wait("return document.getElementById('who-can').dataset.allowed")
        check("who-can lists the principals allowed", int(who) > 0, who)
        # The tools/list panel: carol on the example's GitHub server, as gatehouse check
        # --tools-list names them.
        shown = driver.wait("const t = document.getElementById('tools-list'); "
                            "return t.dataset.shown ? [...t.querySelectorAll('li.shown')]"
                            ".map((li) => li.dataset.tool) : null")
        cli_tools = json.loads(subprocess.run(
            [args.gatehouse, "check", "--bundle", bundle, "--as", "user:carol@acme.com",
             "--tools-list", "github", "--json"], capture_output=True, text=True).stdout)
        check("the tools/list panel shows the tools gatehouse check --tools-list shows",
              shown == cli_tools["shown"] and len(shown) > 0, f"page {shown}, cli {cli_tools['shown']}")
        if args.screenshot:
            driver.screenshot(args.screenshot)

        # Golden-vector cases of the example tenant, entered in the form, against the CLI's
        # recorded answers.
        vectors = {v["vector"]: v for v in json.load(open(args.vectors))}
        cases = [c for c in vectors["examples"]["cases"]
                 if c["cli"]["tenant"] == "acme" and not c["request"].get("noContentType")
                 and len(c["request"].get("body", "")) < 2000]
        picked = cases[:: max(1, len(cases) // args.cases)][: args.cases]
        kinds = {"token" if "token" in c["request"] else "as" for c in picked}
        check(f"{len(picked)} golden cases picked, with tokens and subjects",
              len(picked) >= min(args.cases, 8) and kinds == {"token", "as"}, kinds)
        for case in picked:
            _, answer = set_request(driver, case["request"])
            check(f"golden [{case['name']}]", answer == case["cli"],
                  f"page {answer}\n  cli  {case['cli']}")

        # Edit the tenant: carol deactivated, the decision changes to what the CLI says.
        driver.click("#reset")
        driver.wait("return document.getElementById('result').dataset.decision === 'allow'")
        before = driver.js("return document.getElementById('tenant').value")
        edited = before.replace("- {email: carol@acme.com, role: model-consumer}",
                                "- {email: carol@acme.com, role: model-consumer, active: false}")
        check("the example has carol's user line", edited != before)
        # Type a real keystroke at the end, so the page's own input handler runs.
        driver.js("document.getElementById('tenant').value = arguments[0]", edited.rstrip("\n"))
        driver.cmd("POST", f"/element/{driver.find('#tenant')}/value", {"text": "\n"})
        got = driver.wait("const r = document.getElementById('result'); "
                          "return r.dataset.decision === 'deny' ? r.dataset.reason : null")
        with open(os.path.join(scratch, "tenant.yaml"), "w") as f:
            f.write(edited)
        edited_bundle = os.path.join(scratch, "edited.bundle")
        subprocess.run([args.gatehouse, "compile", "--gateway", gateway,
                        os.path.join(scratch, "tenant.yaml"), "-o", edited_bundle],
                       check=True, capture_output=True)
        want = cli_check(args.gatehouse, edited_bundle, example)
        check("editing the tenant changes the decision, as gatehouse check", 
              got == want["reason"] and want["decision"] == "deny", f"page {got}, cli {want}")

        # Break it: the diagnostic points at the line gatehouse compile names.
        broken = before.replace("- {email: carol@acme.com, role: model-consumer}",
                                "- {email: carol@acme.com, role: no-such-role}")
        driver.js("document.getElementById('tenant').value = arguments[0]", broken.rstrip("\n"))
        driver.cmd("POST", f"/element/{driver.find('#tenant')}/value", {"text": "\n"})
        diag = driver.wait("const d = document.querySelector('#diagnostic-list li');"
                           "return d && !document.getElementById('diagnostics').hidden ? "
                           "{line: d.dataset.line, column: d.dataset.column, text: d.textContent} : null")
        with open(os.path.join(scratch, "tenant.yaml"), "w") as f:
            f.write(broken)
        out = subprocess.run([args.gatehouse, "compile", "--gateway", gateway, "tenant.yaml",
                              "-o", os.path.join(scratch, "broken.bundle")],
                             capture_output=True, text=True, cwd=scratch)
        first = out.stderr.splitlines()[0] if out.stderr else ""
        where = f"tenant.yaml:{diag['line']}:{diag['column']}: error: "
        check("a broken tenant shows the diagnostic gatehouse compile prints",
              out.returncode != 0 and first.startswith(where)
              and first[len(where):] in diag["text"], f"page {diag}, cli {first}")
        check("the page has no decision without a bundle",
              driver.js("return document.getElementById('result').dataset.decision") == "error")

        # Share: dave and o3 (narrowed), through a link opened in a fresh page load.
        driver.click("#reset")
        driver.wait("return document.getElementById('result').dataset.decision === 'allow'")
        shared = {"method": "POST", "path": "/api/llm/v1/chat/completions",
                  "as": "user:dave@acme.com", "body": '{"model":"openai-main/o3"}'}
        set_request(driver, shared)
        driver.click("#share")
        url = driver.wait("return document.getElementById('share').dataset.url")
        driver.get("about:blank")
        driver.get(url)
        got, answer = page_answer(driver)
        want = cli_check(args.gatehouse, bundle, shared)
        check("a share link restores the state and its decision",
              answer == want and got["reason"] == "not_authorized_subject",
              f"page {answer}\n  cli  {want}")
        check("the share link is a compressed fragment", "#s=" in url, url[:80])

        # Figures, measured in the page on its own example (not judged here).
        figures.update(driver.js_async("""
const done = arguments[arguments.length - 1];
const g = window.playground.gatehouse, files = window.playground.files();
const t = [];
for (let i = 0; i < 30; i++) { const s = performance.now(); g.compile(files); t.push(performance.now() - s); }
t.sort((a, b) => a - b);
const bundle = new g.Bundle(g.compile(files).bundle);
const req = {method: 'POST', path: '/api/llm/v1/chat/completions', as: 'user:carol@acme.com',
             body: '{"model": "openai-main/gpt-4o"}', now: 1795000000};
for (let i = 0; i < 200; i++) bundle.check(req);
const n = 5000, s = performance.now();
for (let i = 0; i < n; i++) bundle.check(req);
const check_ms = (performance.now() - s) / n;
bundle.free();
const wasm = performance.getEntriesByType('resource').find(e => e.name.endsWith('.wasm'));
done({compile_median_ms: t[15], compile_max_ms: t[29], decision_mean_ms: check_ms,
      wasm_transfer_bytes: wasm ? wasm.transferSize : null,
      wasm_decoded_bytes: wasm ? wasm.decodedBodySize : null});
"""))
    finally:
        driver.quit()
        server.stop()
    wasm = os.path.join(args.site, "pkg", "gatehouse_web_bg.wasm")
    figures["wasm_bytes"] = os.path.getsize(wasm)
    print("browser figures: " + json.dumps(figures))
    if args.measurements:
        with open(args.measurements, "w") as f:
            json.dump(figures, f, indent=1)
    print(f"browser: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
