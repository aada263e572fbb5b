#!/bin/sh
# SPDX-License-Identifier: MIT
# docs/findings.md, the graders' list of finding ids step by step, is what
# docs/findings.py makes of the sources now: a finding added, renamed or moved
# to another step without regenerating the page fails here, the difference shown.
#     sh test_findings_doc.sh SOURCE_DIR
set -u
src=$1
command -v python3 >/dev/null 2>&1 || { echo "python3 is not installed"; exit 77; }
python3 "$src/docs/findings.py" --check "$src/docs/findings.md" || exit 1
echo "docs/findings.md lists every finding the sources record, step by step"
