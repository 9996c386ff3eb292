// The playground: every answer comes from the `gatehouse` package (the compiler and the engine
// compiled to WebAssembly). The page only keeps the state, renders it and shares it.
import * as gatehouse from "./pkg/index.js";
import { EXAMPLE } from "./example.js";

const $ = (id) => document.getElementById(id);
const FIELDS = ["tenant", "gateway", "as", "token", "method", "path", "host", "headers", "body", "now"];

/** The example: `examples/acme` and `examples/gateway.yaml`, carol's chat request. */
function exampleState() {
  return {
    tenant: EXAMPLE.tenant.text,
    gateway: EXAMPLE.gateway.text,
    identity: "as",
    as: "user:carol@acme.com",
    token: "",
    method: "POST",
    path: "/api/llm/v1/chat/completions",
    host: "",
    headers: "",
    body: '{"model": "openai-main/gpt-4o"}',
    now: "",
    whoResource: "model:openai-main/gpt-4o",
    whoAction: "use",
    toolsServer: "github",
  };
}

function readState() {
  const state = {};
  for (const f of FIELDS) state[f] = $(f).value;
  state.identity = document.querySelector("input[name=identity]:checked").value;
  state.whoResource = $("who-resource").value;
  state.whoAction = $("who-action").value;
  state.toolsServer = $("tools-server").value;
  return state;
}

function writeState(state) {
  const full = { ...exampleState(), ...state };
  for (const f of FIELDS) $(f).value = full[f] ?? "";
  for (const r of document.querySelectorAll("input[name=identity]")) r.checked = r.value === full.identity;
  $("who-resource").value = full.whoResource ?? "";
  $("who-action").value = full.whoAction ?? "";
  $("tools-server").value = full.toolsServer ?? "";
}

// ---------------------------------------------------------------------------------------------
// Compiling and deciding.

let compiled = { key: null, bundle: null, diagnostics: [] };

function files(state) {
  return [
    { name: EXAMPLE.tenant.name, text: state.tenant, kind: "tenant" },
    { name: EXAMPLE.gateway.name, text: state.gateway, kind: "gateway" },
    ...EXAMPLE.files.map((f) => ({ ...f, kind: "file" })),
  ];
}

/** Compiles when the sources changed since the last run. */
function compileState(state) {
  const key = state.tenant + "\u0000" + state.gateway;
  if (compiled.key === key) return compiled;
  const started = performance.now();
  const out = gatehouse.compile(files(state));
  document.body.dataset.compileMs = (performance.now() - started).toFixed(2);
  compiled.bundle?.free();
  compiled = out.bundle
    ? { key, bundle: new gatehouse.Bundle(out.bundle), diagnostics: [] }
    : { key, bundle: null, diagnostics: out.diagnostics };
  return compiled;
}

function request(state) {
  const req = { method: state.method, path: state.path };
  if (state.host.trim()) req.host = state.host.trim();
  if (state.identity === "as") {
    if (state.as.trim()) req.as = state.as.trim();
  } else if (state.token.trim()) {
    req.token = state.token.trim();
  }
  const headers = state.headers.split("\n").filter((l) => l.trim());
  req.headers = headers.map((line) => {
    const at = line.indexOf(":");
    if (at < 0) throw new Error(`header \`${line}\` is not \`name: value\``);
    return [line.slice(0, at).trim(), line.slice(at + 1).trim()];
  });
  if (state.body !== "") req.body = state.body;
  if (state.now.trim()) req.now = state.now.trim();
  return req;
}

let decided = 0;

function update() {
  const state = readState();
  const { bundle, diagnostics } = compileState(state);
  renderDiagnostics(diagnostics, state);
  if (!bundle) {
    renderResult({ error: `no bundle: ${diagnostics.length} error(s) in the policy` });
    return;
  }
  try {
    const started = performance.now();
    const answer = bundle.check(request(state));
    document.body.dataset.checkMs = (performance.now() - started).toFixed(3);
    renderResult({ answer });
  } catch (e) {
    renderResult({ error: String(e.message ?? e) });
  }
  if (decided++ === 0) document.body.dataset.firstDecisionMs = performance.now().toFixed(1);
}

// ---------------------------------------------------------------------------------------------
// Rendering.

