-- 011_gateway_money: money a gateway says it received is never lost
-- (issue 8, defect 2).
--
-- credited_to_balance: the payment was confirmed but its order or invoice
-- could no longer take it (paid meanwhile, cancelled), so its amount (or
-- what the invoice did not need) went to the customer's balance as a
-- recharge. Such a payment cannot be refunded to the balance a second time.
ALTER TABLE payments ADD COLUMN credited_to_balance boolean NOT NULL DEFAULT false;

-- One gateway transaction confirms at most one payment of a gateway
-- interface: a replayed or forged notify that names another payment with a
-- trade_no already used is refused by the schema, not only by the code.
-- "" was stored for "no transaction id"; it means NULL.
UPDATE payments SET gateway_tx_id = NULL WHERE gateway_tx_id = '';
CREATE UNIQUE INDEX payments_gateway_tx_uq ON payments (gateway_id, gateway_tx_id)
    WHERE gateway_tx_id IS NOT NULL;
