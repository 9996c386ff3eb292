// The `gatehouse` npm package, as packed (imported by its name, so Node picks the `node` export):
// every golden vector compiled and decided through it must give exactly what
// `gatehouse check --json` printed for the same case (exported by the CLI vector test,
// policy-compiler/tests/vectors.rs, with GATEHOUSE_VECTORS_EXPORT), and the same bundle bytes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as gatehouse from "gatehouse";

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} must be set (scripts/test.sh sets it)`);
  return value;
};
const repo = env("GATEHOUSE_REPO");
const vectors = JSON.parse(readFileSync(env("GATEHOUSE_VECTORS_FILE"), "utf8"));
const cli = env("GATEHOUSE_BIN");
const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

test("the export holds every case of every golden vector", () => {
  const dir = join(repo, "tests/vectors");
  let cases = 0;
  const names = [];
  for (const name of readdirSync(dir).sort()) {
    const file = join(dir, name, "requests.json");
    if (!existsSync(file)) continue;
    names.push(name);
    cases += JSON.parse(readFileSync(file, "utf8")).cases.length;
  }
  assert.deepEqual(vectors.map((v) => v.vector).sort(), names);
  assert.equal(vectors.reduce((n, v) => n + v.cases.length, 0), cases);
});

for (const vector of vectors) {
  test(`golden vector ${vector.vector}: ${vector.cases.length} cases as gatehouse check --json`, () => {
    const out = gatehouse.compile(vector.files, { revision: vector.revision, serial: vector.serial });
    assert.ok(out.bundle, `compile: ${JSON.stringify(out.diagnostics)}`);
    assert.equal(sha256(out.bundle), vector.bundle_sha256, "the bundle `gatehouse compile` wrote");
    const bundle = new gatehouse.Bundle(out.bundle);
    try {
      for (const c of vector.cases) {
        assert.deepEqual(bundle.check(c.request), c.cli, `[${vector.vector} / ${c.name}]`);
        // The one-call form loads the bytes once and gives the same answer.
        assert.deepEqual(gatehouse.check(out.bundle, c.request), c.cli, `[${vector.vector} / ${c.name}] check()`);
      }
    } finally {
      bundle.free();
    }
  });
}

const example = () => {
  const read = (p) => readFileSync(join(repo, p), "utf8");
  const keys = readdirSync(join(repo, "examples/acme/keys")).filter((n) => n.endsWith(".jwks.json"));
  return [
    { name: "acme/tenant.yaml", text: read("examples/acme/tenant.yaml") },
    { name: "gateway.yaml", text: read("examples/gateway.yaml") },
    ...keys.map((k) => ({ name: `acme/keys/${k}`, text: read(`examples/acme/keys/${k}`) })),
  ];
};

test("diagnostics name the file, line and column gatehouse compile names", () => {
  const files = example();
  files[0].text = files[0].text.replace("role: model-consumer}", "role: no-such-role}");
  const out = gatehouse.compile(files);
  assert.equal(out.bundle, undefined);
  assert.ok(out.diagnostics.length > 0);
  const [d] = out.diagnostics;
  assert.equal(d.file, "acme/tenant.yaml");
  const line = files[0].text.split("\n").findIndex((l) => l.includes("no-such-role")) + 1;
  assert.equal(d.line, line);
  assert.ok(d.column > 0);
  assert.match(d.message, /no-such-role/);
  // No tenant file at all.
  assert.deepEqual(gatehouse.compile([files[1]]).diagnostics.map((x) => x.message), ["no tenant files given"]);
  // A jwks_file that is not among the files.
  const missing = gatehouse.compile(files.filter((f) => !f.name.includes("acme-cp.jwks"))).diagnostics;
  assert.match(missing[0].message, /cannot read JWKS file `acme\/keys\/acme-cp.jwks.json`: no such file among the sources/);
});

test("mintToken signs what gatehouse token mint signs, and the engine accepts it", () => {
  const key = readFileSync(join(repo, "examples/acme/keys/acme-cp.private.jwk.json"), "utf8");
  const now = "2026-12-01T00:00:00Z";
  const token = gatehouse.mintToken(key, {
    issuer: "https://acme.cp.example.com", tenant: "acme", sub: "user:carol@acme.com",
    ttl: "1h", jti: "t-1", aud: "api://gateway", claims: { team: "x" }, now,
  });
  const fromCli = execFileSync(cli, ["token", "mint", "--key", join(repo, "examples/acme/keys/acme-cp.private.jwk.json"),
    "--issuer", "https://acme.cp.example.com", "--tenant", "acme", "--sub", "user:carol@acme.com",
    "--ttl", "1h", "--jti", "t-1", "--aud", "api://gateway", "--claim", "team=x", "--now", now]).toString().trim();
  assert.equal(token, fromCli);
  const { bundle } = gatehouse.compile(example());
  const answer = gatehouse.check(bundle, {
    method: "POST", path: "/api/llm/v1/chat/completions", token, now: "2026-12-01T00:10:00Z",
    body: { model: "openai-main/gpt-4o" },
  });
  assert.equal(answer.decision, "allow");
  assert.equal(answer.principal, "user:carol@acme.com");
});

test("whoCan and whatCan answer from the bundle", () => {
  const { bundle } = gatehouse.compile(example());
  const who = gatehouse.whoCan(bundle, { resource: "model:openai-main/gpt-4o", action: "use", now: "2026-12-01T00:00:00Z" });
  assert.equal(who.resource, "model:openai-main/gpt-4o");
  assert.ok(who.allowed.some((a) => a.principal === "user:carol@acme.com"));
  const what = gatehouse.whatCan(bundle, { principal: "user:carol@acme.com", now: "2026-12-01T00:00:00Z" });
  assert.ok(what.allowed.some((a) => a.resource === "model:openai-main/gpt-4o" && a.action === "use"));
  assert.throws(() => gatehouse.whoCan(bundle, { resource: "model:nope", action: "use" }), /nope/);
  assert.equal(gatehouse.inspect(bundle).tenants[0].name, "acme");
});

test("toolsList answers as gatehouse check --tools-list --json", () => {
  const { bundle } = gatehouse.compile(example());
  const now = "2026-12-01T00:00:00Z";
  const list = gatehouse.toolsList(bundle, { server: "github", as: "user:carol@acme.com", now });
  assert.deepEqual(list.shown, ["create_issue", "list_pull_requests", "search_code"]);
  assert.equal(list.tools.find((t) => t.name === "delete_repo").reason, "resource_disabled");
  const file = join(process.env.TMPDIR ?? "/tmp", `gatehouse-tools-${process.pid}.bundle`);
  writeFileSync(file, bundle);
  const fromCli = JSON.parse(execFileSync(cli, ["check", "--bundle", file, "--as", "user:carol@acme.com",
    "--tools-list", "github", "--now", now, "--json"]).toString());
  assert.deepEqual(list, fromCli);
  const none = gatehouse.toolsList(bundle, { server: "jira", as: "user:carol@acme.com", now });
  assert.equal(none.list.reason, "no_grant");
  assert.deepEqual(none.shown, []);
});
