/*
 * test_auth_jwt.c — access tokens (bill_jwt_issue / bill_jwt_verify) and the
 * in-process limiters (bill_ratelimit, bill_loginguard). No database needed;
 * lives with the other auth suites.
 */
#include <bill/bill.h>
#include <check.h>
#include <jwt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "0123456789abcdef0123456789abcdef-test"
#define T0 (1800000000LL * 1000000LL)
#define USER "11111111-1111-4111-8111-111111111111"
#define CUST "22222222-2222-4222-8222-222222222222"

static char *b64url(const char *s)
{
    size_t n = strlen(s);
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    sodium_bin2base64(out, cap, (const unsigned char *)s, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

/* header.payload.sig with an HMAC-SHA256 signature over arbitrary JSON. */
static char *forge(const char *header, const char *payload, const char *key)
{
    char *h = b64url(header), *p = b64url(payload);
    char *signing = malloc(strlen(h) + strlen(p) + 2);
    ck_assert_ptr_nonnull(signing);
    sprintf(signing, "%s.%s", h, p);
    unsigned char mac[32];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)signing, strlen(signing));
    crypto_auth_hmacsha256_final(&st, mac);
    char sig[64];
    sodium_bin2base64(sig, sizeof sig, mac, sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = malloc(strlen(signing) + strlen(sig) + 2);
    ck_assert_ptr_nonnull(out);
    sprintf(out, "%s.%s", signing, sig);
    free(h);
    free(p);
    free(signing);
    return out;
}

START_TEST(test_jwt__issue_then_verify_roundtrip)
{
    char *tok = NULL;
    int64_t exp_in = 0;
    bill_jwt_claims cl;
    ck_assert_int_eq(bill_jwt_issue(SECRET, USER, CUST, 24, T0, &tok, &exp_in), BILL_OK);
    ck_assert_int_eq(exp_in, 86400);
    ck_assert_int_eq(bill_jwt_verify(SECRET, tok, T0 + 1000000, &cl), BILL_OK);
    ck_assert_str_eq(cl.sub, USER);
    ck_assert_str_eq(cl.cid, CUST);
    ck_assert_int_eq(cl.iat, T0 / 1000000);
    ck_assert_int_eq(cl.exp, T0 / 1000000 + 86400);
    ck_assert_uint_eq(strlen(cl.jti), 32);
    ck_assert_str_eq(cl.fam, "");
    free(tok);
    ck_assert_int_eq(bill_jwt_issue_family(SECRET, USER, CUST, CUST, 24, T0, &tok, NULL), BILL_OK);
    ck_assert_int_eq(bill_jwt_verify(SECRET, tok, T0, &cl), BILL_OK);
    ck_assert_str_eq(cl.fam, CUST);
    free(tok);
}
END_TEST

START_TEST(test_jwt__expired_rejected)
{
    char *tok = NULL;
    ck_assert_int_eq(bill_jwt_issue(SECRET, USER, CUST, 1, T0, &tok, NULL), BILL_OK);
    ck_assert_int_eq(bill_jwt_verify(SECRET, tok, T0 + 3599LL * 1000000, NULL), BILL_OK);
    ck_assert_int_eq(bill_jwt_verify(SECRET, tok, T0 + 3600LL * 1000000, NULL), BILL_EUNAUTH);
    ck_assert_str_eq(bill_error_last()->message, "access token expired");
    ck_assert_ptr_null(strstr(bill_error_last()->message, tok));
    free(tok);
}
END_TEST

/* The verification cache (issue 13): a second verify of the same token is a
 * hit with the same claims; it still honours exp, the secret and every
 * byte of the token; failures are not remembered. */
START_TEST(test_jwt__cache_hits_and_stays_exact)
{
    char *tok = NULL;
    bill_jwt_claims a, b;
    uint64_t h0, m0, h1, m1;
    ck_assert_int_eq(bill_jwt_issue(SECRET, USER, CUST, 1, T0, &tok, NULL), BILL_OK);
    bill_jwt_cache_stats(&h0, &m0);
    ck_assert_int_eq(bill_jwt_verify(SECRET, tok, T0, &a), BILL_OK);
    bill_jwt_cache_stats(&h1, &m1);
    ck_assert_uint_eq(h1, h0);
    ck_assert_uint_eq(m1, m0 + 1);
    ck_assert_int_eq(bill_jwt_verify(SECRET, tok, T0 + 1000000, &b), BILL_OK);
    bill_jwt_cache_stats(&h1, &m1);
    ck_assert_uint_eq(h1, h0 + 1);
    ck_assert_mem_eq(&a, &b, sizeof a);
    /* cached, yet: the second before expiry passes, the second of it fails */
    ck_assert_int_eq(bill_jwt_verify(SECRET, tok, T0 + 3599LL * 1000000, NULL), BILL_OK);
    ck_assert_int_eq(bill_jwt_verify(SECRET, tok, T0 + 3600LL * 1000000, &b), BILL_EUNAUTH);
    ck_assert_str_eq(bill_error_last()->message, "access token expired");
    ck_assert_str_eq(b.sub, "");
    /* another secret never hits the entry of this one */
    ck_assert_int_eq(bill_jwt_verify("another-secret-another-secret-xxxxx", tok, T0, NULL),
                     BILL_EUNAUTH);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "signature"));
    /* one byte changed (the payload's last character): refused, and again */
    size_t n = strlen(tok);
    char *dot2 = strrchr(tok, '.');
    ck_assert_ptr_nonnull(dot2);
    char *p = dot2 - 1;
    *p = *p == 'A' ? 'B' : 'A';
    ck_assert_int_eq(bill_jwt_verify(SECRET, tok, T0, NULL), BILL_EUNAUTH);
    ck_assert_int_eq(bill_jwt_verify(SECRET, tok, T0, NULL), BILL_EUNAUTH);
    ck_assert_uint_eq(strlen(tok), n);
    free(tok);
}
END_TEST