function renderResult({ answer, error }) {
  const panel = $("result");
  panel.dataset.decision = answer ? answer.decision : "error";
  panel.dataset.status = answer ? String(answer.status) : "";
  panel.dataset.reason = answer?.reason ?? "";
  $("decision").textContent = answer ? answer.decision : "error";
  $("http-status").textContent = answer ? String(answer.status) : "";
  $("reason").textContent = answer?.reason ?? "";
  const facts = $("facts");
  facts.replaceChildren();
  for (const name of ["tenant", "principal", "route", "resource", "action", "grant"]) {
    if (!answer || answer[name] === null || answer[name] === undefined) continue;
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = answer[name];
    dd.id = `fact-${name}`;
    facts.append(dt, dd);
  }
  $("summary").textContent = answer?.explain?.summary ?? "";
  $("explanation").hidden = !answer?.explain;
  $("explain").textContent = answer?.explain ? JSON.stringify(answer.explain, null, 2) : "";
  $("result-json").textContent = answer ? JSON.stringify(answer) : "";
  $("error").hidden = !error;
  $("error").textContent = error ?? "";
}

function renderDiagnostics(diagnostics, state) {
  $("diagnostics").hidden = diagnostics.length === 0;
  const list = $("diagnostic-list");
  list.replaceChildren();
  for (const d of diagnostics) {
    const li = document.createElement("li");
    li.className = "diagnostic";
    li.dataset.file = d.file;
    li.dataset.line = String(d.line);
    li.dataset.column = String(d.column);
    li.textContent = `${d.file}:${d.line}:${d.column}: ${d.message}`;
    const editor = editorOf(d.file);
    const lineText = editor && d.line > 0 ? (state[editor].split("\n")[d.line - 1] ?? "") : null;
    if (lineText !== null) {
      const pre = document.createElement("pre");
      pre.textContent = `${String(d.line).padStart(4)} | ${lineText}\n     | ${" ".repeat(Math.max(d.column - 1, 0))}^`;
      li.append(pre);
      li.addEventListener("click", () => showLine(editor, d.line, d.column));
    }
    list.append(li);
  }
}

function editorOf(file) {
  if (file === EXAMPLE.tenant.name) return "tenant";
  if (file === EXAMPLE.gateway.name) return "gateway";
  return null;
}

/** Selects `line:column` in an editor and scrolls it into view. */
function showLine(editor, line, column) {
  const area = $(editor);
  const lines = area.value.split("\n");
  let offset = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) offset += lines[i].length + 1;
  const end = offset + (lines[line - 1]?.length ?? 0);
  area.focus();
  area.setSelectionRange(Math.min(offset + Math.max(column - 1, 0), end), end);
  const lineHeight = parseFloat(getComputedStyle(area).lineHeight) || 17;
  area.scrollTop = Math.max(0, (line - 4) * lineHeight);
}

function renderWhoCan() {
  const out = $("who-can");
  out.replaceChildren();
  const { bundle } = compiled;
  const resource = $("who-resource").value.trim();
  const action = $("who-action").value.trim();
  if (!bundle || !resource || !action) return;
  const now = $("now").value.trim() || undefined;
  try {
    const answer = bundle.whoCan({ resource, action, now });
    const list = (title, items, text) => {
      const h = document.createElement("h3");
      h.textContent = `${title} (${items.length})`;
      const ul = document.createElement("ul");
      for (const item of items) {
        const li = document.createElement("li");
        li.textContent = text(item);
        ul.append(li);
      }
      out.append(h, ul);
    };
    list("allowed", answer.allowed, (a) => `${a.principal} — ${a.grant}`);
    list("blocked by narrowing", answer.blocked, (b) => `${b.principal} — ${b.reason}`);
    out.dataset.allowed = String(answer.allowed.length);
  } catch (e) {
    const p = document.createElement("p");
    p.className = "error";
    p.textContent = String(e.message ?? e);
    out.append(p);
    out.dataset.allowed = "";
  }
}

