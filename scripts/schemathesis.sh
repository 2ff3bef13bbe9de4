#!/usr/bin/env bash
# Property-based test of a running Sealbook against its own OpenAPI document, with every
# schemathesis check on.
#
#   scripts/schemathesis.sh URL KEY
#   scripts/schemathesis.sh --install    (only install the pinned version; .ci/run does this first)
#
# URL is the server's base URL, KEY the operator token (sba_…) or a tenant API key with every scope
# (events:write,events:read,events:export,tenant:admin). The run writes to that tenant (events,
# catalog types, settings): use a throwaway server. Operator routes answer 401 to a tenant key,
# which the document says; the stateful phase then runs without them (see below).
#
# Environment: SEALBOOK_VENV (default target/venv-schemathesis in the repository) holds the pinned schemathesis,
# installed on first use; ST_MAX_EXAMPLES (default 100) and ST_SEED (default: random) tune the run;
# ST_ARGS adds arguments. Exits non-zero on any failure.
set -euo pipefail

ST_VERSION=4.32.5

if [[ $# -ne 2 && "${1:-}" != --install ]]; then
    echo "usage: $0 URL KEY | $0 --install" >&2
    exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv=${SEALBOOK_VENV:-$here/../target/venv-schemathesis}

installed() {
    [[ -x "$venv/bin/st" ]] && [[ "$("$venv/bin/st" --version 2>/dev/null)" == *"$ST_VERSION"* ]]
}
if ! installed; then
    # Several runs may start at once (the test suite runs two): one installs, the others wait.
    mkdir -p "$(dirname "$venv")"
    exec 9>"$venv.lock"
    flock 9
    if ! installed; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet "schemathesis==$ST_VERSION"
    fi
    flock -u 9
fi
if [[ "$1" == --install ]]; then
    "$venv/bin/st" --version
    exit 0
fi
url=${1%/}
key=$2

seed=()
if [[ -n "${ST_SEED:-}" ]]; then
    seed=(--seed "$ST_SEED")
fi

export SCHEMATHESIS_HOOKS="$here/schemathesis/hooks.py"
st_run() {
    # shellcheck disable=SC2086 # ST_ARGS is split on purpose
    "$venv/bin/st" --config-file "$here/schemathesis/schemathesis.toml" run "$url/openapi.json" \
        --header "Authorization: Bearer $key" \
        --checks all \
        --max-examples "${ST_MAX_EXAMPLES:-100}" \
        --workers 1 \
        --no-color \
        "${seed[@]}" \
        "$@" \
        ${ST_ARGS:-}
}
if [[ "$key" == sbk_* ]]; then
    # A tenant key: the operator routes answer it only 401, which every phase but the stateful one
    # checks. In the stateful phase they would be its only starting points: schemathesis starts
    # scenarios from "reliable" roots (POSTs with links) and falls back to the others only when
    # there are none, and it counts POST /v1/events among the others (it reads actor.id and
    # subject.id as references to resources no operation produces). Without them the stateful
    # phase starts from ingests and follows the receipts' links.
    rc=0
    st_run --phases examples,coverage,fuzzing || rc=$?
    st_run --phases stateful --exclude-path-regex '^/v1/tenants' || rc=$?
    exit $rc
fi
st_run
