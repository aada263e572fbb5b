#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""docs/json.md promises graders that new keys may be added within schema 2:
the schema must accept a line with a key it does not know, in every object
(step, finding, sentence, prediction, result, machine, score), and still
reject one without a key it requires; validate.py --strict, which vmlab's own
tests use, rejects the unknown key. The lines are json.md's own examples.

    test_open.py JSON_MD SCHEMA VALIDATE"""
import copy
import json
import re
import subprocess
import sys


def valid(validate, schema, lines, strict):
    text = "".join(json.dumps(line) + "\n" for line in lines)
    args = [sys.executable, validate] + (["--strict"] if strict else []) + [schema, "example"]
    run = subprocess.run(args, input=text, capture_output=True, text=True, check=False)
    if run.returncode == 77:
        print(run.stdout.strip())
        sys.exit(77)
    return run.returncode == 0


def main():
    doc, schema, validate = sys.argv[1:4]
    with open(doc, encoding="utf-8") as f:
        blocks = re.findall(r"^```json\n(.*?)^```$", f.read(), re.M | re.S)
    examples = [json.loads(b) for b in blocks]
    step = next(e for e in examples if "step" in e)
    result = next(e for e in examples if "result" in e)
    step["prediction"] = {"question": "How much will Rss grow?", "choices": ["0 kB", "one page"],
                          "predicted": "b", "measured": "b", "finding": "first_write_one_page"}
    where = {  # each object of a line, as a path from the line
        "step": (0, []), "finding": (0, ["findings", 0]), "sentence": (0, ["sentences", 0]),
        "prediction": (0, ["prediction"]), "result": (1, []), "machine": (1, ["machine"]),
        "score": (1, ["score"]),
    }
    problems = []
    if not (valid(validate, schema, [step, result], False) and
            valid(validate, schema, [step, result], True)):
        problems.append("json.md's examples do not validate")
    for name, (line, path) in where.items():
        for change in ("an unknown key", "a required key missing"):
            lines = copy.deepcopy([step, result])
            obj = lines[line]
            for p in path:
                obj = obj[p]
            if change == "an unknown key":
                obj["key_of_a_later_version"] = 1
                want = {False: True, True: False}
            else:
                del obj[next(iter(obj))]
                want = {False: False, True: False}
            for strict in (False, True):
                if valid(validate, schema, lines, strict) != want[strict]:
                    problems.append(f"{name} with {change}: "
                                    f"{'valid' if not want[strict] else 'rejected'}"
                                    f"{' under --strict' if strict else ''}")
    for p in problems:
        print("FAIL:", p)
    if problems:
        return 1
    print("an unknown key is ignored in every object (rejected under --strict); "
          "a missing one is not")
    return 0


if __name__ == "__main__":
    sys.exit(main())
