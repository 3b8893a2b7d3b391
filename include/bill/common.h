/*
 * common.h — macros shared by every public libbill header.
 *
 * BILL_API marks a symbol exported from libbill.so; everything else is hidden
 * (the library builds with -fvisibility=hidden).
 *
 * Versioned structs: every struct the caller allocates and hands in (inputs,
 * filters, options) starts with `unsigned int version`. Set it to the
 * BILL_<STRUCT>_VERSION of the header you compile against:
 *     bill_order_filter f = {.version = BILL_ORDER_FILTER_VERSION, .status = "paid"};
 * Fields are only ever appended ("fields above exist since version N");
 * libbill reads a newer field only when the caller's version has it, and
 * refuses version 0 and versions newer than itself with BILL_EINVALID
 * naming "version". Options structs also have a bill_<x>_options_init().
 */
#ifndef BILL_COMMON_H
#define BILL_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(BILL_BUILDING_LIBRARY)
#define BILL_API __attribute__((visibility("default")))
#else
#define BILL_API
#endif

#define BILL_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define BILL_WARN_UNUSED __attribute__((warn_unused_result))

#endif
