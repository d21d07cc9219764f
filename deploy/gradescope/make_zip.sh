#!/usr/bin/env bash
# Make the zip to upload as a Gradescope programming assignment's autograder:
#   deploy/gradescope/make_zip.sh /private/halab-hidden autograder.zip
# It holds setup.sh and run_autograder at its root, the course's committed files that grading
# needs in halab/ (no solutions/), and the hidden graders in hidden/; Gradescope unpacks it
# into /autograder/source.
set -euo pipefail
hidden="${1:?usage: make_zip.sh HIDDEN_DIR OUT.zip}"
out="$(realpath "${2:?usage: make_zip.sh HIDDEN_DIR OUT.zip}")"
here="$(cd "$(dirname "$0")/../.." && pwd)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp "$here/deploy/gradescope/setup.sh" "$here/deploy/gradescope/run_autograder" "$stage/"
mkdir -p "$stage/halab"
git -C "$here" archive HEAD halab tests/exercises pyproject.toml requirements.txt README.md \
  | tar -x -C "$stage/halab"
cp -r "$hidden" "$stage/hidden"
(cd "$stage" && python3 -m zipfile -c "$out" setup.sh run_autograder halab hidden)
echo "wrote $out"