START_TEST(test_jwt__wrong_signature_rejected)
{
    char *tok = NULL;
    ck_assert_int_eq(bill_jwt_issue("another-secret-another-secret-xxxxx", USER, CUST, 1, T0, &tok, NULL), BILL_OK);
    ck_assert_int_eq(bill_jwt_verify(SECRET, tok, T0, NULL), BILL_EUNAUTH);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "signature"));
    /* flip one character of our own token's signature */
    free(tok);
    ck_assert_int_eq(bill_jwt_issue(SECRET, USER, CUST, 1, T0, &tok, NULL), BILL_OK);
    size_t n = strlen(tok);
    tok[n - 2] = tok[n - 2] == 'A' ? 'B' : 'A';
    ck_assert_int_eq(bill_jwt_verify(SECRET, tok, T0, NULL), BILL_EUNAUTH);
    free(tok);
}
END_TEST

START_TEST(test_jwt__alg_none_rejected)
{
    char pl[256];
    snprintf(pl, sizeof pl, "{\"sub\":\"%s\",\"cid\":\"%s\",\"typ\":\"access\",\"exp\":%lld}", USER,
             CUST, (long long)(T0 / 1000000 + 3600));
    char *h = b64url("{\"alg\":\"none\",\"typ\":\"JWT\"}"), *p = b64url(pl);
    char tok[1024];
    snprintf(tok, sizeof tok, "%s.%s.", h, p);
    ck_assert_int_eq(bill_jwt_verify(SECRET, tok, T0, NULL), BILL_EUNAUTH);
    /* even with a valid-looking HMAC appended */
    char *forged = forge("{\"alg\":\"none\"}", pl, SECRET);
    ck_assert_int_eq(bill_jwt_verify(SECRET, forged, T0, NULL), BILL_EUNAUTH);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "not accepted"));
    free(forged);
    /* and the same payload correctly signed HS256 passes: the test can fail */
    forged = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", pl, SECRET);
    ck_assert_int_eq(bill_jwt_verify(SECRET, forged, T0, NULL), BILL_OK);
    free(forged);
    free(h);
    free(p);
}
END_TEST

START_TEST(test_jwt__other_algs_rejected)
{
    jwt_t *j = NULL;
    ck_assert_int_eq(jwt_new(&j), 0);
    jwt_add_grant(j, "sub", USER);
    jwt_add_grant(j, "cid", CUST);
    jwt_add_grant(j, "typ", "access");
    jwt_add_grant_int(j, "exp", (long)(T0 / 1000000 + 3600));
    jwt_set_alg(j, JWT_ALG_HS512, (const unsigned char *)SECRET, (int)strlen(SECRET));
    char *tok = jwt_encode_str(j);
    ck_assert_int_eq(bill_jwt_verify(SECRET, tok, T0, NULL), BILL_EUNAUTH);
    free(tok);
    jwt_free(j);
}
END_TEST

