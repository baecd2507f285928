#!/usr/bin/env bash
# setup.sh install | lab | test | packages — install hacluster on a Debian 12 machine (as root).
#   install  what a node needs to run (Debian packages and .venv); the Docker image runs this
#   packages only the Debian packages of install (the Docker image's first layer, which a
#            change to the source then does not rebuild)
#   lab      install, plus the test oracles, then start a 3-node lab cluster
#   test     install, plus the test oracles, then run the checks and tests CI runs
# Idempotent: a second run reuses .venv and the installed packages.
set -euo pipefail
cd "$(dirname "$0")"
mode=${1:-}
case "$mode" in packages|install|lab|test) ;;
  *) echo "usage: $0 install|lab|test|packages" >&2; exit 64;; esac

# What a node runs with (pacemaker-common: Pacemaker's CIB schemas, which the cib validates with)
apt_packages=(python3 python3-venv python3-dev gcc iproute2 nftables util-linux procps iputils-ping
              pacemaker-common resource-agents fence-agents)
# Pacemaker's and crmsh's tools as test oracles; docker-compose validates docker-compose.yml
case "$mode" in lab|test) apt_packages+=(pacemaker-cli-utils crmsh docker-compose);; esac
python_extras='.[test]'
[ "$mode" = install ] && python_extras='.'
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: installing ${missing[*]} needs root" >&2; exit 4
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[ "$mode" = packages ] && exit 0

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# editable_mode=compat puts a plain path in a .pth file: the default editable finder is
# imported at every interpreter start (pathlib, urllib, importlib.util), a cost each command
# pays. compileall: tools start from bytecode even where PYTHONDONTWRITEBYTECODE is set, as
# they would from a regular install.
if ! { .venv/bin/pip install -q --upgrade pip && .venv/bin/pip install -q -e "$python_extras" \
       --config-settings editable_mode=compat; } \
     > .venv/install.log 2>&1; then
  cat .venv/install.log >&2; echo "setup.sh: installing hacluster failed" >&2; exit 1
fi
.venv/bin/python -m compileall -q messaging ccm cib crmd pengine lrmd stonithd agents lab \
  >/dev/null
export PATH="$PWD/.venv/bin:$PATH"
[ "$mode" = install ] && exit 0

if [ "$mode" = lab ]; then
  hacluster lab down >/dev/null 2>&1 || true   # a second run starts a fresh lab
  hacluster lab up --nodes 3 --wait 60
  if [ "$(id -u)" -eq 0 ]; then
    hacluster lab exec n1 hacluster membership
  else
    hacluster lab status
  fi
  echo "lab is up: 'hacluster lab status', 'hacluster lab exec n1 CMD', 'hacluster lab down'"
  exit 0
fi

status=0
echo "== ruff";          ruff check . || status=1
echo "== mypy";          mypy || status=1
echo "== mypy bench";    (cd bench && mypy --config-file ../pyproject.toml ./*.py) || status=1
echo "== import layers"; lint-imports || status=1
echo "== pytest"
pytest_args=(-q)
if [ "${CI:-}" = true ]; then pytest_args+=(-m "not slow"); fi
set +e
pytest "${pytest_args[@]}" "${@:2}"
rc=$?
set -e
[ $rc -eq 5 ] && { echo "pytest collected no tests" >&2; rc=1; }
[ $rc -ne 0 ] && status=1
exit $status
