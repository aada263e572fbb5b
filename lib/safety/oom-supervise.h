/* SPDX-License-Identifier: MIT */
/* oom-supervise: the plumbing around oom-killer-try's lesson, kept out of
 * the demo so that the demo's file is the lesson (the victim's loop).
 *
 * The victim is a child process. It reports to its supervisor through a
 * pipe: fixed-size records, smaller than PIPE_BUF so that every write is
 * atomic and whatever it wrote before a SIGKILL can still be read. The
 * supervisor starts it (inside the cgroup lib/safety/confine made, or in a
 * systemd scope by re-running this program), collects its reports as a
 * time series, and reads what the kernel logged about it from /dev/kmsg. */
#ifndef VMLAB_OOM_SUPERVISE_H
#define VMLAB_OOM_SUPERVISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>
#include <sys/types.h>

#include "confine.h"
#include "narrate.h"

enum oom_record_kind { OOM_HELLO, OOM_PROGRESS, OOM_DONE, OOM_REFUSED };

struct oom_record {
    int kind;
    int err;                    /* OOM_DONE: errno of the failed allocation, or 0 */
    long pid;
    int64_t oom_score, oom_score_adj;
    uint64_t iteration;
    int64_t t_ms;               /* since the allocation step began */
    int64_t vmsize_kb, vmrss_kb, vmpte_kb;   /* the victim's own /proc/self/status */
    char text[512];             /* HELLO: its cgroup; PROGRESS: the [heap]; REFUSED: why */
};

/* ---- in the victim ---- */

/* First thing in main: true where this process is the victim oom_start re-ran in a systemd
 * scope as "--vmlab-victim FD GOFD options..."; the three words leave argv (its options
 * follow argv[0]) and FD, GOFD are its pipes. Anything but this program's own two pipes
 * there is a usage error naming --vmlab-victim: that line is not for typing by hand. */
bool oom_victim_args(const struct demo_info *info, int *argc, char ***argv, int *records, int *go);
/* Confined: false (and an OOM_REFUSED record) unless a limit <= max_bytes applies. */
bool oom_victim_confined(int fd, uint64_t max_bytes, bool confined, char *dir, size_t dirlen);
/* Sends OOM_HELLO: PID, oom_score, oom_score_adj, its status, `dir`. */
void oom_victim_hello(int fd, const char *dir);
/* Waits for the supervisor's byte on `go` (the first starts t_ms's clock); false: closed. */
bool oom_victim_wait(int go);
/* Sends a PROGRESS or DONE record; with heap, the [heap] of /proc/self/maps. */
void oom_victim_report(int fd, int kind, uint64_t iteration, int err, bool heap);

/* ---- in the supervisor ---- */

struct oom_victim {
    pid_t pid;
    int records;   /* read end of the reports */
    int go;        /* write end: one byte starts the loop, close() lets it end */
};

/* Forks the victim: it joins the cgroup (or re-runs argv[0] as "--vmlab-victim FD
 * GOFD args..." in a systemd scope), then calls run(records, go), not to return. */
void oom_start(struct narrator *n, struct oom_victim *v, const struct confine *c, char **argv,
               void (*run)(int records, int go));

#define OOM_MAX_SAMPLES 64
struct oom_watch {
    struct oom_record hello, last;
    bool have_hello, refused, have_last, done, timed_out;
    /* The time series of the reports (the last one always kept): t_ms, VmSize, VmRSS
     * and VmPTE, in the order of oom_watch_facts's keys. */
    int64_t series[4][OOM_MAX_SAMPLES];
    size_t nsamples;
    int64_t host_available_before_kb, host_available_lowest_kb;
};

/* The hello (or refusal), waiting at most timeout_ms. */
bool oom_wait_hello(struct oom_victim *v, struct oom_watch *w, int timeout_ms);
/* Starts the victim's loop (its byte on go), then reads reports until OOM_DONE or the
 * pipe closes, or kills the victim after timeout_s; verbose: each shown with narrate_live. */
void oom_watch(struct narrator *n, struct oom_victim *v, uint64_t timeout_s, bool verbose,
               struct oom_watch *w);

/* /dev/kmsg at its end (only what the kernel says from now on); -1 and why. */
int oom_kmsg_open(char *why, size_t len);

#define OOM_KMSG_LINES 8
struct oom_kmsg {
    char lines[OOM_KMSG_LINES][512];   /* each distinct line once */
    size_t nlines;
    int repeats;                       /* lines seen again, word for word */
    int killed_lines;                  /* "Killed process PID", repeats included */
};
/* The kernel's lines about pid ("Killed process PID", "pid=PID,", "reaped ..."). */
void oom_kmsg_read(int fd, long pid, struct oom_kmsg *k);

/* Those lines as facts kernel_1..N, kernel_lines, kernel_repeats; fd < 0: kernel_log. */
void oom_kmsg_facts(struct narrator *n, int fd, const char *why, long pid, struct oom_kmsg *k);

/* The series (samples_*: JSON arrays) and the host's MemAvailable before and lowest. */
void oom_watch_facts(struct narrator *n, const struct oom_watch *w);

/* The paragraph before the steps; with --unconfined a warning on stderr. */
void oom_intro(struct narrator *n, uint64_t count, uint64_t block, const char *via, const char *touch,
               bool unconfined);

/* Step 1, the safety net: the cgroup's facts and which limit applies. */
void oom_explain_confinement(struct narrator *n, const struct confine *c);

/* Step 2's safety facts: why the OOM killer takes the victim, not the supervisor. */
void oom_explain_supervisor(struct narrator *n, bool protected_self, const struct oom_record *hello);

/* The count the victim's OOM kill shows in: its cgroup's oom_kill, or without one
 * /proc/vmstat's (every OOM kill on the machine). False where it cannot be read. */
bool oom_kill_count(const struct confine *c, uint64_t *count);
/* That count, named for a sentence. */
const char *oom_kill_counter(const struct confine *c);

/* oom_score_adj -1000 (never chosen); false where it may not (no CAP_SYS_RESOURCE). */
bool oom_protect_self(void);

/* The end: reaps a victim that never said hello, removes the cgroup this run made, and
 * says what happened to both, as measured. */
noreturn void oom_finish(struct narrator *n, struct confine *c, const struct oom_watch *w, pid_t pid,
                         int status);

#endif