START_TEST(test_jwt__claims_checked)
{
    char pl[256];
    long long exp = T0 / 1000000 + 3600;
    const char *hdr = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    /* wrong typ */
    snprintf(pl, sizeof pl, "{\"sub\":\"%s\",\"cid\":\"%s\",\"typ\":\"refresh\",\"exp\":%lld}", USER, CUST, exp);
    char *t = forge(hdr, pl, SECRET);
    ck_assert_int_eq(bill_jwt_verify(SECRET, t, T0, NULL), BILL_EUNAUTH);
    free(t);
    /* missing exp */
    snprintf(pl, sizeof pl, "{\"sub\":\"%s\",\"cid\":\"%s\",\"typ\":\"access\"}", USER, CUST);
    t = forge(hdr, pl, SECRET);
    ck_assert_int_eq(bill_jwt_verify(SECRET, t, T0, NULL), BILL_EUNAUTH);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "exp"));
    free(t);
    /* exp as a string */
    snprintf(pl, sizeof pl, "{\"sub\":\"%s\",\"cid\":\"%s\",\"typ\":\"access\",\"exp\":\"%lld\"}", USER, CUST, exp);
    t = forge(hdr, pl, SECRET);
    ck_assert_int_eq(bill_jwt_verify(SECRET, t, T0, NULL), BILL_EUNAUTH);
    free(t);
    /* missing cid */
    snprintf(pl, sizeof pl, "{\"sub\":\"%s\",\"typ\":\"access\",\"exp\":%lld}", USER, exp);
    t = forge(hdr, pl, SECRET);
    ck_assert_int_eq(bill_jwt_verify(SECRET, t, T0, NULL), BILL_EUNAUTH);
    free(t);
}
END_TEST

START_TEST(test_jwt__garbage_rejected)
{
    const char *bad[] = {"", "abc", "a.b", "a.b.c", "a.b.c.d", "..", "eyJ.eyJ.", "....",
                         "eyJhbGciOiJIUzI1NiJ9.!!!.abc", "eyJhbGciOiJIUzI1NiJ9..abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_int_eq(bill_jwt_verify(SECRET, bad[i], T0, NULL), BILL_EUNAUTH);
    ck_assert_int_eq(bill_jwt_verify(SECRET, NULL, T0, NULL), BILL_EUNAUTH);
    char *big = malloc(10000);
    ck_assert_ptr_nonnull(big);
    memset(big, 'a', 9999);
    big[9999] = '\0';
    big[100] = '.';
    big[200] = '.';
    ck_assert_int_eq(bill_jwt_verify(SECRET, big, T0, NULL), BILL_EUNAUTH);
    free(big);
    /* header that is JSON but not an object, and non-JSON */
    char *t = forge("[1,2]", "{}", SECRET);
    ck_assert_int_eq(bill_jwt_verify(SECRET, t, T0, NULL), BILL_EUNAUTH);
    free(t);
    t = forge("{\"alg\":\"HS256\"}", "not json", SECRET);
    ck_assert_int_eq(bill_jwt_verify(SECRET, t, T0, NULL), BILL_EUNAUTH);
    free(t);
}
END_TEST

START_TEST(test_jwt__issue_validates)
{
    char *tok = NULL;
    ck_assert_int_eq(bill_jwt_issue("", USER, CUST, 24, T0, &tok, NULL), BILL_ECONFIG);
    ck_assert_int_eq(bill_jwt_issue(SECRET, "", CUST, 24, T0, &tok, NULL), BILL_EINVALID);
    ck_assert_int_eq(bill_jwt_issue(SECRET, USER, CUST, 0, T0, &tok, NULL), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "jwt.expiry_hours");
    ck_assert_ptr_null(tok);
}
END_TEST

/* ---- rate limiter ---- */

START_TEST(test_ratelimit__burst_then_refill)
{
    bill_ratelimit *rl = NULL;
    int64_t retry = 0;
    ck_assert_int_eq(bill_ratelimit_new(&rl, 5, 0, 100), BILL_OK);
    for (int i = 0; i < 5; i++)
        ck_assert(bill_ratelimit_allow(rl, "1.2.3.4|login", T0, NULL));
    ck_assert(!bill_ratelimit_allow(rl, "1.2.3.4|login", T0, &retry));
    ck_assert_int_eq(retry, 200);
    /* another key is independent */
    ck_assert(bill_ratelimit_allow(rl, "5.6.7.8|login", T0, NULL));
    /* 200 ms later exactly one token is back */
    ck_assert(bill_ratelimit_allow(rl, "1.2.3.4|login", T0 + 200000, NULL));
    ck_assert(!bill_ratelimit_allow(rl, "1.2.3.4|login", T0 + 200000, NULL));
    /* after a long pause the bucket is full again but never above burst */
    for (int i = 0; i < 5; i++)
        ck_assert(bill_ratelimit_allow(rl, "1.2.3.4|login", T0 + 100000000LL, NULL));
    ck_assert(!bill_ratelimit_allow(rl, "1.2.3.4|login", T0 + 100000000LL, NULL));
    bill_ratelimit_free(rl);
    ck_assert_int_eq(bill_ratelimit_new(&rl, 0, 0, 0), BILL_EINVALID);
}
END_TEST

START_TEST(test_ratelimit__memory_bounded)
{
    bill_ratelimit *rl = NULL;
    char key[32];
    ck_assert_int_eq(bill_ratelimit_new(&rl, 1, 1, 50), BILL_OK);
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "10.0.%d.%d", i / 256, i % 256);
        bill_ratelimit_allow(rl, key, T0 + i, NULL);
        ck_assert_uint_le(bill_ratelimit_size(rl), 50);
    }
    /* idle keys (full buckets) are evicted first */
    bill_ratelimit_allow(rl, "late", T0 + 10000000000LL, NULL);
    ck_assert_uint_le(bill_ratelimit_size(rl), 2);
    bill_ratelimit_free(rl);
}
END_TEST