function renderToolsList() {
  const out = $("tools-list");
  out.replaceChildren();
  const { bundle } = compiled;
  const server = $("tools-server").value.trim();
  if (!bundle || !server) return;
  try {
    const { as, token, host, headers, now } = request(readState());
    const answer = bundle.toolsList({ server, as, token, host, headers, now });
    const p = document.createElement("p");
    p.id = "tools-verdict";
    p.textContent = answer.list.allowed
      ? `tools/list ${answer.path}: allowed`
      : `tools/list ${answer.path}: denied (${answer.list.reason}), the client gets no list`;
    out.append(p);
    const ul = document.createElement("ul");
    for (const tool of answer.tools) {
      const li = document.createElement("li");
      const shown = answer.shown.includes(tool.name);
      li.className = shown ? "tool shown" : "tool trimmed";
      li.dataset.tool = tool.name;
      li.textContent = shown
        ? `${tool.name} — shown (${tool.grant})`
        : `${tool.name} — trimmed (${tool.reason ?? "the list is denied"})`;
      ul.append(li);
    }
    out.append(ul);
    out.dataset.shown = String(answer.shown.length);
  } catch (e) {
    const p = document.createElement("p");
    p.className = "error";
    p.textContent = String(e.message ?? e);
    out.append(p);
    out.dataset.shown = "";
  }
}

// ---------------------------------------------------------------------------------------------
// Share links: the whole state in the URL fragment, `#s=` deflate-raw + base64url (`#j=`: plain
// base64url JSON where CompressionStream is missing).

function toBase64Url(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64Url(text) {
  const s = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

async function through(stream, bytes) {
  const out = new Blob([bytes]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(out).arrayBuffer());
}

async function shareFragment(state) {
  const json = new TextEncoder().encode(JSON.stringify(state));
  if (typeof CompressionStream === "function") {
    return `#s=${toBase64Url(await through(new CompressionStream("deflate-raw"), json))}`;
  }
  return `#j=${toBase64Url(json)}`;
}

async function stateFromFragment(hash) {
  const m = /^#([sj])=(.+)$/.exec(hash);
  if (!m) return null;
  let bytes = fromBase64Url(m[2]);
  if (m[1] === "s") bytes = await through(new DecompressionStream("deflate-raw"), bytes);
  return JSON.parse(new TextDecoder().decode(bytes));
}

async function share() {
  const url = new URL(location.href);
  url.hash = await shareFragment(readState());
  history.replaceState(null, "", url);
  $("share").dataset.url = url.href;
  try {
    await navigator.clipboard.writeText(url.href);
    $("status").textContent = "share link copied";
  } catch {
    $("status").textContent = "share link in the address bar";
  }
}

async function restore() {
  try {
    const state = await stateFromFragment(location.hash);
    if (state) {
      writeState(state);
      $("status").textContent = "restored from the link";
    }
  } catch (e) {
    $("status").textContent = `the link could not be read: ${e.message ?? e}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Wiring.

function mint() {
  const { bundle } = compiled;
  const subject = $("as").value.trim();
  if (!bundle || !subject) return;
  try {
    const tenant = bundle.inspect().tenants[0];
    const now = $("now").value.trim() || undefined;
    $("token").value = gatehouse.mintToken(EXAMPLE.privateKey, {
      issuer: tenant.issuer, tenant: tenant.name, sub: subject, ttl: "1h", now,
    });
    for (const r of document.querySelectorAll("input[name=identity]")) r.checked = r.value === "token";
    update();
  } catch (e) {
    renderResult({ error: String(e.message ?? e) });
  }
}

let timer = 0;
function scheduleUpdate() {
  clearTimeout(timer);
  timer = setTimeout(() => { update(); renderWhoCan(); renderToolsList(); }, 120);
}

async function main() {
  $("files").textContent = EXAMPLE.files.map((f) => f.name).join(", ");
  writeState(exampleState());
  if (location.hash) await restore();
  update();
  renderWhoCan();
  renderToolsList();
  for (const el of document.querySelectorAll("textarea, input")) el.addEventListener("input", scheduleUpdate);
  $("request").addEventListener("submit", (e) => { e.preventDefault(); update(); });
  $("who-can-form").addEventListener("submit", (e) => { e.preventDefault(); renderWhoCan(); });
  $("tools-form").addEventListener("submit", (e) => { e.preventDefault(); renderToolsList(); });
  $("share").addEventListener("click", share);
  $("mint").addEventListener("click", mint);
  $("reset").addEventListener("click", () => { writeState(exampleState()); history.replaceState(null, "", location.pathname); update(); renderWhoCan(); renderToolsList(); });
  window.addEventListener("hashchange", async () => { await restore(); update(); renderWhoCan(); renderToolsList(); });
  // For tests and measurements: the package and the page's own update, on the page's state.
  window.playground = { gatehouse, files: () => files(readState()), update, shareFragment, readState };
  document.body.dataset.ready = "true";
}

main();
