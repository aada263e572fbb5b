#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The result line names the arguments the run was given, but --json (docs/json.md's
"args"); in the tour's output, each stop's result line its own, so that mmap-anon's
two stops are told apart: [] then ["--thp"].

    args.py PROGRAM [ARG...] < output"""
import json
import sys


def main():
    program, given = sys.argv[1], sys.argv[2:]
    lines = [json.loads(line) for line in sys.stdin if line.strip()]
    results = [line for line in lines if "result" in line]
    problems = []
    if results and results[-1].get("args") != given:
        problems.append(f"the result line says args {results[-1].get('args')}, given {given}")
    if program == "tour":
        anon = [r.get("args") for r in results if r["demo"] == "mmap-anon"]
        if anon != [[], ["--thp"]]:
            problems.append(f"the mmap-anon stops say args {anon}, not [] then ['--thp']")
        if any(not isinstance(r.get("args"), list) for r in results):
            problems.append("a stop's result line has no args")
    for problem in problems:
        print(f"FAIL: {program}: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
