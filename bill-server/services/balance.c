/*
 * balance.c — rustbill.balance.BalanceService (wire-contract.md): a
 * customer's balance and ledger. Login required. Customers always get their
 * own (an explicit other customer_id is NOT_FOUND, see conv.h); staff must
 * name the customer. Ledger rows come newest first.
 */
#include "conv.h"

#include "rustbill/balance.pb-c.h"


static int get_balance(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Balance__GetBalanceRequest *req = (const Rustbill__Balance__GetBalanceRequest *)in;
    Rustbill__Balance__GetBalanceResponse *resp;
    const char *cid = NULL;
    bill_money bal = 0, limit = 0;
    int rc, st;

    if ((st = conv_customer_scope(call, req->customer_id, true, &cid)) != BILL_GRPC_OK)
        return st;
    rc = bill_balance_get(bill_srv_call_db(call), bill_srv_call_actor(call), cid, &bal, &limit);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    if (!(resp = bill_srv_call_new(call, &rustbill__balance__get_balance_response__descriptor)))
        return conv_oom(call);
    resp->customer_id = conv_str(call, cid);
    resp->balance = conv_money(call, bal);
    resp->credit_limit = conv_money(call, limit);
    *out = &resp->base;
    return BILL_GRPC_OK;
}

static void *tx_info(bill_srv_call *call, const void *item)
{
    const bill_balance_tx *t = item;
    Rustbill__Balance__BalanceTransactionInfo *x =
        bill_srv_call_new(call, &rustbill__balance__balance_transaction_info__descriptor);
    if (!x)
        return NULL;
    x->id = conv_str(call, t->id);
    x->customer_id = conv_str(call, t->customer_id);
    x->amount = conv_money(call, t->amount);
    x->balance_after = conv_money(call, t->balance_after);
    x->transaction_type = conv_str(call, bill_balance_tx_type_name(t->type));
    x->reference_id = conv_str(call, t->reference_id);
    x->description = conv_str(call, t->description);
    x->created_at = conv_time(call, t->created_at);
    return x;
}

static int list_txs(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Balance__ListBalanceTransactionsRequest *req =
        (const Rustbill__Balance__ListBalanceTransactionsRequest *)in;
    bill_balance_txs l = {0};
    bill_balance_tx_type type = 0;
    bill_page page;
    const char *cid = NULL;
    int rc, st;

    if ((st = conv_customer_scope(call, req->customer_id, true, &cid)) != BILL_GRPC_OK)
        return st;
    if (req->transaction_type && *req->transaction_type &&
        (rc = bill_balance_tx_type_parse(req->transaction_type, &type)) < 0)
        return bill_srv_call_fail(call, rc);
    conv_page_in(req->pagination, &page);
    rc = bill_balance_tx_list(bill_srv_call_db(call), bill_srv_call_actor(call), cid, type, &page, &l);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    st = CONV_REPLY_LIST(call, out, &rustbill__balance__list_balance_transactions_response__descriptor,
                         "transactions", l, tx_info);
    bill_balance_txs_clear(&l);
    return st;
}

#define M(name, in, outd, fn) CONV_METHOD(balance, "BalanceService", name, in, outd, fn, 0)

static const bill_srv_method balance_methods[] = {
    M("GetBalance", get_balance_request, get_balance_response, get_balance),
    M("ListBalanceTransactions", list_balance_transactions_request, list_balance_transactions_response,
      list_txs),
};

CONV_SERVICE(bill_srv_balance_service, "rustbill.balance.BalanceService", balance_methods);
