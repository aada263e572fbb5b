# SPDX-License-Identifier: MIT
# mkman.awk: one manual page, in man(7) roff, from two texts vmlab already
# has: a program's own --help and its lab sheet (Markdown). POSIX awk only
# (Debian's default is mawk), so that building needs nothing new.
#
#   awk -f mkman.awk -v page=vmlab-mmap-anon -v program=mmap-anon \
#       -v version=0.1.0 -v see="vmlab(1) proc(5)" LABSHEET HELPFILE
#
# The page: NAME (the lab sheet's title), SYNOPSIS, DESCRIPTION (the help's
# summary, then the lab sheet's opening), the help's other sections (OPTIONS,
# EXAMPLES, EXIT STATUS, ...), then every section of the lab sheet, then SEE
# ALSO. Commands in the lab sheet written as build/.../demos/NAME become
# "vmlab NAME", which is how an installed vmlab runs them.
# The installed command: "vmlab mmap-anon", and "vmlab watch" for vmlab-watch.
BEGIN { command = program; sub(/^vmlab-/, "", command) }


# ---- inline text ----

# Characters roff would take as its own: a backslash.
function esc(s) {
    gsub(/\\/, "\\e", s)
    return s
}

# Literal text (code, options, commands): also a real minus for "-".
function lit(s) {
    s = esc(s)
    gsub(/-/, "\\-", s)
    return s
}

# Typographic characters as groff's own names, so that the page reads the
# same whatever encoding man assumes.
function chars(s) {
    gsub(/—/, "\\(em", s); gsub(/–/, "\\(en", s); gsub(/→/, "\\(->", s)
    gsub(/←/, "\\(<-", s); gsub(/≤/, "\\(<=", s); gsub(/≥/, "\\(>=", s)
    gsub(/×/, "\\(mu", s); gsub(/≈/, "\\(~~", s); gsub(/…/, "...", s)
    gsub(/’/, "\\(cq", s); gsub(/‘/, "\\(oq", s); gsub(/“/, "\\(lq", s)
    gsub(/”/, "\\(rq", s); gsub(/−/, "\\-", s); gsub(/µ/, "\\(mc", s)
    return s
}

# Markdown inline markup to roff: `code` bold, **bold**, *italic*, links
# as their text.
function inline(s,    out, c, j, rest) {
    out = ""
    while (s != "") {
        c = substr(s, 1, 1)
        rest = substr(s, 2)
        if (c == "`" && (j = index(rest, "`")) > 0) {
            out = out "\\fB" lit(substr(rest, 1, j - 1)) "\\fR"
            s = substr(rest, j + 1)
        } else if (substr(s, 1, 2) == "**" && (j = index(substr(s, 3), "**")) > 0) {
            out = out "\\fB" inline(substr(s, 3, j - 1)) "\\fR"
            s = substr(s, j + 4)
        } else if (c == "*" && rest !~ /^[ *]/ && (j = index(rest, "*")) > 1) {
            out = out "\\fI" inline(substr(rest, 1, j - 1)) "\\fR"
            s = substr(rest, j + 1)
        } else if (c == "[" && (j = index(s, "](")) > 0 && index(substr(s, j), ")") > 0) {
            out = out inline(substr(s, 2, j - 2))
            s = substr(s, j + index(substr(s, j), ")"))
        } else {
            out = out esc(c)
            s = rest
        }
    }
    return chars(out)
}

