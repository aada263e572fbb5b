#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The finding ids of every demo, step by step, read from the sources.

    findings.py [--root DIR]            print docs/findings.md
    findings.py --check FILE            exit 1 (and say how) where FILE is not what
                                        the sources make now (test docs.findings)
    findings.py --listed < JSON         exit 1 naming every (step, finding) of a
                                        --json run the table does not list

It reads demos/*.c and lib/*/*.c as text, not as a compiler would: the steps
from each `struct narrate_lesson` table (id, lesson, explain), the findings
from CONCLUDE, FINDING, narrate_finding and narrate_conclude calls (and the
demo's own macros around them), and which findings a step may record from the
functions its lesson and explain call, in the demo and in lib/, with the
arguments of each call (an id passed down as a parameter is followed to the
literal at the call). What it cannot read as a literal it shows as computed,
in braces, with the expression; it never guesses."""
import functools
import json
import os
import re
import sys

# The calls that record a finding: (n, id, held, values, ...), values one VALUES(...)
# array, except FINDING's, which are the VAL(...) arguments themselves.
FINDING_CALLS = ("CONCLUDE", "narrate_conclude", "narrate_finding", "FINDING")
DIRECTIVE = re.compile(r"[ \t]*#")
WORD = re.compile(r"[A-Za-z_]\w*")
KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof", "else", "do", "case"}


# ---- Reading C as text ----

def blank_comments_and_directives(src):
    """Comments and preprocessor lines become spaces (newlines kept); strings stay."""
    out, i, n = [], 0, len(src)
    line_start = True
    while i < n:
        c = src[i]
        if line_start and DIRECTIVE.match(src, i):
            j = i
            while j < n and (src[j] != "\n" or src[j - 1] == "\\"):
                j += 1
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
            continue
        line_start = c == "\n"
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2) + 2
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while src[j] != c:
                j += 2 if src[j] == "\\" else 1
            out.append(src[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def skip_string(text, i):
    """Index just past the string or char literal starting at text[i]."""
    q, j = text[i], i + 1
    while text[j] != q:
        j += 2 if text[j] == "\\" else 1
    return j + 1


def outside_strings(text, start=0):
    """(index, char, depth) of each character of text from start that is not inside a
    string or char literal; depth counts the brackets open there, its own included."""
    depth, j = 0, start
    while j < len(text):
        c = text[j]
        if c in "\"'":
            j = skip_string(text, j)
            continue
        if c in "({[":
            depth += 1
        elif c in ")}]":
            depth -= 1
        yield j, c, depth
        j += 1


def matching(text, i):
    """Index of the bracket that closes text[i] ('(', '{' or '[')."""
    close = {"(": ")", "{": "}", "[": "]"}[text[i]]
    for j, c, depth in outside_strings(text, i):
        if depth == 0:
            if c != close:
                raise ValueError(f"unbalanced {text[i]} at {i}")
            return j
    raise ValueError(f"unclosed {text[i]} at {i}")


def split_top(text, sep=","):
    """text split at sep where no bracket or string is open."""
    parts, start = [], 0
    for j, c, depth in outside_strings(text):
        if c == sep and depth == 0:
            parts.append(text[start:j].strip())
            start = j + 1
    parts.append(text[start:].strip())
    return parts if parts != [""] else []


def literal(expr):
    """The C string literal expr (adjacent literals joined), or None."""
    expr = strip_parens(expr)
    if not expr.startswith('"'):
        return None
    pieces = re.fullmatch(r'(\s*"(?:[^"\\]|\\.)*"\s*)+', expr)
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', expr)) if pieces else None


def strip_parens(expr):
    expr = expr.strip()
    while expr.startswith("(") and matching(expr, 0) == len(expr) - 1:
        expr = expr[1:-1].strip()
    return expr


def ternary(expr):
    """(condition, yes, no) where expr is a ?: at its top level, else None."""
    q = None
    for j, c, depth in outside_strings(expr):
        if depth == 0 and c == "?" and q is None:
            q = j
        elif depth == 0 and c == ":" and q is not None:
            return expr[:q], expr[q + 1:j], expr[j + 1:]
    return None


@functools.lru_cache(maxsize=None)
def calls_in(text):
    """(name, [args], offset) of each call in text, outermost first."""
    return tuple(each_call(text))


def each_call(text):
    for m in re.finditer(r"\b([A-Za-z_]\w*)\s*\(", mask_strings(text)):
        if m.group(1) in KEYWORDS:
            continue
        open_at = m.end() - 1
        yield m.group(1), split_top(text[open_at + 1:matching(text, open_at)]), m.start()


def mask_strings(text):
    """text with the inside of every string and char literal blanked, same length."""
    return re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'',
                  lambda m: m.group(0)[0] + " " * (len(m.group(0)) - 2) + m.group(0)[0], text)


class Function:
    def __init__(self, source, name, params, body, line, static, header):
        self.source, self.name, self.params, self.header = source, name, params, header
        self.body, self.line, self.static = body, line, static


class Source:
    """One .c file: its functions, tables, and function-like macros."""

    def __init__(self, path, rel):
        with open(path, encoding="utf-8") as f:
            raw = f.read()
        self.rel = rel
        self.demo = os.path.basename(rel)[:-2] if rel.startswith("demos/") else None
        self.macros = {}
        for m in re.finditer(r"^[ \t]*#[ \t]*define[ \t]+(\w+)\(([^)]*)\)((?:[^\n]*\\\n)*[^\n]*)",
                             raw, re.M):
            body = re.sub(r"/\*.*?\*/", " ", m.group(3).replace("\\\n", " "))
            self.macros[m.group(1)] = ([p.strip() for p in m.group(2).split(",")], body.strip())
        self.text = blank_comments_and_directives(raw)
        self.functions, self.tables, self.initializers = {}, [], {}
        self.last_fields = self.last_struct = None
        self.notes = {}  # a computed part's expression -> the literals it may be
        self.parse()

    def finding_macros(self):
        """The function-like macros that record a finding, themselves or through another."""
        names = set(FINDING_CALLS)
        while True:
            more = {m for m, (_, body) in self.macros.items() if m not in names and
                    re.search(r"\b(" + "|".join(names) + r")\s*\(", body)}
            if not more:
                return {m: self.macros[m] for m in names if m in self.macros}
            names |= more

    def parse(self):
        text, i, head_start = self.text, 0, 0
        while i < len(text):
            c = text[i]
            if c in "\"'":
                i = skip_string(text, i)
                continue
            if c == ";":
                head_start = i + 1
            elif c == "{":
                end = matching(text, i)
                head = text[head_start:i]
                if re.search(r"\b(struct|union|enum)\s*\w*\s*$", head):
                    i = end + 1  # a type's body: the declaration goes on
                    continue
                self.declaration(head, i, end)
                i = end + 1
                head_start = i
                continue
            i += 1

    def declaration(self, head, open_at, close_at):
        text = self.text
        line = text.count("\n", 0, open_at) + 1
        fn = re.search(r"\b(\w+)\s*\(([^;]*)\)\s*$", head)
        if fn and "=" not in head:
            params = []
            for p in split_top(fn.group(2)):
                words = WORD.findall(p.split("[")[0])
                params.append(words[-1] if words and p != "void" else None)
            static = re.search(r"\bstatic\b", head) is not None
            self.functions[fn.group(1)] = Function(self, fn.group(1), params,
                                                   text[open_at + 1:close_at], line, static, head)
            return
        var = re.search(r"(\w+)\s*(\[[^\]]*\])?\s*=\s*$", head)
        if not var:
            return
        content = text[open_at + 1:close_at]
        fields = None
        decl = re.search(r"struct\s*(\w*)\s*(\{)?", head)
        if decl and decl.group(2):
            body = head[decl.end(2):head.rfind("}")]
            fields = [WORD.findall(f.split("[")[0])[-1] for d in body.split(";") if d.strip()
                      for f in d.split(",")]
        elif decl and decl.group(1):
            fields = struct_fields.get(decl.group(1))
        elif head.lstrip().startswith(","):  # went[] = {...}, gave[] = {...}: the same type
            fields = self.last_fields
        self.last_fields = fields
        self.last_struct = decl.group(1) if decl and decl.group(1) else self.last_struct
        self.initializers[var.group(1)] = (fields, content, self.last_struct)
        if decl and decl.group(1) == "narrate_lesson":
            rows = [content] if var.group(2) is None else top_groups(content)
            for row in rows:
                f = split_top(row)
                if len(f) >= 4 and literal(f[0]):
                    self.tables.append((literal(f[0]), [g for g in f[2:4] if g != "NULL"]))


def top_groups(content):
    """The {...} groups at the top level of an initializer (designators skipped)."""
    groups, start = [], 0
    for j, c, depth in outside_strings(content):
        if c == "{" and depth == 1:
            start = j + 1
        elif c == "}" and depth == 0:
            groups.append(content[start:j])
    return groups


struct_fields = {}  # struct name -> field names, from the headers


def read_struct_fields(root):
    for dirpath, _, files in os.walk(os.path.join(root, "lib")):
        for name in files:
            if name.endswith(".h"):
                with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                    text = blank_comments_and_directives(f.read())
                for m in re.finditer(r"struct\s+(\w+)\s*\{", text):
                    body = text[m.end():matching(text, m.end() - 1)]
                    struct_fields[m.group(1)] = [
                        WORD.findall(f.split("[")[0])[-1]
                        for d in body.split(";") if WORD.search(d) and "(" not in d
                        for f in d.split(",")]


# ---- From the sources to the findings a step may record ----

class Program:
    def __init__(self, root):
        read_struct_fields(root)
        self.sources = []
        for folder in ("demos", "lib/kernel", "lib/present", "lib/safety"):
            for name in sorted(os.listdir(os.path.join(root, folder))):
                if name.endswith(".c"):
                    rel = f"{folder}/{name}"
                    self.sources.append(Source(os.path.join(root, rel), rel))
        self.lib = {}
        for s in self.sources:
            if s.demo is None:
                for f in s.functions.values():
                    if not f.static:
                        self.lib[f.name] = f
        self.reached_calls = set()  # every finding call reached from a demo's steps
        self.setters = {}  # a field -> where a function sets it from a parameter

    def function(self, src, name):
        return src.functions.get(name) or self.lib.get(name)

    def evaluate(self, expr, fn, bindings):
        """The values expr may have: literals, or '{expr}' where it is computed."""
        expr = strip_parens(expr)
        lit = literal(expr)
        if lit is not None:
            return [lit]
        tern = ternary(expr)
        if tern:
            return self.evaluate(tern[1], fn, bindings) + \
                self.evaluate(tern[2], fn, bindings)
        if expr in fn.params:
            return bindings.get(fn.params.index(expr)) or [f"{{{expr}}}"]
        m = re.fullmatch(r"(\w+)\((.*)\)", expr, re.S)
        if m and m.group(1) in fn.source.macros:
            params, body = fn.source.macros[m.group(1)]
            fmt = re.search(r'snprintf\(\s*\w+,\s*sizeof\s*\w+,\s*"%s_%s",\s*([^,]+),\s*\((\w+)\)',
                            body)
            args = split_top(m.group(2))
            if fmt and fmt.group(2) in params:
                prefix = fmt.group(1).strip()
                rest = self.evaluate(args[params.index(fmt.group(2))], fn, bindings)
                may = [p for p in self.evaluate(prefix, fn, bindings) if not p.startswith("{")]
                if may:
                    fn.source.notes[prefix] = may
                return [f"{{{prefix}}}_{r}" for r in rest]
        m = re.fullmatch(r"(\w+)(?:\[[^\]]*\])?(?:\.|->)(\w+)", expr)
        if m:
            found = self.field_literals(fn.source, m.group(1), m.group(2))
            typed = re.search(r"struct\s+(\w+)\s*\*\s*" + m.group(1) + r"\b",
                              fn.header + fn.body)
            for fields, content, struct in fn.source.initializers.values():
                if typed and struct == typed.group(1) and m.group(2) in (fields or []):
                    at = fields.index(m.group(2))
                    found += [literal(r[at]) for r in map(split_top, top_groups(content))
                              if len(r) > at and literal(r[at])]
            if found:
                return found
        return [f"{{{expr}}}"]

    def field_literals(self, src, table, field):
        """Literals of field in the initializer table of src, or set by a function of
        lib/ from a parameter (t->name = name): the literals its callers pass."""
        fields, content, _ = src.initializers.get(table, (None, None, None))
        if fields and field in fields:
            at = fields.index(field)
            rows = [split_top(g) for g in top_groups(content)]
            return [literal(r[at]) for r in rows if len(r) > at and literal(r[at])]
        for s, f, at in self.set_from_parameter(field):
            return [literal(a[at]) for g in s.functions.values() for c, a, _ in calls_in(g.body)
                    if c == f.name and len(a) > at and literal(a[at])]
        return []

    def value_keys(self, expr, fn, bindings, follow=True):
        """The value keys of a finding's values argument."""
        expr = strip_parens(expr)
        vals = [a for c, a, _ in calls_in(expr) if c == "VAL"]
        if vals or expr.startswith("VALUES"):
            return [k for a in vals for k in self.evaluate(a[0], fn, bindings)]
        if expr in fn.params and fn.params.index(expr) in bindings:
            return bindings[fn.params.index(expr)]
        if re.fullmatch(r"\w+", expr):  # a variable: VALUES(...) assigned to it
            assign = re.compile(r"\b" + expr + r"\s*(?:\[\s*\])?\s*=\s*(VALUES)\(")
            for where in (fn.body, fn.source.text):
                m = assign.search(where)
                if m:
                    close = matching(where, m.end() - 1)
                    return self.value_keys(where[m.start(1):close + 1], fn, bindings)
        m = re.fullmatch(r"\w+(?:\[[^\]]*\])?(?:\.|->)(\w+)", expr)
        if m and follow:  # t->values[i] = values[i] in a function: what its callers pass there
            keys = {k for s, f, at in self.set_from_parameter(m.group(1))
                    for g in s.functions.values() for c, a, _ in calls_in(g.body)
                    if c == f.name and len(a) > at
                    for k in self.value_keys(a[at], g, {}, follow=False)}
            if keys and not any(k.startswith("{") for k in keys):
                return sorted(keys)
        return ["{" + expr + "}"]

    def one_record(self, id_expr, values_expr, fn):
        """Where id and values are two fields of one record (tests[i].name and
        tests[i].values) that one function sets from its parameters: for each call
        of it, the id expression with that call's name in, and its value keys."""
        m = re.fullmatch(r"(\w+(?:\[[^\]]*\])?)(?:\.|->)(\w+)", strip_parens(values_expr))
        name = m and re.search(re.escape(m.group(1)) + r"(?:\.|->)(\w+)", id_expr)
        if not name:
            return None
        setters = {(s.rel, f.name): (s, f, at) for s, f, at in self.set_from_parameter(m.group(2))}
        for s, f, at_name in self.set_from_parameter(name.group(1)):
            if (s.rel, f.name) not in setters:
                continue
            at_values = setters[(s.rel, f.name)][2]
            return [(id_expr.replace(name.group(0), '"' + literal(a[at_name]) + '"'),
                     self.value_keys(a[at_values], g, {}, follow=False))
                    for g in s.functions.values() for c, a, _ in calls_in(g.body)
                    if c == f.name and len(a) > max(at_name, at_values) and literal(a[at_name])]
        return None

    def set_from_parameter(self, field):
        """(source, function, parameter index) where a function sets ->field from a parameter."""
        if field not in self.setters:
            found = []
            for s in self.sources:
                for f in s.functions.values():
                    m = re.search(r"->" + field + r"\b[^;=]*=\s*(\w+)\b", f.body)
                    if m and m.group(1) in f.params:
                        found.append((s, f, f.params.index(m.group(1))))
            self.setters[field] = found
        return self.setters[field]

    def walk(self, fn, bindings, seen, out):
        """Adds to out {finding id: set of value keys} for what fn may record."""
        key = (fn.source.rel, fn.name, tuple(sorted((k, tuple(v)) for k, v in bindings.items())))
        if key in seen:
            return
        seen.add(key)
        body = self.expanded(fn)
        self.walk_body(fn, body, bindings, seen, out)

    @functools.lru_cache(maxsize=None)
    def expanded(self, fn):
        """fn's body with the demo's finding macros expanded."""
        body = fn.body
        for _ in fn.source.macros:  # a macro may use another: until none is left
            expanded = body
            for macro, (params, mbody) in fn.source.finding_macros().items():
                expanded = expand(expanded, macro, params, mbody)
            if expanded == body:
                break
            body = expanded
        return body

    def walk_body(self, fn, body, bindings, seen, out):
        for name, args, at in calls_in(body):
            if name in FINDING_CALLS:
                self.reached_calls.add((fn.source.rel, fn.line, fn.name, args[1]))
                values = f"VALUES({', '.join(args[3:])})" if name == "FINDING" else args[3]
                pairs = self.one_record(args[1], values, fn) or \
                    [(args[1], self.value_keys(values, fn, bindings))]
                for id_expr, keys in pairs:
                    for fid in self.evaluate(id_expr, fn, bindings):
                        out.setdefault(fid, set()).update(keys)
                continue
            callee = self.function(fn.source, name)
            if callee and callee is not fn:
                bound = {}
                for i, a in enumerate(args[:len(callee.params)]):
                    v = self.evaluate(a, fn, bindings)
                    if not any(x.startswith("{") for x in v):
                        bound[i] = v
                self.walk(callee, bound, seen, out)
        for word in set(WORD.findall(re.sub(r'"(?:[^"\\]|\\.)*"', "", body))):
            callee = self.function(fn.source, word)
            if callee and callee is not fn and not re.search(r"\b" + word + r"\s*\(", body):
                self.walk(callee, {}, seen, out)

    def demo_steps(self, src):
        """[(step id, {finding: keys})] in the order of the source's tables, then the
        findings its other functions (main) record in steps they begin themselves."""
        steps, listed = [], {}
        for step, roots in src.tables:
            out = listed.setdefault(step, {})
            if out == {} and step not in [s for s, _ in steps]:
                steps.append((step, out))
            for r in roots:
                if r in src.functions:
                    self.walk(src.functions[r], {}, set(), out)
        rest = {}
        self.walk(src.functions["main"], {}, set(), rest)
        for out in listed.values():
            for fid in out:
                rest.pop(fid, None)
        if rest:
            steps.append(("*", rest))
        return steps


def expand(body, macro, params, mbody):
    """body with each call of the function-like macro replaced by its body."""
    out, last = [], 0
    for m in re.finditer(r"\b" + macro + r"\s*\(", body):
        if m.start() < last:
            continue
        close = matching(body, m.end() - 1)
        args = split_top(body[m.end():close])
        text = mbody
        for p, a in zip(params, args):
            text = re.sub(r"\b" + re.escape(p) + r"\b", lambda _: a, text)
        out.append(body[last:m.start()] + text)
        last = close + 1
    return "".join(out) + body[last:]


# ---- The page ----

HEAD = """\
# Finding ids, step by step

Generated from the sources by `python3 docs/findings.py > docs/findings.md`: do not
edit by hand. The test `docs.findings` fails where this page is not what the
sources make now, and `json.schema` checks that every finding a real `--json` run
records is listed here under its step.

Each row is a finding a step **may** record (whether it did, and whether it held, is
in the run's `findings`), with the keys of its `values`; "(none)": the step records
none. Steps are in the order of the demo's tables; an option or the machine may
leave some out. `{...}` is a part the program computes at run time: the expression
is shown, and under the table what it may be. Step `*` is any step: code the step
table does not name records it (an observer main() sets, which runs around every
step, or a step main() begins itself: segv-pgfault's and kernel-address's cases, whose
ids are the case names with `_` for `-`, and hugetlb-reserve's steps it does not run). See
[json.md](json.md) for the contract, and its [Changes](json.md#changes) for what
changed between versions.
"""


def page(root):
    prog = Program(root)
    lines = [HEAD.rstrip("\n")]
    for src in prog.sources:
        if src.demo is None or "main" not in src.functions or src.demo in ("tour", "vmlab"):
            continue
        steps = prog.demo_steps(src)
        if not any(out for _, out in steps):
            continue
        lines.append(f"\n## {src.demo}\n\n| step | finding | values |\n|---|---|---|")
        groups = []  # consecutive steps that may record the same findings share their rows
        for step, out in steps:
            if groups and groups[-1][1] == out:
                groups[-1][0].append(step)
            else:
                groups.append(([step], out))
        for names, out in groups:
            cell = ", ".join(f"`{s}`" for s in names)
            if not out:
                lines.append(f"| {cell} | (none) | |")
            for fid in sorted(out):
                keys = ", ".join(f"`{k}`" for k in sorted(out[fid])) or "(none)"
                lines.append(f"| {cell} | `{fid}` | {keys} |")
                cell = ""
        for expr, may in sorted(src.notes.items()):
            lines.append(f"\n`{{{expr}}}` is one of " + ", ".join(f"`{m}`" for m in may) + ".")
    unreached = [f"{s.rel}: {f.name}(), {a[1]}" for s in prog.sources
                 for f in s.functions.values() for c, a, _ in calls_in(f.body)
                 if c in FINDING_CALLS and (s.rel, f.line, f.name, a[1]) not in prog.reached_calls]
    if unreached:  # a finding this script could not place: say so rather than drop it
        lines.append("\n## Not placed\n\nRecorded where no demo's step was followed to:\n")
        lines += [f"- {u}" for u in unreached]
    return "\n".join(lines) + "\n"


def listed(root, stream):
    """Every (step, finding) of a --json run (the tour's too) must be a row of the page."""
    prog = Program(root)
    tables = {}
    problems = []
    for number, line in enumerate(stream, 1):
        obj = json.loads(line)
        if not obj.get("findings"):
            continue
        if obj["demo"] not in tables:  # only the demos the run shows: each takes a while
            src = next(s for s in prog.sources if s.demo == obj["demo"])
            tables[obj["demo"]] = (src, prog.demo_steps(src))
        src, table = tables[obj["demo"]]
        for f in obj["findings"]:
            if not any(step in (obj["id"], "*") and any(match(fid, f["id"], src.notes)
                                                       for fid in out) for step, out in table):
                problems.append(f"{obj['demo']}: line {number}: step {obj['id']} recorded "
                                f"finding {f['id']}, which docs/findings.md does not list there")
    return problems


def match(pattern, fid, notes):
    """Whether a listed id (maybe with {computed} parts) names fid in this step."""
    if "{" not in pattern:
        return pattern == fid
    rx = re.sub(r"\\\{(.*?)\\\}", lambda m: "(" + "|".join(
        re.escape(c) for c in notes.get(m.group(1).replace("\\", ""), [])) + ")"
        if notes.get(m.group(1).replace("\\", "")) else "[a-z0-9_]+", re.escape(pattern))
    return re.fullmatch(rx, fid) is not None


def main(argv):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if len(argv) > 2 and argv[1] == "--root":
        root, argv = argv[2], argv[:1] + argv[3:]
    if len(argv) == 3 and argv[1] == "--check":
        with open(argv[2], encoding="utf-8") as f:
            committed = f.read()
        made = page(root)
        if committed != made:
            import difflib
            sys.stdout.writelines(difflib.unified_diff(
                committed.splitlines(True), made.splitlines(True), argv[2], "the sources now"))
            print("docs/findings.md is not what the sources make: "
                  "run python3 docs/findings.py > docs/findings.md")
            return 1
        return 0
    if len(argv) == 2 and argv[1] == "--listed":
        problems = listed(root, sys.stdin)
        for p in problems:
            print(p)
        return 1 if problems else 0
    if len(argv) == 1:
        sys.stdout.write(page(root))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
