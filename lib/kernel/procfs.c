/* SPDX-License-Identifier: MIT */
/* procfs: parsers for smaps, meminfo/status and /proc/sys/vm values.
 * See procfs.h for the rules every parser here follows. */
#define _GNU_SOURCE
#include "procfs.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Long enough for any smaps header with a PATH_MAX name; longer lines are
 * kept cut and the rest of the line is skipped. */
#define LINE_MAX_LEN 4352

const char *procfs_strerror(enum procfs_status status)
{
    switch (status) {
    case PROCFS_OK:        return "ok";
    case PROCFS_NOT_FOUND: return "not found";
    case PROCFS_MALFORMED: return "malformed line";
    case PROCFS_TRUNCATED: return "input ends in the middle of a line";
    case PROCFS_OVERFLOW:  return "number does not fit in 64 bits";
    case PROCFS_IO:        return "could not read the file";
    }
    return "unknown status";
}

/* Reads one line without its newline into buf; a longer line is kept cut
 * (*cut) and the rest of it skipped. PROCFS_NOT_FOUND: no line is left. The
 * kernel ends every line of these files with '\n'; a last line without one
 * means the input was cut short. */
static enum procfs_status next_line(FILE *in, char *buf, size_t len, bool *cut)
{
    *cut = false;
    if (!fgets_unlocked(buf, (int)len, in))
        return ferror(in) ? PROCFS_IO : PROCFS_NOT_FOUND;
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] == '\n') {
        buf[n - 1] = '\0';
        return PROCFS_OK;
    }
    if (feof(in))
        return PROCFS_TRUNCATED;
    if (n + 1 < len)
        return PROCFS_MALFORMED; /* fgets stopped early: a NUL byte inside the line */
    int c;
    while ((c = getc(in)) != EOF && c != '\n')
        ;
    *cut = c == '\n';
    return *cut ? PROCFS_OK : PROCFS_TRUNCATED;
}

/* Digits in `base` (10, or 16 in lower case as the kernel prints addresses),
 * at least one, without sign: *p is moved past them. '0'..'9' by range, not
 * isdigit(): the undo's signal handler parses with this, and <ctype.h> reads
 * the locale, which is not async-signal-safe. */
static enum procfs_status parse_digits(const char **p, uint64_t *value, unsigned base)
{
    const char *s = *p;
    uint64_t v = 0;
    for (;; s++) {
        unsigned digit;
        if (*s >= '0' && *s <= '9')
            digit = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            digit = (unsigned)(*s - 'a' + 10);
        else
            break;
        if (v > (UINT64_MAX - digit) / base)
            return PROCFS_OVERFLOW;
        v = v * base + digit;
    }
    if (s == *p)
        return PROCFS_MALFORMED;
    *p = s;
    *value = v;
    return PROCFS_OK;
}

enum procfs_status procfs_parse_decimal(const char **p, uint64_t *value)
{
    return parse_digits(p, value, 10);
}

/* A hex number and, right after it, the character `then`. */
static enum procfs_status hex_then(const char **p, uint64_t *value, char then)
{
    enum procfs_status st = parse_digits(p, value, 16);
    if (st == PROCFS_OK && *(*p)++ != then)
        return PROCFS_MALFORMED;
    return st;
}

