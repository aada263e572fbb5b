# SPDX-License-Identifier: MIT
# Prints every CMake command invocation in the files given, one a line:
#   FILE:LINE<TAB>command<TAB>its arguments, joined on one line
# Comments are dropped; the command name is lowercased (CMake's are not
# case-sensitive). Used by test_cmake_minimum.sh.
function flush() {
    if (cmd != "")
        printf "%s:%d\t%s\t%s\n", file, line, cmd, args
    cmd = ""
    args = ""
    depth = 0
}
FNR == 1 { flush() }
{
    s = $0
    # a comment starts at a # outside quotes
    out = ""; q = 0
    for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "\"" && substr(s, i - 1, 1) != "\\") q = !q
        if (c == "#" && !q) break
        out = out c
    }
    s = out
    if (depth == 0) {
        if (match(s, /^[ \t]*[A-Za-z_][A-Za-z0-9_]*[ \t]*\(/)) {
            name = substr(s, RSTART, RLENGTH - 1)
            gsub(/[ \t]/, "", name)
            cmd = tolower(name)
            file = FILENAME
            line = FNR
            s = substr(s, RSTART + RLENGTH)
            depth = 1
        } else {
            next
        }
    }
    # count parentheses outside quotes to find where the invocation ends
    q = 0
    for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "\"" && substr(s, i - 1, 1) != "\\") q = !q
        if (q) continue
        if (c == "(") depth++
        if (c == ")") {
            depth--
            if (depth == 0) {
                args = args " " substr(s, 1, i - 1)
                flush()
                next
            }
        }
    }
    args = args " " s
}
END { flush() }
