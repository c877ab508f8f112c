/* SPDX-License-Identifier: MIT */
/* src/sync/feedline.h -- what the domain feed's (feed.c) and the IP feed's (ipfeed.c)
 * record parsers share: "NAME:LINE: message" errors, a record line's JSON object and its op.
 * Not for other modules; pure, any thread.
 */
#pragma once
#include <jansson.h>
#include <stddef.h>
#include "sync/feed.h"

/* Room for one record message (without "NAME:LINE: "). */
#define GK_FEED_MSG_MAX 256

/* Write "NAME:LINE: " and the formatted message into err[0..errlen) (nothing when err is
 * NULL or errlen 0). */
void gk_sync_feed_seterr(char *err, size_t errlen, const char *name, size_t line, const char *fmt,
                         ...) __attribute__((format(printf, 5, 6)));

/* Record line[0..len) as a JSON object (keys given twice are an error): the object, which
 * the caller json_decrefs, or NULL with the reason in msg[0..msglen) (an empty line, over
 * GK_FEED_LINE_MAX, malformed JSON with its column, not an object). */
json_t *gk_sync_feed_line_object(const char *line, size_t len, char *msg, size_t msglen);

/* The record's "op" in a feed of kind: 0 none, 1 "remove" (a delta's), or -1 with *msg
 * saying why not (another op, or a remove outside a delta). */
int gk_sync_feed_line_op(json_t *o, gk_feed_kind_t kind, const char **msg);
