# SPDX-License-Identifier: MIT
# Per-demo rules of the matrix judge: what a note may say, given its own
# step's numbers, and what a step must show on this machine. judge.jq calls
# them for every step object of every --json run; each emits one string per
# contradiction found (nothing if the step is consistent). Add a rule: a def
# below plus one line in finding_rule, note_rules or machine_rules (or an
# entry in segv_expected). Inputs: . is the step object; $f a finding of it;
# $m the machine's facts.

# ---- rules keyed by finding id (issue 9's {"id","held","values"}) ----

# One write to untouched anonymous memory: one fault, one 4 KiB page of Rss.
def rule_first_write_one_page($f):
  if .delta.Rss_kB? != null and .delta.Rss_kB != 4 then
    "finding first_write_one_page held, but Rss_kB moved by \(.delta.Rss_kB), not 4" else empty end,
  if $f.values.rss_delta_kB? != null and .delta.Rss_kB? != null and $f.values.rss_delta_kB != .delta.Rss_kB then
    "finding first_write_one_page says rss_delta_kB \($f.values.rss_delta_kB), the step's delta says \(.delta.Rss_kB)" else empty end;

# A read of untouched memory maps the shared zero page: Rss does not grow.
def rule_read_maps_zero_page($f):
  if (.delta.Rss_kB? // 0) > 0 then
    "finding \($f.id) held, but Rss_kB grew by \(.delta.Rss_kB)" else empty end;

# A huge page arrived: AnonHugePages must have grown in this very step.
def rule_thp_huge_page($f):
  if (.delta.AnonHugePages_kB? // 0) <= 0 then
    "finding \($f.id) held, but AnonHugePages_kB moved by \(.delta.AnonHugePages_kB? // 0)" else empty end;

def finding_rule($f):
  if $f.id == "first_write_one_page" then rule_first_write_one_page($f)
  elif $f.id == "read_maps_zero_page" or $f.id == "zero_page_mapped" then rule_read_maps_zero_page($f)
  elif $f.id == "thp_one_fault_2M" or $f.id == "huge_page_in_one_fault" then rule_thp_huge_page($f)
  else empty end;

# ---- rules for today's JSON, which has facts but no findings ----
# Each guards a sentence that explains an event: the event must have happened.

def rule_map_noreserve_fit:
  if .demo == "map-noreserve" and (.id == "fit" or .id == "fit_noreserve")
     and (.note // "" | test("^Granted"))
     and ((.facts.result? // "granted") != "granted") then
    "the note says a request that fits was granted, but mmap answered \(.facts.result)"
  else empty end;

def rule_map_noreserve_protnone:
  if .demo == "map-noreserve" and (.note // "" | test("commit it piece by piece"))
     and ((.facts.result? // .facts.mprotect? // "granted") != "granted") then
    "the note explains committing piece by piece, but mprotect to read-write was refused (\(.facts.result? // .facts.mprotect))"
  else empty end;

def rule_mmap_anon_thp_never:
  if .demo == "mmap-anon" and (.note // "" | test("with huge pages, one fault can map"))
     and (.after.AnonHugePages_kB? // 0) == 0 then
    "the note credits huge pages with mapping 512 pages per fault, but AnonHugePages_kB is \(.after.AnonHugePages_kB? // 0)"
  else empty end;

# mmap-anon's step 6 with huge pages: its fault count must be explained - one per huge page
# but one, the huge zero page split into base pages (kernels before 6.13: 518 for 16 MiB),
# or a huge page taken by the read already (use_zero_page 0) - never left unsaid.
def rule_mmap_anon_thp_faults:
  if .demo == "mmap-anon" and .id == "write_every_page" and (.after.AnonHugePages_kB? // 0) > 0
     and ([.findings[]? | select(.held == true) | .id]
          | any(. == "one_fault_per_huge_page" or . == "huge_zero_page_split"
                or . == "one_fault_per_huge_page_but_two") | not) then
    "\(.delta.minor_faults) minor faults with \(.after.AnonHugePages_kB) kB in huge pages, and no finding explains the count"
  else empty end;

# One victim, oom_kill moved by 2 (seen on 6.1 and 6.12 under cgroup v2: the
# killer ran again while the victim was still exiting): the note must report
# the count it measured, not tell a story of one kill.
def rule_oom_count:
  (.delta.oom_kill? // 0) as $n |
  if .demo == "oom-killer-try" and $n > 1
     and ((.note // "") | test("\\b\($n)\\b|twice|again") | not) then
    "oom_kill moved by \($n), but the note neither reports nor explains the count"
  else empty end;

# A kernel line is evidence once: the same line twice in the facts reads as two events.
def rule_kernel_lines_once:
  [ (.facts // {}) | to_entries[] | select(.key | test("^kernel_[0-9]+$")) | .value ] as $lines |
  if ($lines | length) != ($lines | unique | length) then
    "the same kernel line is shown \(($lines | length) - ($lines | unique | length) + 1) times"
  else empty end;

def note_rules:
  rule_map_noreserve_fit, rule_map_noreserve_protnone, rule_mmap_anon_thp_never,
  rule_mmap_anon_thp_faults, rule_oom_count, rule_kernel_lines_once;

# ---- rules on a run's result line, knowing how the cell was set up ----

# A user who owns a delegated cgroup-v2 subtree with +memory may confine the
# OOM victim there (issue 8): a skip is a demo that did not look.
def rule_oom_delegated($user):
  if .demo == "oom-killer-try" and .result == "skip" and $user == "delegated" then
    "skipped, but this user owns a delegated cgroup-v2 subtree with the memory controller (/sys/fs/cgroup/student) where it may confine the victim: \(.reason)"
  else empty end;

def result_rules($user):
  rule_oom_delegated($user);

# ---- rules on what the machine offers, as run-demos.sh read it itself ----
# $m: /proc/cpuinfo's flags pku, ospke, la57, lass as 0/1 (runs/machine.facts),
# null where nothing was recorded. segv-pgfault's and kernel-address's cases whose
# outcome depends on the machine must show the outcome this machine gives, whatever the demo
# itself concluded about the machine.

# The findings a case must hold here and the si_code the kernel must have
# sent (null: none, the case did not run), with the facts that say why.
def segv_expected($m):
  ($m.la57 == 1) as $five | ($m.lass == 1) as $lass |
  (if $five then "five_level_paging" else "four_level_paging" end) as $paging |
  "/proc/cpuinfo lists \(if $five then "" else "no " end)la57" as $la57_why |
  # Canonical in no paging mode (0x8000000000000000), or not in this one: a #GP.
  {held: [$paging, "noncanonical_general_protection"], si_code: "SI_KERNEL", because: $la57_why}
    as $noncanonical |
  # Canonical, in the kernel's half: a page fault, or with LASS a #GP before the walk.
  (if $lass then
     {held: [$paging, "lass_general_protection"], si_code: "SI_KERNEL",
      because: "/proc/cpuinfo lists lass \(if $five then "and" else "but no" end) la57"}
   else
     {held: [$paging, "kernel_half_page_fault"], si_code: "SEGV_MAPERR", because: $la57_why}
   end) as $kernel_half |
  {
    pkey_read: (if $m.ospke == 1 then
                  {held: ["protection_key_denied"], si_code: "SEGV_PKUERR",
                   because: "/proc/cpuinfo lists ospke"}
                else
                  {held: ["case_not_run", "no_protection_keys"], si_code: null,
                   because: "/proc/cpuinfo lists no ospke"}
                end),
    kernel_read: $kernel_half,                 # 0xffffffff81000000, canonical in both modes
    kernel_write: $kernel_half,
    noncanonical_read: $noncanonical,
    exercise_read: (if $five then $kernel_half else $noncanonical end), # 0xffff0a8700100000
    exercise_write: (if $five then $kernel_half else $noncanonical end)
  };

def machine_rules($m):
  if (.demo == "segv-pgfault" or .demo == "kernel-address") and (.id | type) == "string" then
    . as $s |
    if $m == null then
      if segv_expected({}) | has($s.id) then
        "no machine facts recorded (runs/machine.facts): this case cannot be held against the machine"
      else empty end
    else
      segv_expected($m)[$s.id] // empty | . as $want |
      [$s.findings[]? | select(.held == true) | .id] as $held |
      ( $want.held[] | select(. as $id | $held | any(. == $id) | not) |
        "\($want.because), but finding \(.) did not hold (held: \($held | join(", ")))" ),
      ( if $want.si_code != null and $s.facts.si_code? != $want.si_code then
          "\($want.because), but si_code is \($s.facts.si_code? // "not shown"), not \($want.si_code)"
        else empty end )
    end
  else empty end;
