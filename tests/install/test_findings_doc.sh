#!/bin/sh
# SPDX-License-Identifier: MIT
# docs/findings.md, the graders' list of finding ids step by step, is what
# docs/findings.py makes of the sources now: a finding added, renamed or moved
# to another step without regenerating the page fails here, the difference shown;
# and docs/json.md names every key of the result line's summary.
#     sh test_findings_doc.sh SOURCE_DIR
set -u
src=$1
command -v python3 >/dev/null 2>&1 || { echo "python3 is not installed"; exit 77; }
python3 "$src/docs/findings.py" --check "$src/docs/findings.md" || exit 1
# The result line's summary keys, which no step table shows: json.md's row names each.
row=$(grep '^| `summary` |' "$src/docs/json.md")
for key in $(sed -n 's/.*narrate_summary([^,]*, "\([a-z_0-9]*\)".*/\1/p' "$src"/demos/*.c); do
    case $row in
    *"\`$key\`"*) ;;
    *) echo "FAIL: docs/json.md's summary row does not name $key (narrate_summary)"; exit 1 ;;
    esac
done
echo "docs/findings.md lists every finding the sources record, step by step; json.md every summary"
