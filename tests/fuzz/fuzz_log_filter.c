/*
 * fuzz_log_filter.c — libFuzzer target for the BILL_LOG filter parser and the
 * JSON line escaper: any spec either installs or is rejected with
 * BILL_EINVALID, and every JSON record stays a single line.
 */
#include <bill/bill.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_sink(const bill_log_record *rec, void *user)
{
    (void)user;
    if (rec->line_len == 0 || rec->line[rec->line_len - 1] != '\n' ||
        memchr(rec->line, '\n', rec->line_len - 1) != NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    int rc;
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    bill_log_set_sink(check_sink, NULL);
    rc = bill_log_set_filter(s);
    if (rc != BILL_OK && rc != BILL_EINVALID)
        abort();
    (void)bill_log_enabled(BILL_LOG_LEVEL_DEBUG, s);
    bill_log_set_filter("trace");
    bill_log_set_format(size % 2 ? BILL_LOG_FORMAT_JSON : BILL_LOG_FORMAT_TEXT);
    bill_log_set_context(s);
    bill_log(BILL_LOG_LEVEL_INFO, s, "%s", s);
    bill_log_set_context(NULL);
    free(s);
    return 0;
}
