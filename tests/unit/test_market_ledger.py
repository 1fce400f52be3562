"""The marketplace's pure ledger: fee rounding, transaction shapes, and a property test over random
sequences of purchases, refunds, payouts and royalties (the books always balance, every transaction
sums to zero, no seller balance is ever negative, a buyer is always refunded in full)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.market import ledger
from cloud.market.ledger import (
    BUYER_PAYMENTS,
    PAYOUTS,
    PLATFORM_FEES,
    REFUNDS,
    InsufficientBalance,
    LedgerError,
    TxKind,
    balances,
    check_books,
    platform_fee,
    seller_account,
)


@pytest.mark.parametrize(
    ("price", "bps", "fee"),
    [
        (0, 1000, 0),
        (1, 1000, 0),  # 0.1 cent rounds down
        (4, 1000, 0),  # 0.4 → 0
        (5, 1000, 1),  # 0.5 → 1 (half up)
        (6, 1000, 1),
        (15, 1000, 2),  # 1.5 → 2
        (14, 1000, 1),  # 1.4 → 1
        (999, 1000, 100),  # 99.9 → 100
        (1000, 1000, 100),
        (1999, 250, 50),  # 49.975 → 50
        (12345, 0, 0),
        (12345, 10_000, 12345),
    ],
)
def test_fee_is_rounded_half_up_to_a_cent(price: int, bps: int, fee: int) -> None:
    assert platform_fee(price, bps) == fee
    tx = ledger.sale(TxKind.PURCHASE, "p", "s", price, bps) if price else None
    if tx is not None:
        assert tx.amount_of(PLATFORM_FEES) == fee
        assert tx.amount_of(seller_account("s")) == price - fee
        assert tx.amount_of(BUYER_PAYMENTS) == -price


def test_bad_amounts_are_refused() -> None:
    with pytest.raises(LedgerError):
        platform_fee(-1, 1000)
    with pytest.raises(LedgerError):
        platform_fee(100, 10_001)
    with pytest.raises(LedgerError):
        ledger.sale(TxKind.PURCHASE, "p", "s", 0, 1000)
    with pytest.raises(LedgerError):
        ledger.Transaction(TxKind.PAYOUT, "x", (ledger.Entry("a", 5), ledger.Entry("b", -4)))
    with pytest.raises(InsufficientBalance):
        ledger.payout("x", "s", 101, 100)


def test_refund_reverses_the_purchase_exactly_when_the_balance_holds_it() -> None:
    sale = ledger.sale(TxKind.PURCHASE, "p1", "s", 1000, 1000)
    back = ledger.refund(sale, 900)
    assert back.ref == "p1" and back.kind is TxKind.REFUND
    assert back.amount_of(REFUNDS) == 1000
    assert back.amount_of(PLATFORM_FEES) == -100
    assert back.amount_of(seller_account("s")) == -900
    totals = balances([sale, back])
    assert totals[seller_account("s")] == 0 and totals[PLATFORM_FEES] == 0
    check_books(totals)


def test_refund_after_a_payout_is_absorbed_by_the_platform() -> None:
    sale = ledger.sale(TxKind.PURCHASE, "p1", "s", 1000, 1000)  # seller +900
    out = ledger.payout("po1", "s", 600, 900)  # seller 300 left
    back = ledger.refund(sale, 300)
    assert back.amount_of(seller_account("s")) == -300
    assert back.amount_of(PLATFORM_FEES) == -(100 + 600)  # its fee and the 600 already paid out
    assert back.amount_of(REFUNDS) == 1000  # the buyer gets everything back
    totals = balances([sale, out, back])
    assert totals[seller_account("s")] == 0
    assert totals[PLATFORM_FEES] == -600 and totals[PAYOUTS] == 600
    check_books(totals)


# ---- property test ----------------------------------------------------------------------------

SELLERS = ["s1", "s2", "s3"]


@dataclass
class Books:
    fee_bps: int
    transactions: list[ledger.Transaction] = field(default_factory=list)
    open_purchases: dict[str, ledger.Transaction] = field(default_factory=dict)
    counter: int = 0

    def balance(self, org: str) -> int:
        return balances(self.transactions).get(seller_account(org), 0)

    def next_ref(self) -> str:
        self.counter += 1
        return f"r{self.counter}"


Op = tuple[str, int, int]
ops = st.lists(
    st.tuples(
        st.sampled_from(["purchase", "royalty", "refund", "payout"]),
        st.integers(min_value=0, max_value=len(SELLERS) * 50),
        st.integers(min_value=1, max_value=50_000),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(fee_bps=st.integers(min_value=0, max_value=10_000), operations=ops)
def test_books_always_balance_and_no_seller_goes_negative(fee_bps: int, operations: list[Op]) -> None:
    books = Books(fee_bps)
    refused_payouts = 0
    for kind, pick, amount in operations:
        seller = SELLERS[pick % len(SELLERS)]
        if kind in ("purchase", "royalty"):
            tx_kind = TxKind.PURCHASE if kind == "purchase" else TxKind.ROYALTY
            tx = ledger.sale(tx_kind, books.next_ref(), seller, amount, fee_bps)
            if tx_kind is TxKind.PURCHASE:
                books.open_purchases[tx.ref] = tx
        elif kind == "refund":
            if not books.open_purchases:
                continue
            ref = sorted(books.open_purchases)[pick % len(books.open_purchases)]
            original = books.open_purchases.pop(ref)
            # a 100 % fee leaves the seller no share, so no seller entry: nothing to take back from one
            owner = next((e.account for e in original.entries if ledger.is_seller_account(e.account)), None)
            held = balances(books.transactions).get(owner, 0) if owner is not None else 0
            tx = ledger.refund(original, held)
            assert tx.amount_of(REFUNDS) == -original.amount_of(BUYER_PAYMENTS)  # made whole
        else:
            available = books.balance(seller)
            wanted = amount if pick % 2 else max(1, available)  # half the time: exactly the balance
            try:
                tx = ledger.payout(books.next_ref(), seller, wanted, available)
            except InsufficientBalance:
                assert wanted > available
                refused_payouts += 1
                continue
        assert sum(e.amount_cents for e in tx.entries) == 0
        books.transactions.append(tx)
        totals = balances(books.transactions)
        check_books(totals)
        assert all(totals.get(seller_account(s), 0) >= 0 for s in SELLERS)
    totals = balances(books.transactions)
    assert sum(totals.values()) == 0
    assert totals.get(PAYOUTS, 0) >= 0 and totals.get(REFUNDS, 0) >= 0
    # every cent buyers paid is somewhere: with the platform, with sellers, paid out or refunded
    paid_in = -totals.get(BUYER_PAYMENTS, 0)
    held = sum(v for a, v in totals.items() if a != BUYER_PAYMENTS)
    assert paid_in == held