static const char *skip_blanks(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* "Key:   1234 kB" -> value. Empty value: *empty = true. */
static enum procfs_status parse_value(const char *s, uint64_t *value, bool *empty)
{
    s = skip_blanks(s);
    *empty = (*s == '\0');
    if (*empty)
        return PROCFS_OK;
    enum procfs_status st = procfs_parse_decimal(&s, value);
    if (st != PROCFS_OK)
        return st;
    s = skip_blanks(s);
    if (strcmp(s, "kB") == 0)
        s = skip_blanks(s + 2);
    return *s == '\0' ? PROCFS_OK : PROCFS_MALFORMED;
}

/* A header line starts "start-end perms offset dev inode [name]". Returns
 * NOT_FOUND when the line is not a header (it is a "Key:" line). */
static enum procfs_status parse_smaps_header(const char *line, struct smaps_entry *e)
{
    const char *s = line;
    uint64_t start, end, offset, inode;
    /* Field keys start with a capital letter, addresses with lower-case hex
     * followed by '-': that alone tells the two kinds of line apart. */
    enum procfs_status st = hex_then(&s, &start, '-');
    if (st == PROCFS_MALFORMED)
        return PROCFS_NOT_FOUND;
    if (st != PROCFS_OK || (st = hex_then(&s, &end, ' ')) != PROCFS_OK)
        return st;
    if (end <= start)
        return PROCFS_MALFORMED;
    for (int i = 0; i < 4; i++, s++) {
        if (*s == '\0' || *s == ' ')
            return PROCFS_MALFORMED;
        e->perms[i] = *s;
    }
    e->perms[4] = '\0';
    if (*s++ != ' ')
        return PROCFS_MALFORMED;
    uint64_t major, minor; /* the device, "fe:00" */
    if ((st = hex_then(&s, &offset, ' ')) != PROCFS_OK ||
        (st = hex_then(&s, &major, ':')) != PROCFS_OK ||
        (st = hex_then(&s, &minor, ' ')) != PROCFS_OK ||
        (st = procfs_parse_decimal(&s, &inode)) != PROCFS_OK)
        return st;
    if (*s != '\0' && *s != ' ')
        return PROCFS_MALFORMED;
    s = skip_blanks(s);

    if (major > 0xfff || minor > 0xfffff)
        return PROCFS_OVERFLOW;
    e->start = (uintptr_t)start;
    e->end = (uintptr_t)end;
    e->offset = offset;
    e->dev_major = (unsigned)major;
    e->dev_minor = (unsigned)minor;
    e->inode = inode;
    snprintf(e->name, sizeof e->name, "%s", s);
    return PROCFS_OK;
}

static enum procfs_status parse_smaps_field(const char *line, struct smaps_entry *e)
{
    const char *colon = strchr(line, ':');
    if (!colon || colon == line)
        return PROCFS_MALFORMED;
    size_t keylen = (size_t)(colon - line);
    for (size_t i = 0; i < keylen; i++)
        if (isspace((unsigned char)line[i]))
            return PROCFS_MALFORMED;

    if (keylen == 7 && strncmp(line, "VmFlags", 7) == 0) {
        e->has_vmflags = true;
        snprintf(e->vmflags, sizeof e->vmflags, "%s", skip_blanks(colon + 1));
        size_t n = strlen(e->vmflags);
        while (n > 0 && e->vmflags[n - 1] == ' ')
            e->vmflags[--n] = '\0';
        return PROCFS_OK;
    }

    uint64_t value = 0;
    bool empty;
    enum procfs_status st = parse_value(colon + 1, &value, &empty);
    if (st != PROCFS_OK)
        return st;
    /* An empty value or a key too long to store is a field we do not know:
     * skipping it is the normal way to meet a newer kernel. */
    if (empty || keylen >= sizeof e->fields[0].key || e->nfields == SMAPS_MAX_FIELDS)
        return PROCFS_OK;
    struct procfs_field *f = &e->fields[e->nfields++];
    memcpy(f->key, line, keylen);
    f->key[keylen] = '\0';
    f->value = value;
    return PROCFS_OK;
}

/* Every entry, to fn; or, with addr, only the one that covers *addr, read
 * up to the next header and no further. */
static enum procfs_status parse_smaps(FILE *in, const uintptr_t *addr, smaps_visit fn, void *ctx,
                                      struct smaps_entry *e)
{
    char line[LINE_MAX_LEN];
    bool open = false;
    memset(e, 0, sizeof *e);
    for (;;) {
        bool cut;
        enum procfs_status st = next_line(in, line, sizeof line, &cut);
        if (st == PROCFS_NOT_FOUND)
            break;
        if (st != PROCFS_OK)
            return st;
        struct smaps_entry header;
        st = parse_smaps_header(line, &header);
        if (st == PROCFS_OK) {
            if (open && addr)
                return PROCFS_OK; /* the next entry: ours is complete */
            if (open)
                fn(e, ctx);
            open = !addr || (*addr >= header.start && *addr < header.end);
            if (open) { /* a new entry: the header again, into a cleared one */
                memset(e, 0, sizeof *e);
                (void)parse_smaps_header(line, e);
            }
            continue;
        }
        if (st != PROCFS_NOT_FOUND)
            return st;
        /* A field of some other mapping is not worth parsing; a field line
         * too long for the buffer is no field we know, so it is skipped. */
        if (!open || cut)
            continue;
        if ((st = parse_smaps_field(line, e)) != PROCFS_OK)
            return st;
    }
    if (open && fn)
        fn(e, ctx);
    return open ? PROCFS_OK : PROCFS_NOT_FOUND;
}

enum procfs_status smaps_parse_entry(FILE *in, uintptr_t addr, struct smaps_entry *out)
{
    return parse_smaps(in, &addr, NULL, NULL, out);
}

enum procfs_status smaps_parse_each(FILE *in, smaps_visit fn, void *ctx)
{
    struct smaps_entry e;
    return parse_smaps(in, NULL, fn, ctx, &e);
}

enum procfs_status smaps_read_entry(uintptr_t addr, struct smaps_entry *out)
{
    /* A large buffer on the stack: the kernel generates smaps in chunks of
     * whatever size read() asks for, so fewer, larger reads cost less; and
     * stdio's own buffer would come from malloc on every call. */
    char buffer[32768];
    FILE *f = fopen("/proc/self/smaps", "re");
    if (!f)
        return PROCFS_IO;
    (void)setvbuf(f, buffer, _IOFBF, sizeof buffer); /* on failure: stdio's own buffer */
    enum procfs_status st = smaps_parse_entry(f, addr, out);
    (void)fclose(f); /* read-only: nothing to lose */
    return st;
}

bool smaps_get(const struct smaps_entry *e, const char *key, uint64_t *value)
{
    for (size_t i = 0; i < e->nfields; i++) {
        if (strcmp(e->fields[i].key, key) == 0) {
            *value = e->fields[i].value;
            return true;
        }
    }
    return false;
}

bool smaps_has_flag(const struct smaps_entry *e, const char *flag)
{
    return e->has_vmflags && procfs_has_word(e->vmflags, flag, ' ');
}

void smaps_format_header(const struct smaps_entry *e, char *buf, size_t len)
{
    snprintf(buf, len, "%lx-%lx %s %08llx %02x:%02x %llu%s%s", (unsigned long)e->start,
             (unsigned long)e->end, e->perms, (unsigned long long)e->offset, e->dev_major,
             e->dev_minor, (unsigned long long)e->inode, e->name[0] ? "   " : "", e->name);
}

/* Reading stops as soon as every wanted key has been found. */
enum procfs_status procfs_parse_wanted(FILE *in, struct procfs_want *want, size_t n, char separator)
{
    char line[LINE_MAX_LEN];
    size_t missing = n;
    for (size_t i = 0; i < n; i++)
        want[i].present = false;

    while (missing > 0) {
        bool cut;
        enum procfs_status st = next_line(in, line, sizeof line, &cut);
        if (st == PROCFS_NOT_FOUND)
            break;
        if (st != PROCFS_OK)
            return st;
        if (cut || line[0] == '\0')
            continue; /* no key we could want is that long, or empty */
        const char *sep = strchr(line, separator);
        if (!sep || sep == line)
            return PROCFS_MALFORMED;
        size_t keylen = (size_t)(sep - line);
        for (size_t i = 0; i < n; i++) {
            if (want[i].present || strlen(want[i].key) != keylen ||
                strncmp(want[i].key, line, keylen) != 0)
                continue;
            bool empty;
            st = parse_value(sep + 1, &want[i].value, &empty);
            if (st != PROCFS_OK)
                return st;
            if (!empty) {
                want[i].present = true;
                missing--;
            }
            break;
        }
    }
    return PROCFS_OK;
}

static enum procfs_status read_wanted(const char *path, struct procfs_want *want, size_t n, char separator)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return PROCFS_IO;
    enum procfs_status st = procfs_parse_wanted(f, want, n, separator);
    (void)fclose(f); /* read-only: nothing to lose */
    return st;
}

