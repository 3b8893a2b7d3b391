/*
 * html.h — sanitizing untrusted HTML (provider detail sections, anything a
 * plugin or an upstream says) before a browser renders it.
 */
#ifndef BILL_HTML_H
#define BILL_HTML_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Sanitize untrusted HTML for rendering in the browser. Allowed tags: p br
 * b i strong em ul ol li code pre table thead tbody tr td th a span div;
 * attributes: title (any allowed tag), colspan/rowspan (td, th), href (a:
 * absolute http, https or mailto URLs only, decided after decoding
 * entities and dropping whitespace/control characters; a gets
 * rel="noopener noreferrer nofollow"). script, style, iframe, object,
 * embed, svg, math, template, noscript, textarea, title, xmp, noembed and
 * noframes are dropped together with their content; comments, doctypes and
 * processing instructions are dropped; other tags are dropped keeping their
 * text; every other attribute (on*, style, src, ...) is dropped; all text
 * is escaped; unclosed allowed tags are closed at the end and stray closing
 * tags are dropped. *out is malloc'd (free()). NULL in -> "". */
BILL_API int bill_html_sanitize(const char *in, char **out);

#ifdef __cplusplus
}
#endif
#endif
