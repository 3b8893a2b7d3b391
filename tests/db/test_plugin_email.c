/*
 * test_plugin_email.c — notifier-email delivering to a real SMTP server
 * (aiosmtpd, tests/peers/smtp_server.py):
 *   - From/To/Subject/body and the SMTP envelope arrive as sent, a UTF-8
 *     subject is RFC 2047 encoded, a CR/LF in the subject cannot add a header;
 *   - AUTH with the right password delivers, a wrong one is BILL_ECONFIG and
 *     delivers nothing;
 *   - starttls "required" against a server without STARTTLS refuses to send
 *     in clear text; no recipient at all is BILL_EINVALID.
 */
#include "check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bill/bill.h>
#include <bill/plugin_host.h>
#include "peer_harness.h"
#include "plugin_fixture.h"

#define SO BUILTIN_PLUGIN_DIR "/notifier-email/notifier-email.so"

static bill_plugin_instance *open_mail(bill_plugins *p, const char *extra)
{
    bill_plugin_instance *inst = NULL;
    ck_assert_int_eq(bill_plugin_instance_open(p, BILL_PLUGIN_NOTIFIER, "notifier-email", extra,
                                               &inst), BILL_OK);
    return inst;
}

START_TEST(test_plugin_email__delivered_with_headers_and_body)
{
    bill_peer peer;
    bill_plugins *p = fx_registry_file(SO);
    bill_plugin_instance *inst;
    char cfg[256], *eml, *env;
    bill_notification n = {.version = BILL_NOTIFICATION_VERSION, .event_kind = "instance.ready",
                           .recipient = "bob@example.com", .subject = "Your server is ready",
                           .body = "Hello Bob,\nyour server runs at 10.0.0.10.\n.\nBye"};

    bill_peer_start(&peer, "smtp_server.py", NULL);
    snprintf(cfg, sizeof cfg, "{\"url\":\"smtp://127.0.0.1:%d\",\"from\":\"billing@example.net\"}",
             peer.port);
    inst = open_mail(p, cfg);
    ck_assert_int_eq(bill_plugin_notify(inst, &n), BILL_OK);
    eml = bill_peer_wait_file(&peer, "msg-1.eml", 5000);
    env = bill_peer_read(&peer, "msg-1.env");
    ck_assert_ptr_nonnull(eml);
    ck_assert_ptr_nonnull(env);
    ck_assert_ptr_nonnull(strstr(env, "MAIL FROM billing@example.net"));
    ck_assert_ptr_nonnull(strstr(env, "RCPT TO bob@example.com"));
    ck_assert_ptr_nonnull(strstr(eml, "From: billing@example.net\r\n"));
    ck_assert_ptr_nonnull(strstr(eml, "To: bob@example.com\r\n"));
    ck_assert_ptr_nonnull(strstr(eml, "Subject: Your server is ready\r\n"));
    ck_assert_ptr_nonnull(strstr(eml, "X-Bill-Event: instance.ready\r\n"));
    ck_assert_ptr_nonnull(strstr(eml, "\r\n\r\nHello Bob,\r\nyour server runs at 10.0.0.10.\r\n"
                                      ".\r\nBye"));
    free(eml);
    free(env);

    /* UTF-8 subject encoded; CR/LF in a subject cannot start a header. */
    n.subject = "订单已支付 order paid";
    n.recipient = NULL; /* no default "to" configured */
    ck_assert_int_eq(bill_plugin_notify(inst, &n), BILL_EINVALID);
    n.recipient = "carol@example.com";
    ck_assert_int_eq(bill_plugin_notify(inst, &n), BILL_OK);
    eml = bill_peer_wait_file(&peer, "msg-2.eml", 5000);
    ck_assert_ptr_nonnull(eml);
    ck_assert_ptr_nonnull(strstr(eml, "Subject: =?UTF-8?B?6K6i5Y2V5bey5pSv5LuYIG9yZGVyIHBhaWQ=?="));
    free(eml);
    n.subject = "hi\r\nBcc: mallory@example.org";
    ck_assert_int_eq(bill_plugin_notify(inst, &n), BILL_OK);
    eml = bill_peer_wait_file(&peer, "msg-3.eml", 5000);
    env = bill_peer_read(&peer, "msg-3.env");
    ck_assert_ptr_nonnull(eml);
    ck_assert_ptr_null(strstr(eml, "\r\nBcc:"));
    ck_assert_ptr_null(strstr(env, "mallory"));
    free(eml);
    free(env);
    bill_plugin_instance_release(inst);
    bill_peer_stop(&peer);
    bill_plugins_free(p);
}
END_TEST

START_TEST(test_plugin_email__auth_and_starttls_policy)
{
    bill_peer peer;
    const char *args[] = {"--user", "mailer", "--password", "pa55", NULL};
    bill_plugins *p = fx_registry_file(SO);
    bill_plugin_instance *inst;
    char cfg[384], *eml;
    bill_notification n = {.version = BILL_NOTIFICATION_VERSION, .event_kind = "invoice.issued",
                           .subject = "Invoice", .body = "Invoice INV-1 is due."};

    bill_peer_start(&peer, "smtp_server.py", args);
    snprintf(cfg, sizeof cfg, "{\"url\":\"smtp://127.0.0.1:%d\",\"from\":\"billing@example.net\","
             "\"to\":\"ops@example.net\",\"username\":\"mailer\",\"password\":\"wrong\"}",
             peer.port);
    inst = open_mail(p, cfg);
    ck_assert_int_eq(bill_plugin_notify(inst, &n), BILL_ECONFIG);
    bill_plugin_instance_release(inst);
    ck_assert_ptr_null(bill_peer_read(&peer, "msg-1.eml"));

    snprintf(cfg, sizeof cfg, "{\"url\":\"smtp://127.0.0.1:%d\",\"from\":\"billing@example.net\","
             "\"to\":\"ops@example.net\",\"username\":\"mailer\",\"password\":\"pa55\","
             "\"starttls\":\"required\"}", peer.port);
    inst = open_mail(p, cfg);
    /* The server offers no STARTTLS: "required" must not fall back to clear text. */
    ck_assert_int_lt(bill_plugin_notify(inst, &n), 0);
    bill_plugin_instance_release(inst);
    ck_assert_ptr_null(bill_peer_read(&peer, "msg-1.eml"));

    snprintf(cfg, sizeof cfg, "{\"url\":\"smtp://127.0.0.1:%d\",\"from\":\"billing@example.net\","
             "\"to\":\"ops@example.net\",\"username\":\"mailer\",\"password\":\"pa55\"}",
             peer.port);
    inst = open_mail(p, cfg);
    ck_assert_int_eq(bill_plugin_notify(inst, &n), BILL_OK);
    eml = bill_peer_wait_file(&peer, "msg-1.eml", 5000);
    ck_assert_ptr_nonnull(eml);
    ck_assert_ptr_nonnull(strstr(eml, "To: ops@example.net\r\n"));
    ck_assert_ptr_nonnull(strstr(eml, "Invoice INV-1 is due."));
    free(eml);
    bill_plugin_instance_release(inst);
    ck_assert_int_eq(bill_plugin_instance_open(p, BILL_PLUGIN_NOTIFIER, "notifier-email",
                     "{\"url\":\"http://x\",\"from\":\"a@b.c\"}", &inst), BILL_EINVALID);
    bill_peer_stop(&peer);
    bill_plugins_free(p);
}
END_TEST

BILL_TEST_MAIN("plugin_email", 60, NULL, NULL,
               test_plugin_email__delivered_with_headers_and_body,
               test_plugin_email__auth_and_starttls_policy);
