/*
 * test_instance.c — the HTML sanitizer against a hostile corpus (no
 * database), and instances against a real PostgreSQL: scoped get/list,
 * detail sections sanitized, actions following the status rules
 * (terminate is final), pagination meta.
 */
#include "db_fixture.h"
#include "check_main.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const bill_actor cli = {.kind = BILL_ACTOR_CLI, .username = "ops"};

BILL_TEST_DB_FIXTURE()

static char *san(const char *in)
{
    char *out = NULL;
    ck_assert_int_eq(bill_html_sanitize(in, &out), BILL_OK);
    ck_assert_ptr_nonnull(out);
    return out;
}

/* Lower-cased copy, to search case-insensitively. */
static char *lower(const char *s)
{
    char *l = strdup(s);
    for (char *p = l; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return l;
}

static void assert_safe(const char *in)
{
    char *out = san(in), *l = lower(out);
    ck_assert_msg(!strstr(l, "<script"), "script survived: %s -> %s", in, out);
    ck_assert_msg(!strstr(l, "<iframe") && !strstr(l, "<object") && !strstr(l, "<svg") &&
                      !strstr(l, "<img") && !strstr(l, "<style") && !strstr(l, "<embed"),
                  "tag survived: %s -> %s", in, out);
    ck_assert_msg(!strstr(l, "javascript:") && !strstr(l, "vbscript:") && !strstr(l, "data:"),
                  "scheme survived: %s -> %s", in, out);
    /* No event handler attribute inside any tag. */
    for (const char *p = l; (p = strchr(p, '<')); p++) {
        const char *gt = strchr(p, '>');
        ck_assert_ptr_nonnull(gt);
        for (const char *q = p; q < gt; q++)
            ck_assert_msg(!(q[0] == ' ' && q[1] == 'o' && q[2] == 'n'),
                          "handler survived: %s -> %s", in, out);
        ck_assert_msg(!memmem(p, (size_t)(gt - p), "style=", 6), "style attr: %s", out);
    }
    free(l);
    free(out);
}

START_TEST(test_instance__sanitizer_hostile_corpus)
{
    static const char *corpus[] = {
        "<script>alert(1)</script>",
        "<SCRIPT SRC=//evil/x.js></SCRIPT>",
        "<scr<script>ipt>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<p onclick=\"alert(1)\">x</p>",
        "<p ONMOUSEOVER='alert(1)'>x</p>",
        "<a href=\"javascript:alert(1)\">x</a>",
        "<a href=\" javascript:alert(1)\">x</a>",
        "<a href=\"java\tscript:alert(1)\">x</a>",
        "<a href=\"java&#x09;script:alert(1)\">x</a>",
        "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">x</a>",
        "<a href=\"&#0000106avascript:alert(1)\">x</a>",
        "<a href=\"&#x6A;avascript&colon;alert(1)\">x</a>",
        "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
        "<a href=\"vbscript:msgbox(1)\">x</a>",
        "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
        "<a href=javascript:alert(1)>x</a>",
        "<a href='javascript:alert(1)'>x</a>",
        "<iframe src=\"https://evil\"></iframe>",
        "<object data=\"x.swf\"><param name=a></object>",
        "<embed src=x>",
        "<svg onload=alert(1)><script>alert(1)</script></svg>",
        "<style>body{background:url(javascript:alert(1))}</style>",
        "<div style=\"background:url(javascript:alert(1))\">x</div>",
        "<!--<script>alert(1)</script>-->",
        "<p>unterminated <script",
        "<p title=\"x\" onclick=alert(1) >y</p>",
        "<a href=\"https://ok\"onclick=\"alert(1)\">x</a>",
        "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
        "<table><tr><td onclick=alert(1) colspan=2>x</td></tr></table>",
        "<div><<script>script>alert(1)<</script>/script></div>",
        "<textarea><script>alert(1)</script></textarea>",
        "<a href=\"&#x6a&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3a;alert(1)\">x</a>",
        "<a/href=\"javascript:alert(1)\">x</a>",
        "<ScRiPt >alert(1)</sCrIpT >",
        "\"><script>alert(1)</script>",
        "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
    };
    for (size_t i = 0; i < sizeof corpus / sizeof *corpus; i++)
        assert_safe(corpus[i]);

    /* What must survive, exactly. */
    char *out = san("<p>Hello <b>bold</b> &amp; <i>it</i><br/>next</p>");
    ck_assert_str_eq(out, "<p>Hello <b>bold</b> &amp; <i>it</i><br>next</p>");
    free(out);
    out = san("<a href=\"https://example.com/a?b=1&amp;c=2\" title=t>link</a>");
    ck_assert_str_eq(out, "<a href=\"https://example.com/a?b=1&amp;c=2\" title=\"t\" "
                          "rel=\"noopener noreferrer nofollow\">link</a>");
    free(out);
    out = san("<a href=\"mailto:ops@example.com\">m</a>");
    ck_assert_ptr_nonnull(strstr(out, "href=\"mailto:ops@example.com\""));
    free(out);
    out = san("<a href=\"javascript:alert(1)\">x</a>");
    ck_assert_str_eq(out, "<a rel=\"noopener noreferrer nofollow\">x</a>");
    free(out);
    out = san("<table><tr><th colspan=\"2\">h</th></tr></table>");
    ck_assert_str_eq(out, "<table><tr><th colspan=\"2\">h</th></tr></table>");
    free(out);
    out = san("1 < 2 && 3 > 2 \"q\"");
    ck_assert_str_eq(out, "1 &lt; 2 &amp;&amp; 3 &gt; 2 &quot;q&quot;");
    free(out);
    out = san("<script>gone</script>kept<unknown>text</unknown>");
    ck_assert_str_eq(out, "kepttext");
    free(out);
    /* Unbalanced markup cannot escape its container. */
    out = san("</div></div><div><ul><li>a");
    ck_assert_str_eq(out, "<div><ul><li>a</li></ul></div>");
    free(out);
    out = san(NULL);
    ck_assert_str_eq(out, "");
    free(out);
    ck_assert_int_eq(bill_html_sanitize("x", NULL), BILL_EINVALID);
}
END_TEST

static void mk_instance(const char *cid, const char *status)
{
    char sql[300];
    snprintf(sql, sizeof sql,
             "INSERT INTO instances (customer_id, status, ip_address) VALUES ('%s', '%s', "
             "'10.0.0.1')", cid, status);
    ck_assert_int_eq(bill_test_pg_exec(url, sql), 0);
}

static char *newest_instance(const char *cid)
{
    bill_instances l;
    bill_instance_filter f = {.version = BILL_INSTANCE_FILTER_VERSION, .customer_id = cid};
    bill_page pg = {.page = 1, .page_size = 1};
    ck_assert_int_eq(bill_instance_list(db, &cli, &f, &pg, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 1);
    char *id = strdup(l.items[0].id);
    bill_instances_clear(&l);
    return id;
}

START_TEST(test_instance__get_sections_actions_scoping)
{
    const char *cid = bill_test_customer_named(db, "I"), *other = bill_test_customer_named(db, "J");
    char sql[600];
    bill_actor me = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = cid};
    bill_actor b = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = other};
    bill_instance_detail *d = NULL;

    mk_instance(cid, "running");
    char *id = newest_instance(cid);
    snprintf(sql, sizeof sql,
             "INSERT INTO instance_detail_sections (instance_id, customer_id, title, fields, "
             "content_html, sort_order) VALUES ('%s', '%s', 'Login', "
             "'[{\"key\":\"user\",\"value\":\"root\"},{\"key\":\"port\",\"value\":\"22\","
             "\"value_type\":\"number\"}]', '<p onclick=\"x()\">Use <b>ssh</b></p><script>"
             "steal()</script>', 1)", id, cid);
    ck_assert_int_eq(bill_test_pg_exec(url, sql), 0);

    ck_assert_int_eq(bill_instance_get(db, NULL, &me, id, &d), BILL_OK);
    ck_assert_str_eq(d->instance.status, "running");
    ck_assert_str_eq(d->instance.ip_address, "10.0.0.1");
    ck_assert_uint_eq(d->section_count, 1);
    ck_assert_str_eq(d->sections[0].title, "Login");
    ck_assert_str_eq(d->sections[0].content_html, "<p>Use <b>ssh</b></p>");
    ck_assert_uint_eq(d->sections[0].field_count, 2);
    ck_assert_str_eq(d->sections[0].fields[0].value_type, "text");
    ck_assert_str_eq(d->sections[0].fields[1].value_type, "number");
    ck_assert_uint_eq(d->action_count, 4);
    ck_assert_str_eq(d->actions[0].id, "start");
    ck_assert(!d->actions[0].enabled); /* running: start disabled */
    ck_assert(d->actions[1].enabled);  /* stop */
    ck_assert(d->actions[3].enabled);  /* terminate */
    bill_instance_detail_free(d);

    /* Scoping: B sees nothing of A's. */
    ck_assert_int_eq(bill_instance_get(db, NULL, &b, id, &d), BILL_ENOTFOUND);
    ck_assert_int_eq(bill_instance_action_run(db, NULL, &b, id, "stop"), BILL_ENOTFOUND);

    /* Actions. */
    ck_assert_int_eq(bill_instance_action_run(db, NULL, &me, id, "explode"), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "action");
    ck_assert_int_eq(bill_instance_action_run(db, NULL, &me, id, "start"), BILL_ESTATE);
    ck_assert_int_eq(bill_instance_action_run(db, NULL, &me, id, "stop"), BILL_OK);
    ck_assert_int_eq(bill_instance_action_run(db, NULL, &me, id, "reboot"), BILL_ESTATE);
    ck_assert_int_eq(bill_instance_action_run(db, NULL, &me, id, "start"), BILL_OK);
    ck_assert_int_eq(bill_instance_action_run(db, NULL, &me, id, "reboot"), BILL_OK);
    ck_assert_int_eq(bill_instance_action_run(db, NULL, &me, id, "terminate"), BILL_OK);
    ck_assert_int_eq(bill_instance_action_run(db, NULL, &me, id, "start"), BILL_ESTATE);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "terminated"));
    ck_assert_int_eq(bill_instance_action_run(db, NULL, &cli, id, "terminate"), BILL_ESTATE);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM instances WHERE id = '%s' AND status = "
             "'terminated' AND terminated_at IS NOT NULL", id);
    ck_assert_int_eq(bill_test_pg_query_ll(url, sql), 1);
    ck_assert_int_eq(bill_instance_get(db, NULL, &me, id, &d), BILL_OK);
    for (size_t i = 0; i < d->action_count; i++)
        ck_assert(!d->actions[i].enabled);
    bill_instance_detail_free(d);

    /* Lists: forced scope, filters, pagination meta. */
    for (int i = 0; i < 4; i++)
        mk_instance(other, "stopped");
    bill_instances l;
    bill_instance_filter f = {.version = BILL_INSTANCE_FILTER_VERSION, .customer_id = cid};
    ck_assert_int_eq(bill_instance_list(db, &b, &f, NULL, &l), BILL_ENOTFOUND);
    f.customer_id = other;
    BILL_TEST_LIST_TOTAL(bill_instance_list(db, &b, &f, NULL, &l), l, bill_instances_clear, 4);
    bill_page pg = {.page = 2, .page_size = 3};
    ck_assert_int_eq(bill_instance_list(db, &b, NULL, &pg, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 1);
    ck_assert_uint_eq(l.meta.total_pages, 2);
    bill_instances_clear(&l);
    f = (bill_instance_filter){.version = BILL_INSTANCE_FILTER_VERSION, .status = "terminated"};
    BILL_TEST_LIST_TOTAL(bill_instance_list(db, &cli, &f, NULL, &l), l, bill_instances_clear, 1);
    f = (bill_instance_filter){.version = BILL_INSTANCE_FILTER_VERSION, .status = "on"};
    ck_assert_int_eq(bill_instance_list(db, &cli, &f, NULL, &l), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "status");
    /* filters combine; each one narrows */
    f = (bill_instance_filter){.version = BILL_INSTANCE_FILTER_VERSION, .customer_id = other,
                               .status = "stopped"};
    BILL_TEST_LIST_TOTAL(bill_instance_list(db, &cli, &f, NULL, &l), l, bill_instances_clear, 4);
    f.status = "terminated";
    BILL_TEST_LIST_TOTAL(bill_instance_list(db, &cli, &f, NULL, &l), l, bill_instances_clear, 0);
    f = (bill_instance_filter){.version = BILL_INSTANCE_FILTER_VERSION, .status = "stopped",
                               .provider_id = "00000000-0000-4000-8000-000000000001"};
    BILL_TEST_LIST_TOTAL(bill_instance_list(db, &cli, &f, NULL, &l), l, bill_instances_clear, 0);
    f.provider_id = "not-a-uuid";
    ck_assert_int_eq(bill_instance_list(db, &cli, &f, NULL, &l), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "provider_id");

    free(id);
}
END_TEST

