// The package's API over the wasm-bindgen glue (gatehouse_web.js): JavaScript values in and out,
// JSON text across the boundary. Every answer comes from Gatehouse's compiler and engine; nothing
// here decides.
import {
  compileJson,
  LoadedBundle,
  mintTokenJson,
} from "./gatehouse_web.js";

const encoder = new TextEncoder();

function unixSeconds(now) {
  if (now === undefined || now === null) return Math.floor(Date.now() / 1000);
  if (now instanceof Date) return Math.floor(now.getTime() / 1000);
  return now; // Unix seconds or RFC 3339 text, read by the engine's side
}

/** Compiles tenant files, JWK Set files and an optional gateway file. */
export function compile(files, options = {}) {
  const request = {
    files: files.map(({ name, text, kind }) =>
      kind === undefined ? { name, text } : { name, text, kind }),
    serial: options.serial ?? Math.floor(Date.now() / 1000),
  };
  if (options.revision !== undefined) request.revision = options.revision;
  const compiled = compileJson(JSON.stringify(request));
  try {
    const bundle = compiled.bundle;
    return bundle ? { bundle } : { diagnostics: JSON.parse(compiled.diagnostics) };
  } finally {
    compiled.free();
  }
}

/** A bundle loaded once, for many questions. Call `free()` when done with it. */
export class Bundle {
  constructor(bytes, options = {}) {
    this.inner = new LoadedBundle(bytes, JSON.stringify(options.trustedKeys ?? []));
  }

  check(request) {
    const { body, headers, now, ...rest } = request;
    const facts = { ...rest, now: unixSeconds(now), headers: headerList(headers) };
    let bytes;
    if (body === undefined || body === null) bytes = undefined;
    else if (body instanceof Uint8Array) bytes = body;
    else if (typeof body === "string") bytes = encoder.encode(body);
    else bytes = encoder.encode(JSON.stringify(body));
    return JSON.parse(this.inner.check(JSON.stringify(facts), bytes));
  }

  whoCan(query) {
    return JSON.parse(this.inner.whoCan(JSON.stringify({ ...query, now: unixSeconds(query.now) })));
  }

  whatCan(query) {
    return JSON.parse(this.inner.whatCan(JSON.stringify({ ...query, now: unixSeconds(query.now) })));
  }

  toolsList(query) {
    const { headers, now, ...rest } = query;
    const facts = { ...rest, now: unixSeconds(now), headers: headerList(headers) };
    return JSON.parse(this.inner.toolsList(JSON.stringify(facts)));
  }

  inspect() {
    return JSON.parse(this.inner.inspect());
  }

  free() {
    this.inner.free();
  }
}

function headerList(headers) {
  if (headers === undefined || headers === null) return [];
  if (Array.isArray(headers)) return headers.map(([n, v]) => [String(n), String(v)]);
  return Object.entries(headers).map(([n, v]) => [n, String(v)]);
}

// A bundle given as bytes is loaded once per Uint8Array object.
const loaded = new WeakMap();

function bundleOf(bundle) {
  if (bundle instanceof Bundle) return bundle;
  let b = loaded.get(bundle);
  if (!b) {
    b = new Bundle(bundle);
    loaded.set(bundle, b);
  }
  return b;
}

/** Decides one request: the object `gatehouse check --json` prints. */
export function check(bundle, request) {
  return bundleOf(bundle).check(request);
}

/** Who may perform `action` on `resource`. */
export function whoCan(bundle, query) {
  return bundleOf(bundle).whoCan(query);
}

/** What `principal` may do. */
export function whatCan(bundle, query) {
  return bundleOf(bundle).whatCan(query);
}

/**
 * What an MCP client's `tools/list` on `server` shows the caller (`as`, `credential` or
 * `token`): `gatehouse check --tools-list --json`.
 */
export function toolsList(bundle, query) {
  return bundleOf(bundle).toolsList(query);
}

/** `gatehouse inspect --json`. */
export function inspect(bundle) {
  return bundleOf(bundle).inspect();
}

/** A control-plane token signed with a private JWK (JSON text), as `gatehouse token mint`. */
export function mintToken(jwk, claims) {
  const { aud, now, ...rest } = claims;
  const request = { ...rest, now: unixSeconds(now) };
  if (aud !== undefined) request.aud = Array.isArray(aud) ? aud : [aud];
  return mintTokenJson(jwk, JSON.stringify(request));
}
