/* SPDX-License-Identifier: MIT */
/* src/zone/load.h -- master-file reader: text to a list of ldns RRs with file and line.
 *
 * ldns parses each record; this reader splits the text into logical records itself (so it
 * knows the file and first line of every record, across parentheses) and implements
 * $INCLUDE, which ldns 1.8.3 does not. Load time only; not thread-safe per loader.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <ldns/ldns.h>
#include "common/arena.h"

typedef struct gk_loaded_rr {
	ldns_rr *rr;
	const char *file; /* the zone file's name as given, or an $INCLUDE's (arena string) */
	unsigned line;
} gk_loaded_rr_t;

/* A file read (the zone file or an $INCLUDE), as stat() saw it just before the read. */
typedef struct gk_loaded_file {
	const char *path; /* an $INCLUDE's (arena string); NULL: the zone file given to the read */
	uint64_t dev, ino;
	int64_t size, mtime_sec, mtime_nsec;
} gk_loaded_file_t;

typedef struct gk_loader {
	gk_arena_t *arena; /* $INCLUDE file names */
	gk_loaded_rr_t *rrs;
	size_t n, cap;
	gk_loaded_file_t *files; /* every file read, in order */
	size_t nfiles, fcap;
	char *err;
	size_t errlen;
} gk_loader_t;

/* Read a zone from a file (text == NULL) or from memory (text given, file used only as the
 * name in messages; $INCLUDE is then refused). origin: the zone apex. Appends records to
 * L->rrs. Returns 0, or GK_ESYNTAX / GK_EIO / GK_ENOMEM with L->err set to "file:line: msg".
 * file is not copied: it must stay valid until gk_zone_loader_clear (records name it). */
int gk_zone_loader_read(gk_loader_t *L, const char *file, const char *text, size_t text_len,
                        const ldns_rdf *origin);

/* Read count records in uncompressed wire form (gk_zone_spec_t.wire) from wire[0..len):
 * each record is checked by ldns as a message's would be (names, RDATA by type), and its
 * index (1-based) is its line in messages. Returns 0, or GK_ESYNTAX (a record that does not
 * parse, trailing octets, fewer records) / GK_ENOMEM with L->err set. file is not copied
 * (as for gk_zone_loader_read). */
int gk_zone_loader_read_wire(gk_loader_t *L, const char *file, const uint8_t *wire, size_t len,
                             size_t count);

/* Free the ldns records and the file list held by L (not the arena). */
void gk_zone_loader_clear(gk_loader_t *L);