/* Suspended instances are out of their customer's hands (issue 8): every
 * action refused with a message saying why, for customers; staff may still
 * terminate. Every call, done or refused, is in the operation log with the
 * customer user as actor. */
START_TEST(test_instance__suspended_refused_and_audited)
{
    const char *cid = bill_test_customer_named(db, "S"), *other = bill_test_customer_named(db, "T");
    char sql[400];
    bill_actor me = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = cid,
                     .user_id = "embedder-user-sam", .username = "sam",
                     .source_ip = "192.0.2.7"};
    bill_actor b = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = other, .username = "tim"};
    bill_instance_detail *d = NULL;

    mk_instance(cid, "suspended");
    char *id = newest_instance(cid);
    const char *acts[] = {"start", "stop", "reboot", "terminate"};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(bill_instance_action_run(db, NULL, &me, id, acts[i]), BILL_ESTATE);
        ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "suspended"));
        ck_assert_str_eq(bill_error_last()->field, "status");
    }
    ck_assert_int_eq(bill_instance_get(db, NULL, &me, id, &d), BILL_OK);
    for (size_t i = 0; i < d->action_count; i++)
        ck_assert_msg(!d->actions[i].enabled, "%s enabled on a suspended instance",
                      d->actions[i].id);
    bill_instance_detail_free(d);
    /* the refusals are audited, nothing changed */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM operation_logs WHERE target_type = 'instance' AND "
             "target_id = '%s' AND actor_type = 'customer' AND actor_id = '%s' AND "
             "actor_name = 'sam' AND source_ip = '192.0.2.7' AND after->>'error' = 'BILL_ESTATE' "
             "AND after->>'refused' LIKE '%%suspended%%'", id, me.user_id);
    ck_assert_int_eq(bill_test_pg_query_ll(url, sql), 4);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM instances WHERE id = '%s' AND status = "
             "'suspended'", id);
    ck_assert_int_eq(bill_test_pg_query_ll(url, sql), 1);
    /* another customer: NOT_FOUND, audited under that customer */
    ck_assert_int_eq(bill_instance_action_run(db, NULL, &b, id, "terminate"), BILL_ENOTFOUND);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM operation_logs WHERE target_id = '%s' AND "
             "actor_name = 'tim' AND action = 'instance.terminate' AND after->>'error' = "
             "'BILL_ENOTFOUND'", id);
    ck_assert_int_eq(bill_test_pg_query_ll(url, sql), 1);
    /* staff may terminate a suspended instance */
    ck_assert_int_eq(bill_instance_action_run(db, NULL, &cli, id, "start"), BILL_ESTATE);
    ck_assert_int_eq(bill_instance_action_run(db, NULL, &cli, id, "terminate"), BILL_OK);

    /* a customer's successful action: before/after status, actor = the user */
    mk_instance(cid, "running");
    char *id2 = newest_instance(cid);
    ck_assert_int_eq(bill_instance_action_run(db, NULL, &me, id2, "stop"), BILL_OK);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM operation_logs WHERE action = 'instance.stop' AND "
             "target_id = '%s' AND actor_type = 'customer' AND actor_name = 'sam' AND "
             "before->>'status' = 'running' AND after->>'status' = 'stopped'", id2);
    ck_assert_int_eq(bill_test_pg_query_ll(url, sql), 1);
    /* malformed ids and unknown actions are argument errors, not calls on an instance */
    ck_assert_int_eq(bill_instance_action_run(db, NULL, &me, id2, "explode"), BILL_EINVALID);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM operation_logs WHERE target_id = '%s'", id2);
    ck_assert_int_eq(bill_test_pg_query_ll(url, sql), 1);

    free(id);
    free(id2);
}
END_TEST

