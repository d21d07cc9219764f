#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image ("Autograder
# Specifications": setup.sh at the root of the uploaded zip, unpacked in /autograder/source).
# The zip (deploy/gradescope/make_zip.sh) holds the course in halab/ and the hidden graders in
# hidden/.
set -euo pipefail
apt-get install -y -qq python3-venv python3-pip >/dev/null
python3 -m venv /opt/halab-venv
cd /autograder/source/halab
/opt/halab-venv/bin/pip install --quiet -r requirements.txt