typedef struct {
    bill_ratelimit *rl;
    int allowed;
} thr_arg;

#include <pthread.h>
#include "check_main.h"
static void *hammer(void *p)
{
    thr_arg *a = p;
    for (int i = 0; i < 1000; i++)
        if (bill_ratelimit_allow(a->rl, "shared", T0, NULL))
            a->allowed++;
    return NULL;
}

START_TEST(test_ratelimit__thread_safe)
{
    bill_ratelimit *rl = NULL;
    pthread_t th[4];
    thr_arg args[4] = {{0}};
    ck_assert_int_eq(bill_ratelimit_new(&rl, 100, 100, 10), BILL_OK);
    for (int i = 0; i < 4; i++) {
        args[i].rl = rl;
        pthread_create(&th[i], NULL, hammer, &args[i]);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += args[i].allowed;
    }
    ck_assert_int_eq(total, 100); /* exactly the burst at a frozen clock */
    bill_ratelimit_free(rl);
}
END_TEST

START_TEST(test_loginguard__locks_after_five_and_backs_off)
{
    bill_loginguard *g = NULL;
    int retry = 0;
    ck_assert_int_eq(bill_loginguard_new(&g, NULL), BILL_OK);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(bill_loginguard_check(g, "alice", T0, NULL), BILL_OK);
        bill_loginguard_fail(g, "alice", T0);
    }
    ck_assert_int_eq(bill_loginguard_check(g, "alice", T0, NULL), BILL_OK);
    bill_loginguard_fail(g, "alice", T0); /* 5th */
    ck_assert_int_eq(bill_loginguard_check(g, "alice", T0, &retry), BILL_ELIMIT);
    ck_assert_int_eq(retry, 30);
    ck_assert_int_eq(bill_loginguard_check(g, "bob", T0, NULL), BILL_OK);
    /* lock ends after 30 s; the next failure doubles the delay */
    int64_t t = T0 + 30LL * 1000000;
    ck_assert_int_eq(bill_loginguard_check(g, "alice", t, NULL), BILL_OK);
    bill_loginguard_fail(g, "alice", t);
    ck_assert_int_eq(bill_loginguard_check(g, "alice", t, &retry), BILL_ELIMIT);
    ck_assert_int_eq(retry, 60);
    /* success clears everything */
    bill_loginguard_success(g, "alice");
    ck_assert_int_eq(bill_loginguard_check(g, "alice", t, NULL), BILL_OK);
    /* failures spread beyond the window do not add up */
    for (int i = 0; i < 10; i++) {
        bill_loginguard_fail(g, "carol", T0 + (int64_t)i * 1000LL * 1000000);
        ck_assert_int_eq(bill_loginguard_check(g, "carol", T0 + (int64_t)i * 1000LL * 1000000, NULL),
                         BILL_OK);
    }
    bill_loginguard_free(g);
}
END_TEST

/* Issue 8: strangers must not lock the owner out. Five failures from one
 * address lock that (username, address) pair only; the username itself
 * locks only after max_failures_per_user failures over all addresses. */
