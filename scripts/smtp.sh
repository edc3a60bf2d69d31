# Sourced by scripts/test.sh: a Python environment with aiosmtpd for the real SMTP
# server the tests run (tests/smtp_server.py). Exports PHARMACY_TEST_PYTHON.

smtp_ensure() {
    local venv="target/smtp-venv"
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import aiosmtpd' >/dev/null 2>&1; then
        echo "setting up $venv (aiosmtpd) for the SMTP tests"
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'aiosmtpd>=1.4,<2'
    fi
    PHARMACY_TEST_PYTHON="$(pwd)/$venv/bin/python"
    export PHARMACY_TEST_PYTHON
}
