# Create .venv with Python 3.11+ and install mrp into it; sourced by demo.sh and test.sh.
# EXTRAS selects optional dependencies, e.g. EXTRAS="[test]".
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "mrp needs Python 3.11 or newer; set PYTHON to one, e.g. PYTHON=python3.11" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c scripts/constraints.txt -e ".${EXTRAS:-}"
export PATH="$PWD/.venv/bin:$PATH"
