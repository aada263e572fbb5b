#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Validates vmlab --json output (JSON Lines on stdin) against the schema.

    validate.py [--strict] SCHEMA NAME < output

Exits 0 when every line is valid and the last is a result line; 1 with
every problem named (line number, where, what); 77 when python3-jsonschema
is not installed (apt-get install python3-jsonschema).

The schema's objects are open, as docs/json.md promises graders: a later
vmlab may add keys. --strict closes every object that names its keys, so
that a key vmlab writes but the schema does not describe fails vmlab's own
tests."""
import json
import sys

try:
    import jsonschema
except ImportError:
    print("python3-jsonschema is not installed: apt-get install python3-jsonschema")
    sys.exit(77)


def closed(node):
    """node with additionalProperties false in every object that lists properties."""
    if isinstance(node, list):
        return [closed(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: closed(v) for k, v in node.items()}
    if "properties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    return node


def main():
    args = sys.argv[1:]
    strict = args[:1] == ["--strict"]
    schema_path, name = args[strict:strict + 2]
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    if strict:
        schema = closed(schema)
    # One validator per kind of line, so that an error names the field that
    # is wrong rather than "matches neither a step nor a result".
    kinds = {}
    for kind in ("step", "result"):
        one = {k: v for k, v in schema.items() if k != "oneOf"}
        one["$ref"] = f"#/$defs/{kind}"
        kinds[kind] = jsonschema.Draft202012Validator(one)
    problems, last = [], None
    for number, line in enumerate(sys.stdin, 1):
        try:
            obj = json.loads(line)
        except ValueError as e:
            problems.append(f"{name}: line {number}: not JSON: {e}")
            continue
        last = obj
        kind = "result" if isinstance(obj, dict) and "result" in obj else "step"
        for error in kinds[kind].iter_errors(obj):
            where = "/".join(str(p) for p in error.absolute_path) or "(the object)"
            problems.append(f"{name}: line {number}: {where}: {error.message[:200]}")
    if last is None or "result" not in last:
        problems.append(f"{name}: the output does not end with a result line")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
