/*
 * common.h — macros shared by every public libbill header.
 *
 * BILL_API marks a symbol exported from libbill.so; everything else is hidden
 * (the library builds with -fvisibility=hidden).
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