enum procfs_status procfs_read_keyed(const char *path, struct procfs_want *want, size_t n)
{
    return read_wanted(path, want, n, ':');
}

int64_t procfs_read_one(const char *path, const char *key)
{
    struct procfs_want w = {key, 0, false};
    if (read_wanted(path, &w, 1, ':') != PROCFS_OK || !w.present || w.value > INT64_MAX)
        return -1;
    return (int64_t)w.value;
}

enum procfs_status procfs_read_pairs(const char *path, struct procfs_want *want, size_t n)
{
    return read_wanted(path, want, n, ' ');
}

enum procfs_status procfs_parse_number(const char *text, size_t len, int64_t *value)
{
    char line[64];
    const char *newline = memchr(text, '\n', len);
    if (!newline)
        return PROCFS_TRUNCATED;
    if (newline != text + len - 1 || memchr(text, '\0', len) || len > sizeof line)
        return PROCFS_MALFORMED; /* more than one line, a NUL byte, or far too long */
    memcpy(line, text, len - 1);
    line[len - 1] = '\0';
    const char *s = skip_blanks(line);
    if (strncmp(s, "max", 3) == 0 && *skip_blanks(s + 3) == '\0') {
        *value = INT64_MAX;
        return PROCFS_OK;
    }
    bool negative = *s == '-';
    uint64_t v;
    s += negative;
    enum procfs_status st = procfs_parse_decimal(&s, &v);
    if (st != PROCFS_OK)
        return st;
    if (*skip_blanks(s) != '\0')
        return PROCFS_MALFORMED;
    if (v > INT64_MAX)
        return PROCFS_OVERFLOW;
    *value = negative ? -(int64_t)v : (int64_t)v;
    return PROCFS_OK;
}

