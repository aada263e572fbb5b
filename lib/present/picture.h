/* SPDX-License-Identifier: MIT */
/* picture: --svg FILE draws what a run measured, for a lab sheet or a slide.
 *
 * The narrator hands every finished step to the book; at the end of the run
 * the book is written as one SVG with what the run had to draw:
 *   - the commit charge (Committed_AS before and after each step that read
 *     it) against CommitLimit;
 *   - every residency picture, one square a page ('#' resident);
 *   - every time series of memory the run measured ("samples_*_kB" facts,
 *     against "samples_t_ms"; not VmSize, which is address space), with the
 *     memory limit that applied as a line.
 * Nothing is drawn that the run did not measure. */
#ifndef VMLAB_PICTURE_H
#define VMLAB_PICTURE_H

#include <stdbool.h>
#include <stdint.h>

struct narrator;
struct picture_book;

/* Adds what the narrator's current step measured (call at its end). Returns
 * false when memory ran out (the picture is then incomplete, and says so). */
bool picture_book_add_step(struct picture_book **book, const struct narrator *n);

/* Writes the SVG; 0, or -1 with errno. CommitLimit in kB, -1 if unknown. */
int picture_book_write(const struct picture_book *book, const char *path, const char *demo,
                       int64_t commit_limit_kB);

void picture_book_free(struct picture_book *book);

#endif