START_TEST(test_loginguard__keyed_by_username_and_address)
{
    bill_loginguard *g = NULL;
    int retry = 0;
    ck_assert_int_eq(bill_loginguard_new(&g, NULL), BILL_OK);
    for (int i = 0; i < 4; i++)
        bill_loginguard_fail_from(g, "admin:root", "203.0.113.9", T0);
    ck_assert_int_eq(bill_loginguard_check_from(g, "admin:root", "203.0.113.9", T0, NULL),
                     BILL_OK);
    bill_loginguard_fail_from(g, "admin:root", "203.0.113.9", T0); /* 5th */
    ck_assert_int_eq(bill_loginguard_check_from(g, "admin:root", "203.0.113.9", T0, &retry),
                     BILL_ELIMIT);
    ck_assert_int_eq(retry, 30);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "from this address"));
    /* The owner, elsewhere, is not locked; nor is another name from there. */
    ck_assert_int_eq(bill_loginguard_check_from(g, "admin:root", "198.51.100.7", T0, NULL),
                     BILL_OK);
    ck_assert_int_eq(bill_loginguard_check_from(g, "admin:other", "203.0.113.9", T0, NULL),
                     BILL_OK);
    /* The plain key API is a separate key space. */
    ck_assert_int_eq(bill_loginguard_check(g, "admin:root", T0, NULL), BILL_OK);
    /* The lock runs 30 s: locked the second before, free at the second. */
    ck_assert_int_eq(bill_loginguard_check_from(g, "admin:root", "203.0.113.9",
                                                T0 + 29LL * 1000000, NULL), BILL_ELIMIT);
    ck_assert_int_eq(bill_loginguard_check_from(g, "admin:root", "203.0.113.9",
                                                T0 + 30LL * 1000000, NULL), BILL_OK);
    /* The owner logs in: their pair and the name's count are cleared, the
     * attacker's pair is not. */
    bill_loginguard_success_from(g, "admin:root", "198.51.100.7");
    ck_assert_int_eq(bill_loginguard_check_from(g, "admin:root", "203.0.113.9",
                                                T0 + 29LL * 1000000, NULL), BILL_ELIMIT);
    bill_loginguard_free(g);

    /* A guesser spread over many addresses: 4 failures each from 25
     * addresses = 100 = the per-user threshold (defaults). */
    ck_assert_int_eq(bill_loginguard_new(&g, NULL), BILL_OK);
    char addr[32];
    for (int a = 0; a < 25; a++) {
        snprintf(addr, sizeof addr, "192.0.2.%d", a);
        for (int i = 0; i < 4; i++) {
            ck_assert_int_eq(bill_loginguard_check_from(g, "customer:eve", "198.51.100.7", T0,
                                                        NULL), BILL_OK);
            bill_loginguard_fail_from(g, "customer:eve", addr, T0);
        }
    }
    ck_assert_int_eq(bill_loginguard_check_from(g, "customer:eve", "198.51.100.7", T0, &retry),
                     BILL_ELIMIT);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "from many addresses"));
    bill_loginguard_free(g);

    /* The threshold is an option; version-1 options keep the default. */
    bill_loginguard_options o;
    bill_loginguard_options_init(&o);
    o.max_failures_per_user = 3;
    ck_assert_int_eq(bill_loginguard_new(&g, &o), BILL_OK);
    bill_loginguard_fail_from(g, "u", "a", T0);
    bill_loginguard_fail_from(g, "u", "b", T0);
    ck_assert_int_eq(bill_loginguard_check_from(g, "u", "c", T0, NULL), BILL_OK);
    bill_loginguard_fail_from(g, "u", "c", T0);
    ck_assert_int_eq(bill_loginguard_check_from(g, "u", "d", T0, NULL), BILL_ELIMIT);
    bill_loginguard_free(g);
    o.version = 1;
    ck_assert_int_eq(bill_loginguard_new(&g, &o), BILL_OK);
    for (int i = 0; i < 3; i++) {
        snprintf(addr, sizeof addr, "a%d", i);
        bill_loginguard_fail_from(g, "u", addr, T0);
    }
    ck_assert_int_eq(bill_loginguard_check_from(g, "u", "d", T0, NULL), BILL_OK);
    bill_loginguard_free(g);
    o.version = 3;
    ck_assert_int_eq(bill_loginguard_new(&g, &o), BILL_EINVALID);
}
END_TEST

BILL_TEST_MAIN_CASES("auth_jwt",
                     BILL_TEST_CASE("jwt", 0, NULL, NULL, test_jwt__issue_then_verify_roundtrip,
                                    test_jwt__expired_rejected, test_jwt__cache_hits_and_stays_exact,
                                    test_jwt__wrong_signature_rejected, test_jwt__alg_none_rejected,
                                    test_jwt__other_algs_rejected, test_jwt__claims_checked,
                                    test_jwt__garbage_rejected, test_jwt__issue_validates),
                     BILL_TEST_CASE("ratelimit", 0, NULL, NULL, test_ratelimit__burst_then_refill,
                                    test_ratelimit__memory_bounded, test_ratelimit__thread_safe,
                                    test_loginguard__locks_after_five_and_backs_off,
                                    test_loginguard__keyed_by_username_and_address));
