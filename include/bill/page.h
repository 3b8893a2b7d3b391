/*
 * page.h — the one shape of every list call, and its pagination: page is
 * 1-based (0 -> 1), page_size 0 -> 20, capped at 100.
 *
 * Every list function fills a caller-owned struct of this shape
 *     typedef struct bill_orders { BILL_LIST_OF(bill_order); } bill_orders;
 * that is: `items` (count entries, malloc'd), `count`, and `meta` (the page
 * this is, and how many rows match). Each list type has a
 * bill_<things>_clear() that frees the items and zeroes the struct (NULL and
 * an already cleared struct are fine). On failure the struct is left empty.
 * Lists that are not paged fill `meta` as one page holding every row.
 */
#ifndef BILL_PAGE_H
#define BILL_PAGE_H

#include "common.h"

#define BILL_PAGE_DEFAULT_SIZE 20u
#define BILL_PAGE_MAX_SIZE 100u

typedef struct bill_page {
    uint32_t page;      /* 1-based; 0 means 1 */
    uint32_t page_size; /* 0 means 20; values above 100 are capped to 100 */
} bill_page;

typedef struct bill_page_meta {
    uint64_t total;       /* rows matching the filter */
    uint32_t page;        /* normalized page */
    uint32_t page_size;   /* normalized page size */
    uint32_t total_pages; /* ceil(total / page_size); 0 when total is 0 */
} bill_page_meta;

/* The fields of a list of T (see above). */
#define BILL_LIST_OF(T)                                                        \
    T *items;                                                                  \
    size_t count;                                                              \
    bill_page_meta meta

/* Normalize a request in place (0 -> defaults, cap at max). */
static inline void bill_page_normalize(bill_page *p)
{
    if (p->page == 0)
        p->page = 1;
    if (p->page_size == 0)
        p->page_size = BILL_PAGE_DEFAULT_SIZE;
    if (p->page_size > BILL_PAGE_MAX_SIZE)
        p->page_size = BILL_PAGE_MAX_SIZE;
}

/* SQL OFFSET for a normalized page. */
static inline uint64_t bill_page_offset(const bill_page *p)
{
    return (uint64_t)(p->page - 1) * p->page_size;
}

static inline void bill_page_meta_fill(bill_page_meta *m, const bill_page *p, uint64_t total)
{
    m->total = total;
    m->page = p->page;
    m->page_size = p->page_size;
    m->total_pages = (uint32_t)((total + p->page_size - 1) / p->page_size);
}

/* Meta of a list that is not paged: one page holding all n rows. */
static inline void bill_page_meta_one(bill_page_meta *m, size_t n)
{
    m->total = n;
    m->page = 1;
    m->page_size = (uint32_t)n;
    m->total_pages = n ? 1u : 0u;
}

#endif