ssize_t procfs_read_text(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    buf[0] = '\0';
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    int saved = errno;
    close(fd);
    errno = saved;
    buf[n > 0 ? n : 0] = '\0';
    return n;
}

int procfs_write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)len ? 0 : -1;
}

bool procfs_has_word(const char *list, const char *word, char sep)
{
    size_t n = strlen(word);
    for (const char *s = list; n && (s = strstr(s, word)) != NULL; s++)
        if ((s == list || s[-1] == sep) && (s[n] == '\0' || s[n] == sep))
            return true;
    return false;
}

bool procfs_lists_word(const char *path, const char *word)
{
    char text[512];
    if (procfs_read_text(path, text, sizeof text) <= 0)
        return false;
    text[strcspn(text, "\n")] = '\0';
    return procfs_has_word(text, word, ' ');
}

enum procfs_status procfs_read_number(const char *path, int64_t *value)
{
    char text[65];
    ssize_t n = procfs_read_text(path, text, sizeof text);
    if (n < 0)
        return PROCFS_IO;
    if ((size_t)n == sizeof text - 1)
        return PROCFS_MALFORMED; /* far too long for a number */
    return procfs_parse_number(text, (size_t)n, value);
}

enum procfs_status procfs_read_vm_sysctl(const char *name, uint64_t *value)
{
    char path[128];
    if (name[0] == '\0' || strchr(name, '/') || strcmp(name, "..") == 0 || strcmp(name, ".") == 0) {
        errno = EINVAL;
        return PROCFS_IO;
    }
    int len = snprintf(path, sizeof path, "/proc/sys/vm/%s", name);
    if (len < 0 || (size_t)len >= sizeof path) {
        errno = ENAMETOOLONG;
        return PROCFS_IO;
    }
    int64_t v;
    enum procfs_status st = procfs_read_number(path, &v);
    if (st != PROCFS_OK)
        return st;
    if (v < 0)
        return PROCFS_MALFORMED; /* no /proc/sys/vm value is negative */
    *value = (uint64_t)v;
    return PROCFS_OK;
}

enum procfs_status procfs_parse_choice(FILE *in, char *out, size_t len)
{
    char line[256];
    bool cut;
    enum procfs_status st = next_line(in, line, sizeof line, &cut);
    if (st != PROCFS_OK)
        return st == PROCFS_NOT_FOUND ? PROCFS_TRUNCATED : st;
    if (cut)
        return PROCFS_MALFORMED;
    const char *open = strchr(line, '[');
    const char *close = open ? strchr(open, ']') : NULL;
    if (!open || !close || close == open + 1 || strchr(close + 1, '['))
        return PROCFS_MALFORMED;
    size_t n = (size_t)(close - open - 1);
    if (n >= len)
        return PROCFS_OVERFLOW;
    memcpy(out, open + 1, n);
    out[n] = '\0';
    return PROCFS_OK;
}

enum procfs_status procfs_read_choice(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return PROCFS_IO;
    enum procfs_status st = procfs_parse_choice(f, out, len);
    (void)fclose(f); /* read-only: nothing to lose */
    return st;
}