/* Issue 8: the front end knows order status "terminated": terminating an
 * instance terminates its order (active or suspended), in one transaction. */
START_TEST(test_instance__terminate_terminates_the_order)
{
    const char *cid = bill_test_customer_named(db, "Ter");
    bill_actor me = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = cid};
    char sql[600];
    snprintf(sql, sizeof sql,
             "WITH o AS (INSERT INTO orders (customer_id, total_amount, status) VALUES "
             "('%s', 1, 'active') RETURNING id) INSERT INTO instances (customer_id, order_id, "
             "status) SELECT '%s', id, 'running' FROM o", cid, cid);
    ck_assert_int_eq(bill_test_pg_exec(url, sql), 0);
    char *id = newest_instance(cid);
    ck_assert_int_eq(bill_instance_action_run(db, NULL, &me, id, "terminate"), BILL_OK);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM orders WHERE status = "
                                                "'terminated'"), 1);
    bill_orders l;
    bill_order_filter f = {.version = BILL_ORDER_FILTER_VERSION, .status = "terminated"};
    ck_assert_int_eq(bill_order_list(db, &me, &f, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 1);
    bill_orders_clear(&l);
    ck_assert(bill_order_transition_allowed("suspended", "terminated"));
    ck_assert(!bill_order_transition_allowed("terminated", "active"));
    ck_assert(!bill_order_transition_allowed("pending", "terminated"));
    free(id);
}
END_TEST

BILL_TEST_MAIN("instance", 120, setup, teardown,
               test_instance__sanitizer_hostile_corpus,
               test_instance__get_sections_actions_scoping,
               test_instance__suspended_refused_and_audited,
               test_instance__terminate_terminates_the_order);
