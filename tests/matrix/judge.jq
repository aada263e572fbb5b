# SPDX-License-Identifier: MIT
# Judges one run of a demo. $mode json: the input is its stdout as raw text
# (jq -R -s); $mode plain: its stderr. $rc its exit status, $user who ran it,
# $machine what run-demos.sh read of the machine (null: nothing). Output: one
# line per problem, none when the run is consistent. The rules by demo, by
# finding id and by machine are in rules.jq.
include "rules";

def isnum: type == "number";
# The name under which a word of a note ("Rss", "Free") is a key of $o.
def keyin($o; $w): [$w, $w + "_kB", "HugePages_" + $w] | map(select(. as $c | $o | has($c))) | first // null;

# Phrases that state a number or a direction, checked against the step's own
# before/after/delta whenever the word names one of its keys.
def phrase_checks:
  . as $s | ($s.note // "") as $note | ($s.delta // {}) as $d | ($s.after // {}) as $a |
  ( $note | [match("(?<k>[A-Za-z_]+) (did not|didn't) (?<v>grow|move|change)"; "g")] | .[] |
    (.captures | map(select(.name != null) | {(.name): .string}) | add) as $c | keyin($d; $c.k) as $key |
    select($key != null and ($d[$key] | isnum)) |
    select(($c.v == "grow" and $d[$key] > 0) or ($c.v != "grow" and $d[$key] != 0)) |
    "the note says \($c.k) did not \($c.v), but \($key) moved by \($d[$key])" ),
  ( $note | [match("(?<k>[A-Za-z_]+) (grew|moved) by (exactly )?(?<n>[+-]?[0-9]+) kB"; "g")] | .[] |
    (.captures | map(select(.name != null) | {(.name): .string}) | add) as $c | keyin($d; $c.k) as $key |
    select($key != null and ($d[$key] | isnum) and $d[$key] != ($c.n | tonumber)) |
    "the note says \($c.k) moved by \($c.n) kB, but \($key) moved by \($d[$key])" ),
  ( $note | [match("(?<k>[A-Za-z_]+) went (?<dir>up|down) by (?<n>[0-9]+)"; "g")] | .[] |
    (.captures | map(select(.name != null) | {(.name): .string}) | add) as $c | keyin($d; $c.k) as $key |
    (($c.n | tonumber) * (if $c.dir == "up" then 1 else -1 end)) as $want |
    select($key != null and ($d[$key] | isnum) and $d[$key] != $want) |
    "the note says \($c.k) went \($c.dir) by \($c.n), but \($key) moved by \($d[$key])" ),
  ( $note | [match("(?<k>[A-Za-z_]+) grew(?! by)"; "g")] | .[] |
    (.captures | map(select(.name != null) | {(.name): .string}) | add) as $c | keyin($d; $c.k) as $key |
    select($key != null and ($d[$key] | isnum) and $d[$key] <= 0) |
    "the note says \($c.k) grew, but \($key) moved by \($d[$key])" ),
  ( $note | [match("(?<k>[A-Za-z_]+) is (still )?(?<n>[0-9]+) kB"; "g")] | .[] |
    (.captures | map(select(.name != null) | {(.name): .string}) | add) as $c | keyin($a; $c.k) as $key |
    select($key != null and ($a[$key] | isnum) and $a[$key] != ($c.n | tonumber)) |
    "the note says \($c.k) is \($c.n) kB, but \($key) is \($a[$key])" );

def step_problems:
  . as $s |
  ( if ($s.note | type) != "string" then "no note" else empty end ),
  # delta is after - before, for every key that has all three
  ( ($s.delta // {}) | to_entries[] | .key as $k |
    select((.value | isnum) and ($s.before[$k]? | isnum) and ($s.after[$k]? | isnum)) |
    select(.value != $s.after[$k] - $s.before[$k]) |
    "delta.\($k) is \(.value), but after - before is \($s.after[$k] - $s.before[$k])" ),
  # findings, when the demo writes them
  ( if $s | has("findings") then
      if ($s.findings | type) != "array" then "findings is not an array" else
        ( $s.findings[] |
          ( if (.id | type) != "string" or (.id | test("^[a-z][a-z0-9_]*$") | not) then
              "a finding's id is not snake_case: \(.id)" else empty end ),
          ( if (.held | type) != "boolean" then "finding \(.id): held is not true/false" else empty end ),
          ( if (.values // {} | type) != "object" then "finding \(.id): values is not an object"
            else (.values // {} | to_entries[] | select(.value | isnum | not) |
                  "finding values are numbers, but \(.key) is \(.value | tojson)") end ) ),
        ( $s.findings[] | select(.held == true) as $f | $s | finding_rule($f) )
      end
    else empty end ),
  phrase_checks,
  note_rules,
  machine_rules($machine);

# A skip (77) must say what would enable the demo: a command or an option.
def enabling_command:
  test("sudo |echo [^ ]+ > /|mount |systemd-run|docker run|sysctl |modprobe |apt-get |ulimit |chown |mkdir |cgcreate|run (it|this demo|the demo|them)? ?(again )?(with|as)|--[a-z][a-z-]+"; "i");

# A skip that tells root to get root.
def become_root: test("(must|need|needs|requires) (to be )?root|not root|run (it )?as root|sudo "; "i");

if $mode == "plain" then
  # Input: the plain run's stderr. Its stdout is prose and is not judged.
  ( if $rc == "77" and (enabling_command | not) then
      "a skip without the command that would enable it: \(.[0:300])" else empty end ),
  ( if $rc == "77" and ($user == "root" or $user == "container") and become_root then
      "tells root to become root: \(.[0:300])" else empty end )
else
split("\n") | map(select(length > 0)) as $lines |
[ $lines | to_entries[] | {n: (.key + 1), raw: .value, v: (.value | try fromjson catch null)} ] as $objs |
( $objs[] | select((.v | type) != "object") | "stdout line \(.n) is not a JSON object: \(.raw[0:100])" ),
( [ $objs[] | .v | select(type == "object") ] as $vs |
  ( if ($vs | length) == 0 then "no JSON on stdout" else empty end ),
  # The run's own result line ends the output and matches the exit status.
  ( $vs | last | select(. != null) |
    if has("result") | not then "the last line is not a result line"
    else
      ({"ok": "0", "skip": "77", "fail": "1"}[.result] // "?") as $want |
      if $want != $rc then "result \(.result | tojson) but exit status \($rc)" else empty end
    end ),
  # Every result line (the tour has one per demo it ran).
  ( $vs[] | select(has("result")) |
    ( if .result == "skip" and ((.reason // "") | enabling_command | not) then
        "\(.demo): a skip without the command that would enable it: \(.reason)" else empty end ),
    ( if .result == "skip" and ($user == "root" or $user == "container") and ((.reason // "") | become_root) then
        "\(.demo): tells root to become root: \(.reason)" else empty end ),
    result_rules($user) ),
  ( $vs[] | select(has("step")) | . as $s |
    step_problems | "step \($s.step) (\($s.demo)): \(.)" ) )
end
