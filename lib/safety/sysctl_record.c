/* SPDX-License-Identifier: MIT */
/* sysctl_record: parse and write the undo record, strictly. See
 * sysctl_record.h for the format and the allow-list. */
#include "sysctl_record.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "procfs.h"

#define RECORD_VERSION 1
#define HUGEPAGES_MAX_GROWTH 64 /* hugetlb-reserve --setup takes 1 to 64 */
#define LINE_MAX_BYTES 96

bool record_knob_allowed(const char *name)
{
    return strcmp(name, "overcommit_memory") == 0 || strcmp(name, "nr_hugepages") == 0;
}

bool record_set_allowed(const char *name, uint64_t original, uint64_t value)
{
    if (strcmp(name, "overcommit_memory") == 0)
        return original <= 2 && value <= 2;
    if (strcmp(name, "nr_hugepages") == 0) /* a run only ever grows the pool */
        return original <= UINT64_MAX - HUGEPAGES_MAX_GROWTH && value >= original &&
               value - original <= HUGEPAGES_MAX_GROWTH;
    return false;
}

bool record_may_restore(const struct record_knob *k, uint64_t current)
{
    if (current == k->original)
        return false; /* nothing to undo */
    if (strcmp(k->name, "nr_hugepages") == 0) {
        uint64_t most = k->set[0];
        for (int i = 1; i < k->nset; i++)
            if (k->set[i] > most)
                most = k->set[i];
        return current > k->original && current <= most;
    }
    for (int i = 0; i < k->nset; i++)
        if (current == k->set[i])
            return true;
    return false;
}

/* "knob NAME ORIGINAL SET [SET]" after "knob ". */
static bool parse_knob(const char *s, struct record_knob *k, char *why, size_t wlen)
{
    const char *space = strchr(s, ' ');
    size_t n = space ? (size_t)(space - s) : 0;
    if (n == 0 || n >= sizeof k->name) {
        snprintf(why, wlen, "a knob line is not \"knob NAME ORIGINAL SET\"");
        return false;
    }
    memcpy(k->name, s, n);
    k->name[n] = '\0';
    if (!record_knob_allowed(k->name)) {
        snprintf(why, wlen, "knob %s is not one vmlab changes", k->name);
        return false;
    }
    const char *p = space + 1; /* each number: decimal digits, no sign, within 64 bits */
    if (procfs_parse_decimal(&p, &k->original) != PROCFS_OK || *p != ' ') {
        snprintf(why, wlen, "knob %s: the original value is not a plain number", k->name);
        return false;
    }
    bool numbers = true;
    for (k->nset = 0; numbers && *p == ' ' && k->nset < 2; k->nset++) {
        p++;
        numbers = procfs_parse_decimal(&p, &k->set[k->nset]) == PROCFS_OK;
    }
    if (!numbers || *p != '\0') {
        snprintf(why, wlen, "knob %s: the values set are not one or two plain numbers", k->name);
        return false;
    }
    if (!record_set_allowed(k->name, k->original, k->original))
        goto range;
    for (int i = 0; i < k->nset; i++)
        if (!record_set_allowed(k->name, k->original, k->set[i]))
            goto range;
    return true;
range:
    snprintf(why, wlen, "knob %s: %" PRIu64 " -> %" PRIu64 " is outside what vmlab ever sets", k->name,
             k->original, k->set[k->nset - 1]);
    return false;
}

enum part { HEADER, BOOT, RUN, KNOBS, DONE };

bool record_parse(const char *text, size_t len, struct sysctl_record *r, char *why, size_t wlen)
{
    char line[LINE_MAX_BYTES + 1], reason[160];
    enum part part = HEADER;
    memset(r, 0, sizeof *r);
    why[0] = '\0';
    if (len > RECORD_MAX_BYTES) {
        snprintf(why, wlen, "%zu bytes, more than any record vmlab writes", len);
        return false;
    }
    if (memchr(text, '\0', len)) {
        snprintf(why, wlen, "it contains a NUL byte");
        return false;
    }
    size_t pos = 0;
    int lineno = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        lineno++;
        if (!nl) {
            snprintf(why, wlen, "line %d: no newline at its end (a cut record)", lineno);
            return false;
        }
        size_t n = (size_t)(nl - (text + pos));
        if (n > LINE_MAX_BYTES) {
            snprintf(why, wlen, "line %d: longer than any line vmlab writes", lineno);
            return false;
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos += n + 1;
        reason[0] = '\0';
        bool ok = false;
        switch (part) {
        case HEADER: {
            char expect[32];
            snprintf(expect, sizeof expect, "vmlab undo record %d", RECORD_VERSION);
            ok = strcmp(line, expect) == 0;
            if (!ok)
                snprintf(reason, sizeof reason, "not a vmlab undo record of version %d (from another "
                                                "version of vmlab?)", RECORD_VERSION);
            part = BOOT;
            break;
        }
        case BOOT:
            ok = strncmp(line, "boot ", 5) == 0 && strlen(line + 5) == 36 &&
                 strspn(line + 5, "0123456789abcdef-") == 36;
            if (ok)
                memcpy(r->boot, line + 5, 37);
            part = RUN;
            break;
        case RUN:
            ok = strncmp(line, "run ", 4) == 0 && runid_parse(line + 4, &r->run);
            part = KNOBS;
            break;
        case KNOBS:
            if (strcmp(line, "end") == 0) {
                ok = r->nknobs > 0;
                part = DONE;
                break;
            }
            if (strncmp(line, "knob ", 5) != 0 || r->nknobs == RECORD_MAX_KNOBS) {
                snprintf(reason, sizeof reason, "\"%.40s\" is not a line vmlab writes there", line);
                break;
            }
            ok = parse_knob(line + 5, &r->knobs[r->nknobs], reason, sizeof reason);
            for (int i = 0; ok && i < r->nknobs; i++)
                if (strcmp(r->knobs[i].name, r->knobs[r->nknobs].name) == 0) {
                    snprintf(reason, sizeof reason, "knob %s twice", r->knobs[i].name);
                    ok = false;
                }
            r->nknobs += ok;
            break;
        case DONE:
            snprintf(reason, sizeof reason, "something after \"end\"");
            break;
        }
        if (!ok) {
            snprintf(why, wlen, "line %d: %s", lineno, reason[0] ? reason : "not what vmlab writes there");
            return false;
        }
    }
    if (part != DONE) {
        snprintf(why, wlen, "it ends before its \"end\" line (a cut record)");
        return false;
    }
    return true;
}

size_t record_format(const struct sysctl_record *r, char *buf, size_t len)
{
    char run[80];
    if (!runid_format(&r->run, run, sizeof run))
        return 0;
    int n = snprintf(buf, len, "vmlab undo record %d\nboot %s\nrun %s\n", RECORD_VERSION, r->boot, run);
    if (n < 0 || (size_t)n >= len)
        return 0;
    size_t used = (size_t)n;
    for (int i = 0; i < r->nknobs; i++) {
        const struct record_knob *k = &r->knobs[i];
        char second[24] = ""; /* while a change is being made */
        if (k->nset == 2)
            snprintf(second, sizeof second, " %" PRIu64, k->set[1]);
        n = snprintf(buf + used, len - used, "knob %s %" PRIu64 " %" PRIu64 "%s\n", k->name,
                     k->original, k->set[0], second);
        if (n < 0 || (size_t)n >= len - used)
            return 0;
        used += (size_t)n;
    }
    n = snprintf(buf + used, len - used, "end\n");
    if (n < 0 || (size_t)n >= len - used)
        return 0;
    return used + (size_t)n;
}
