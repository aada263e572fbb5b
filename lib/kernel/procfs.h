/* SPDX-License-Identifier: MIT */
/* procfs: read what the kernel says about memory, by key.
 *
 * The parsers take a FILE * or text (the tests feed them fixtures); procfs_read_*
 * open the real file. Rules that hold everywhere:
 *   - lines are matched by key, never by position: kernels add fields over time;
 *   - unknown keys are skipped, and a key that is not there is "absent", never 0;
 *   - a malformed or truncated input is an error, never a guess;
 *   - lines are read into a fixed buffer: no allocation per line, no out of bounds.
 */
#ifndef VMLAB_PROCFS_H
#define VMLAB_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

enum procfs_status {
    PROCFS_OK = 0,
    PROCFS_NOT_FOUND,  /* no entry covers that address, or the file is empty */
    PROCFS_MALFORMED,  /* a line that is not "Key: value", or a bad number  */
    PROCFS_TRUNCATED,  /* the input ends in the middle of a line            */
    PROCFS_OVERFLOW,   /* a number does not fit in 64 bits                   */
    PROCFS_IO,         /* the file could not be opened or read (see errno)   */
};

const char *procfs_strerror(enum procfs_status status);

/* One "Key: value [kB]" field. */
struct procfs_field {
    char key[32];
    uint64_t value;
};

#define SMAPS_MAX_FIELDS 48

/* One mapping as /proc/PID/smaps describes it. */
struct smaps_entry {
    uintptr_t start, end;
    char perms[5];          /* "rw-p" */
    uint64_t offset;
    unsigned dev_major, dev_minor;
    uint64_t inode;
    char name[256];         /* path, "[heap]", or "" for anonymous memory */
    size_t nfields;
    struct procfs_field fields[SMAPS_MAX_FIELDS];
    bool has_vmflags;
    char vmflags[160];      /* "rd wr mr mw me ac nh", may be empty */
};

/* Find the entry whose range contains addr. Stops reading at the next entry. */
enum procfs_status smaps_parse_entry(FILE *in, uintptr_t addr, struct smaps_entry *out);
enum procfs_status smaps_read_entry(uintptr_t addr, struct smaps_entry *out);

/* Calls fn for every entry, in address order (vmlab-watch draws them all). */
typedef void (*smaps_visit)(const struct smaps_entry *e, void *ctx);
enum procfs_status smaps_parse_each(FILE *in, smaps_visit fn, void *ctx);

/* Value of a field by key (e.g. "Rss"); false when the kernel did not print it. */
bool smaps_get(const struct smaps_entry *e, const char *key, uint64_t *value);
/* True when VmFlags lists the two-letter flag (e.g. "nh"). */
bool smaps_has_flag(const struct smaps_entry *e, const char *flag);
/* The header line, as /proc/self/maps shows it (spacing aside). */
void smaps_format_header(const struct smaps_entry *e, char *buf, size_t len);

/* A request for "Key: value" lines, as in /proc/meminfo and /proc/self/status.
 * The caller fills in the keys; the parser sets value/present for each. */
struct procfs_want {
    const char *key;
    uint64_t value;
    bool present;
};

/* Lines whose key is not wanted are skipped unparsed (/proc/self/status has text
 * values). The key ends at `separator`: ':' (procfs_read_keyed) or ' ' (pairs). */
enum procfs_status procfs_parse_wanted(FILE *in, struct procfs_want *want, size_t n,
                                       char separator);
enum procfs_status procfs_read_keyed(const char *path, struct procfs_want *want, size_t n);

/* One numeric "Key:" field of a file such as /proc/meminfo: its value, or -1
 * when the file cannot be read or has no such key (absent, never 0). */
int64_t procfs_read_one(const char *path, const char *key);

/* The same for "key value" lines without a colon, as in /proc/vmstat,
 * memory.events, memory.stat and memory.oom_control. */
enum procfs_status procfs_read_pairs(const char *path, struct procfs_want *want, size_t n);

/* A small file, whole (at most len - 1 bytes), NUL-terminated: its length, or -1
 * with errno (and buf ""). Only open, read and close: the undo reads in a handler. */
ssize_t procfs_read_text(const char *path, char *buf, size_t len);
/* The other way, with one write(); 0, or -1 with errno. Async-signal-safe too. */
int procfs_write_text(const char *path, const char *text);

/* Whether `word` is a whole item of `list`, items separated by `sep`:
 * VmFlags ("rd wr mr", ' '), a cgroup's controllers ("cpu,memory", ','). */
bool procfs_has_word(const char *list, const char *word, char sep);
/* The same for the first line of a file of space-separated words, such as
 * cgroup.controllers ("cpu io memory pids"). */
bool procfs_lists_word(const char *path, const char *word);

/* A file that holds one number and a newline (a /proc/sys value, a sysfs or cgroup
 * file): blanks around it and a '-' allowed, "max" reads as INT64_MAX.
 * Async-signal-safe. */
enum procfs_status procfs_read_number(const char *path, int64_t *value);
/* The same over the len bytes of such a file, already read. */
enum procfs_status procfs_parse_number(const char *text, size_t len, int64_t *value);
/* Reads /proc/sys/vm/<name>, never negative; name must be a plain file name. */
enum procfs_status procfs_read_vm_sysctl(const char *name, uint64_t *value);

/* Decimal digits at *p, at least one, without sign: *p is moved past them.
 * Async-signal-safe. */
enum procfs_status procfs_parse_decimal(const char **p, uint64_t *value);

/* A sysfs choice line such as "always [madvise] never": copies the word in
 * brackets (the one in force) to out. */
enum procfs_status procfs_parse_choice(FILE *in, char *out, size_t len);
enum procfs_status procfs_read_choice(const char *path, char *out, size_t len);

#endif
