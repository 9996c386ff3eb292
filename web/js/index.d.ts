// Types of the `gatehouse` package (docs/web.md).

/** A source file. `kind` defaults from the name: `gateway.yaml`/`.yml`/`.json` is the gateway
 * file, `*.jwks.json` and `*.jwk.json` are only read through `jwks_file`, other `*.yaml`,
 * `*.yml` and `*.json` files are tenant files. */
export interface SourceFile {
  name: string;
  text: string;
  kind?: "tenant" | "gateway" | "file";
}

/** A compile error; `line` and `column` are 1-based, 0 when unknown. */
export interface Diagnostic {
  file: string;
  line: number;
  column: number;
  message: string;
}

export interface CompileOptions {
  /** The bundle's serial (default: the current Unix time, as `gatehouse compile`). */
  serial?: number;
  /** Default: a digest of the compiled policy. */
  revision?: string;
}

export type Compiled = { bundle: Uint8Array } | { diagnostics: Diagnostic[] };

/** A time: Unix seconds, RFC 3339 text or a Date; default now. */
export type Time = number | string | Date;

/** The flags of `gatehouse check`. */
export interface CheckRequest {
  method: string;
  /** With the query string, if any. */
  path: string;
  /** Default: the host of a lone tenant. */
  host?: string;
  headers?: [string, string][] | Record<string, string>;
  /** Decide for this subject without a token (`user:<email>`, `virtualaccount:<name>`). */
  as?: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** JSON text, bytes, or a value sent as JSON; a body gets `content-type: application/json`
   * unless a header names one or `noContentType` is set. */
  body?: string | Uint8Array | unknown;
  now?: Time;
  noContentType?: boolean;
}

export interface Searched {
  resource: string;
  disabled: boolean;
  authorized_subjects?: string[];
  admitted?: string[];
  roles_granting: string[];
  held: string[];
  granted_to: string[];
  granted_to_count: number;
}

export interface Explanation {
  summary: string;
  subjects?: string[];
  tenant_roles?: string[];
  searched?: Searched[];
  tenant_roles_granting?: string[];
}

/** Exactly the object `gatehouse check --json` prints. */
export interface CheckResult {
  decision: "allow" | "deny";
  status: number;
  reason: string | null;
  tenant: string | null;
  principal: string | null;
  route: string | null;
  resource: string | null;
  action: string | null;
  grant: string | null;
  explain: Explanation;
}

export interface WhoCanQuery {
  /** Default: the bundle's only tenant. */
  tenant?: string;
  /** `type:path`. */
  resource: string;
  action: string;
  now?: Time;
}

export interface WhoCanResult {
  tenant: string;
  resource: string;
  action: string;
  allowed: { principal: string; grant: string }[];
  blocked: { principal: string; reason: string }[];
}

export interface WhatCanQuery {
  tenant?: string;
  /** `user:<email>` or `virtualaccount:<name>`. */
  principal: string;
  /** Only resources of this type. */
  type?: string;
  action?: string;
  now?: Time;
}

export interface WhatCanResult {
  tenant: string;
  principal: string;
  denied: string | null;
  allowed: { resource: string; action: string; grant: string }[];
  blocked: { resource: string; action: string; reason: string }[];
}

/** `gatehouse check --tools-list`'s question. Give one of `as`, `credential`, `token`. */
export interface ToolsListQuery {
  /** The MCP server's name, as in `mcp-server:<server>`. */
  server: string;
  /** Default: the host of a lone tenant. */
  host?: string;
  /** The MCP endpoint's path; default: the server's endpoint from the gateway's routes. */
  path?: string;
  /** Sent with every request. */
  headers?: Record<string, string> | [string, string][];
  /** `user:<email>` or `virtualaccount:<name>`. */
  as?: string;
  /** An API key id (16 hex digits). */
  credential?: string;
  token?: string;
  now?: Time;
}

/** A decision of the `tools/list` request or of one tool's `tools/call`. */
export interface ToolDecision {
  allowed: boolean;
  reason: string | null;
  resource: string | null;
  action: string | null;
  grant: string | null;
}

/** Exactly the object `gatehouse check --tools-list --json` prints. */
export interface ToolsListResult {
  tenant: string | null;
  principal: string | null;
  credential: string | null;
  server: string;
  path: string;
  route: string | null;
  /** The `tools/list` request itself: denied, the client gets no list. */
  list: ToolDecision;
  /** Every tool of the tenant under `mcp-server:<server>`. */
  tools: (ToolDecision & { name: string })[];
  /** The names a trimmed `tools/list` keeps. */
  shown: string[];
}

/** The flags of `gatehouse token mint`. */
export interface TokenClaims {
  issuer: string;
  sub: string;
  tenant?: string;
  jti?: string;
  aud?: string | string[];
  /** More claims. */
  claims?: Record<string, unknown>;
  /** `90s`, `15m`, `1h`, `7d`, or seconds; default one hour. */
  ttl?: string | number;
  /** `iat`; default now. */
  now?: Time;
}

export function compile(files: SourceFile[], options?: CompileOptions): Compiled;
export function check(bundle: Uint8Array | Bundle, request: CheckRequest): CheckResult;
export function whoCan(bundle: Uint8Array | Bundle, query: WhoCanQuery): WhoCanResult;
export function whatCan(bundle: Uint8Array | Bundle, query: WhatCanQuery): WhatCanResult;
export function toolsList(bundle: Uint8Array | Bundle, query: ToolsListQuery): ToolsListResult;
export function inspect(bundle: Uint8Array | Bundle): Record<string, unknown>;
export function mintToken(jwk: string, claims: TokenClaims): string;

/** A bundle loaded once (as the filter loads it), for many questions. */
export class Bundle {
  constructor(bytes: Uint8Array, options?: { trustedKeys?: string[] });
  check(request: CheckRequest): CheckResult;
  whoCan(query: WhoCanQuery): WhoCanResult;
  whatCan(query: WhatCanQuery): WhatCanResult;
  toolsList(query: ToolsListQuery): ToolsListResult;
  inspect(): Record<string, unknown>;
  /** Releases the WebAssembly memory the bundle holds. */
  free(): void;
}
