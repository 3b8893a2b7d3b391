/*
 * page.h — pagination shared by every list call (wire contract PageRequest /
 * PageMeta): page is 1-based (0 -> 1), page_size 0 -> 20, capped at 100.
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

#endif