# A heading, inside the quotes of .SH or .SS.
function heading(s) {
    s = inline(s)
    gsub(/"/, "\\(dq", s)
    return s
}

# A line of roff text must not begin with a control character.
function text_line(s) {
    if (s ~ /^[.']/)
        s = "\\&" s
    return s
}

function installed_commands(s) {
    gsub(/(\.\/)?build\/[^ `]*demos\/vmlab-watch/, "vmlab watch", s)
    gsub(/(\.\/)?build\/[^ `]*demos\//, "vmlab ", s)
    return s
}

# Splits a Markdown table row into cells[1..n]; a "|" inside `code` is text.
function split_row(s, cells,    n, i, c, code, cell) {
    sub(/^ *\|/, "", s)
    sub(/\| *$/, "", s)
    n = 0; code = 0; cell = ""
    for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "`")
            code = !code
        if (c == "|" && !code) {
            cells[++n] = trim(cell); cell = ""
        } else {
            cell = cell c
        }
    }
    cells[++n] = trim(cell)
    return n
}

function trim(s) {
    sub(/^[ \t]+/, "", s)
    sub(/[ \t]+$/, "", s)
    return s
}

# ---- output, kept in parts and printed in order at the end ----

function emit(where, s) {
    part[where] = part[where] s "\n"
}

# ---- file 1: the lab sheet ----

# A paragraph or list item is gathered whole before its markup is read:
# `code` and **bold** may run across the Markdown's line breaks.
function sheet_flush() {
    if (pending_head != "")
        emit(where, pending_head "\n" text_line(inline(installed_commands(pending))))
    pending_head = ""
    pending = ""
}

function sheet_close_block() {
    sheet_flush()
    sheet_in_table = 0
    sheet_in_par = 0
}

FNR == NR && !sheet_started && /^# / {
    title = $0
    sub(/^# +/, "", title)
    # "mmap-anon — memory is only ..." -> "memory is only ..."
    if ((j = index(title, " — ")) > 0)
        title = substr(title, j + length(" — "))
    sheet_started = 1
    where = "intro"
    next
}
FNR == NR && sheet_in_code {
    if ($0 ~ /^```/) {
        emit(where, ".fi\n.RE")
        sheet_in_code = 0
        sheet_close_block()
    } else {
        emit(where, text_line(chars(lit(installed_commands($0)))))
    }
    next
}
FNR == NR && /^```/ {
    sheet_close_block()
    emit(where, ".PP\n.RS 2\n.nf")
    sheet_in_code = 1
    next
}
FNR == NR && /^## / {
    sheet_close_block()
    h = $0
    sub(/^## +/, "", h)
    nsections++
    where = "sheet" nsections
    emit(where, ".SH \"" heading(toupper(h)) "\"")
    next
}
FNR == NR && /^###+ / {
    sheet_close_block()
    h = $0
    sub(/^###+ +/, "", h)
    emit(where, ".SS \"" heading(h) "\"")
    next
}
FNR == NR && /^ *\|/ {
    sheet_flush()
    n = split_row(installed_commands($0), cells)
    if (!sheet_in_table) {
        # the header row: kept to label the third and later columns
        for (k = 1; k <= n; k++)
            header[k] = cells[k]
        sheet_in_table = 1
        sheet_in_par = 0
        next
    }
    if (cells[1] ~ /^:?-+:?$/)
        next
    emit(where, ".TP\n" text_line(inline(cells[1])))
    for (k = 2; k <= n; k++) {
        if (n > 2)
            emit(where, (k > 2 ? ".br\n" : "") "\\fI" inline(header[k]) ":\\fR " inline(cells[k]))
        else
            emit(where, text_line(inline(cells[k])))
    }
    next
}
FNR == NR && /^[ \t]*$/ {
    sheet_close_block()
    next
}
FNR == NR && /^ *[-*] / {
    sheet_flush()
    sheet_in_table = 0
    s = $0
    sub(/^ *[-*] +/, "", s)
    pending_head = ".IP \\(bu 2"
    pending = s
    sheet_in_par = 1
    next
}
FNR == NR && /^ *[0-9]+\. / {
    sheet_in_table = 0
    s = $0
    num = s
    sub(/^ */, "", num)
    sub(/\..*/, "", num)
    sub(/^ *[0-9]+\. +/, "", s)
    sheet_flush()
    pending_head = ".IP " num ". 4"
    pending = s
    sheet_in_par = 1
    next
}
FNR == NR {
    sheet_in_table = 0
    s = $0
    sub(/^ +/, "", s)
    if (!sheet_in_par) {
        sheet_flush()
        pending_head = ".PP"
        pending = s
        sheet_in_par = 1
    } else {
        pending = pending " " s
    }
    next
}

# ---- file 2: the program's --help ----

# "  --size SIZE", "  -h, --help", "  tour [OPTIONS]": bold words, arguments
# in capitals as italic.
function term(s,    out, n, i, w, words, pre, post) {
    out = ""
    n = split(s, words, " ")
    for (i = 1; i <= n; i++) {
        w = words[i]
        # brackets and a trailing comma stay roman around the word
        pre = w; sub(/[^[]*$/, "", pre)
        w = substr(w, length(pre) + 1)
        post = w; sub(/^[^],]*/, "", post)
        w = substr(w, 1, length(w) - length(post))
        if (w == "")
            ;
        else if ((w ~ /^[A-Z][A-Z0-9_|.-]*$/ && w !~ /^-/) || w == "options" || w == "OPTIONS")
            w = "\\fI" lit(w) "\\fR"
        else
            w = "\\fB" lit(w) "\\fR"
        out = out (i > 1 ? " " : "") pre w post
    }
    return out
}

function help_section(name) {
    nhelp++
    hwhere = "help" nhelp
    emit(hwhere, ".SH \"" name "\"")
    hmode = (name == "EXAMPLES") ? "examples" : "list"
    hpar = 0
}

FNR == 1 && FNR != NR {
    sheet_close_block()
    # "Usage: NAME [options] ARGS" (wrapped lines follow, indented)
    usage = $0
    sub(/^Usage: +/, "", usage)
    hmode = "usage"
    next
}
hmode == "usage" && /^ / { usage = usage " " trim($0); next }
hmode == "usage" && /^$/ { hmode = "description"; hwhere = "description"; hpar = 0; next }
/^[A-Z][A-Za-z ]*:$/ {
    help_section(toupper(substr($0, 1, length($0) - 1)))
    next
}
/^Exit status: / {
    help_section("EXIT STATUS")
    hmode = "text"
    s = $0
    sub(/^Exit status: +/, "", s)
    emit(hwhere, ".PP\n" text_line(chars(esc(s))))
    hpar = 1
    next
}
/^$/ {
    if (hmode == "examples" && hpar) {
        emit(hwhere, ".fi")
        examples_open[hwhere] = 0
    }
    hpar = 0
    hitem = 0
    next
}
hmode == "examples" {
    s = $0
    # "  sudo mmap-anon --step": the installed command is "vmlab mmap-anon"
    if (program != "vmlab" && match(s, "^ *(sudo )?" program "( |$)")) {
        lead = substr(s, 1, RLENGTH)
        sub(program, "vmlab " command, lead)
        s = lead substr(s, RLENGTH + 1)
    }
    if (!hpar) {
        emit(hwhere, ".PP\n.nf")
        hpar = 1
        examples_open[hwhere] = 1
    }
    emit(hwhere, text_line(chars(lit(s))))
    next
}
hmode == "list" && /^  [^ ]/ {
    # an entry: the term, two or more spaces, its text
    s = substr($0, 3)
    if (match(s, /  +/)) {
        t = substr(s, 1, RSTART - 1)
        s = substr(s, RSTART + RLENGTH)
    } else {
        t = s
        s = ""
    }
    emit(hwhere, ".TP\n" term(t))
    if (s != "")
        emit(hwhere, text_line(chars(esc(s))))
    hitem = 1
    hpar = 1
    next
}
hmode == "list" && hitem && /^   / {
    emit(hwhere, text_line(chars(esc(trim($0)))))
    next
}
{
    # plain text: the description, or a paragraph after a list
    if (!hpar) {
        emit(hwhere, ".PP")
        hpar = 1
    }
    emit(hwhere, text_line(chars(esc(trim($0)))))
}

END {
    upper = toupper(page)
    print ".\\\" -*- coding: UTF-8 -*-"
    print ".\\\" Generated by docs/man/mkman.awk from " program " --help and its lab sheet; edit those."
    print ".TH \"" upper "\" 1 \"\" \"vmlab " version "\" \"vmlab manual\""
    # no hyphenation, ragged right: commands and sizes stay whole on a projector
    print ".nh"
    print ".ad l"
    print ".SH NAME"
    if (title == "")
        title = "part of vmlab"
    print lit(page) " \\- " chars(esc(title))
    print ".SH SYNOPSIS"
    if (program == "vmlab")
        print term(usage)
    else
        print "\\fBvmlab\\fR " term(command substr(usage, length(program) + 1))
    print ".SH DESCRIPTION"
    printf "%s", part["description"]
    printf "%s", part["intro"]
    for (i = 1; i <= nhelp; i++) {
        printf "%s", part["help" i]
        if (examples_open["help" i])
            print ".fi"
    }
    for (i = 1; i <= nsections; i++)
        printf "%s", part["sheet" i]
    print ".SH \"SEE ALSO\""
    n = split(see, refs, " ")
    for (i = 1; i <= n; i++) {
        r = refs[i]
        sub(/\(/, " (", r)
        split(r, rp, " ")
        printf "\\fB%s\\fR%s%s\n", lit(rp[1]), rp[2], (i < n ? "," : "")
    }
    print ".PP"
    print "The lab sheets and the rest of vmlab's documentation are installed in"
    print "\\fIshare/doc/vmlab\\fR under the installation prefix"
    print "(\\fI/usr/share/doc/vmlab\\fR from the Debian package)."
}
