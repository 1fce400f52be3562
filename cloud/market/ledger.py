"""The marketplace's money, pure: double-entry transactions over named accounts, in integer cents.

No I/O. ``cloud.market.books`` stores what these functions decide; the property test drives
them directly.

Accounts (``Account``) and their sign convention — an account's balance is the sum of its
entries, and every transaction's entries sum to zero::

    buyer_payments          external: money paid in by buyers (goes negative as they pay)
    platform_fees           the platform's cut (positive = earned; negative = the platform absorbed a loss)
    seller_balance:<org>    what the platform owes a seller (never negative)
    payouts                 external: money paid out to sellers (positive = paid out)
    refunds                 external: money paid back to buyers (positive = refunded)

Transactions:

- **purchase** of price ``P``: ``buyer_payments -P``, ``platform_fees +fee``, ``seller_balance +(P-fee)``.
- **royalty** (one print of a per-print listing, ``R``): the same shape as a purchase of ``R``.
- **refund** of a purchase: ``refunds +P``; the seller gives back its share and the platform its fee.
  When the seller already paid out part of its share, the seller gives back only what its balance
  still holds and **the platform absorbs the rest** (``platform_fees`` is debited the shortfall):
  the buyer is always made whole, and no seller balance ever goes negative.
- **payout** of ``A``: ``seller_balance -A``, ``payouts +A``; refused (``InsufficientBalance``)
  beyond the balance.

Fee rounding: ``fee = floor((P * fee_bps + 5_000) / 10_000)``: the fee in basis points, rounded
half up to a whole cent (10 % of 5 cents is 0.5 → 1 cent; of 4 cents is 0.4 → 0). The seller gets
``P - fee`` exactly, so no cent is ever lost to rounding. ``fee_bps`` is 0..10 000.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

BUYER_PAYMENTS: Final = "buyer_payments"
PLATFORM_FEES: Final = "platform_fees"
PAYOUTS: Final = "payouts"
REFUNDS: Final = "refunds"
SELLER_PREFIX: Final = "seller_balance:"
BPS: Final = 10_000


class TxKind(StrEnum):
    PURCHASE = "purchase"
    REFUND = "refund"
    PAYOUT = "payout"
    ROYALTY = "royalty"


class LedgerError(ValueError):
    """A transaction the ledger refuses (a bug in the caller, or a refusal to show the user)."""


class InsufficientBalance(LedgerError):
    def __init__(self, wanted_cents: int, balance_cents: int) -> None:
        super().__init__(f"the balance is {balance_cents} cents; {wanted_cents} cents cannot be paid out")
        self.wanted_cents = wanted_cents
        self.balance_cents = balance_cents


def seller_account(org_id: str) -> str:
    return f"{SELLER_PREFIX}{org_id}"


def is_seller_account(account: str) -> bool:
    return account.startswith(SELLER_PREFIX)


@dataclass(frozen=True, slots=True)
class Entry:
    account: str
    amount_cents: int


@dataclass(frozen=True, slots=True)
class Transaction:
    """Entries that sum to zero. ``ref`` names what it is about (a purchase, a job, a payout)."""

    kind: TxKind
    ref: str
    entries: tuple[Entry, ...]

    def __post_init__(self) -> None:
        if sum(e.amount_cents for e in self.entries) != 0:
            raise LedgerError(f"{self.kind} {self.ref}: entries do not sum to zero: {self.entries}")
        if any(e.amount_cents == 0 for e in self.entries):
            raise LedgerError(f"{self.kind} {self.ref}: an entry of zero cents")

    def amount_of(self, account: str) -> int:
        return sum(e.amount_cents for e in self.entries if e.account == account)


def platform_fee(price_cents: int, fee_bps: int) -> int:
    """The platform's fee on ``price_cents``: ``fee_bps`` basis points, rounded half up to a cent."""
    if price_cents < 0:
        raise LedgerError("a price is never negative")
    if not 0 <= fee_bps <= BPS:
        raise LedgerError("the fee is 0 to 10 000 basis points")
    return (price_cents * fee_bps + BPS // 2) // BPS


def _entries(*pairs: tuple[str, int]) -> tuple[Entry, ...]:
    """Entries, merging an account named twice and dropping zero amounts."""
    merged: dict[str, int] = {}
    for account, amount in pairs:
        merged[account] = merged.get(account, 0) + amount
    return tuple(Entry(account, amount) for account, amount in merged.items() if amount != 0)


def sale(kind: TxKind, ref: str, seller_org: str, price_cents: int, fee_bps: int) -> Transaction:
    """A purchase or a royalty: the buyer pays ``price_cents``, split into fee and seller share."""
    if kind not in (TxKind.PURCHASE, TxKind.ROYALTY):
        raise LedgerError(f"{kind} is not a sale")
    if price_cents <= 0:
        raise LedgerError("a sale moves at least one cent (a free listing has no transaction)")
    fee = platform_fee(price_cents, fee_bps)
    return Transaction(
        kind,
        ref,
        _entries(
            (BUYER_PAYMENTS, -price_cents),
            (PLATFORM_FEES, fee),
            (seller_account(seller_org), price_cents - fee),
        ),
    )


def refund(original: Transaction, seller_balance_cents: int) -> Transaction:
    """Reverse a purchase: the buyer gets the whole price back; see the module doc for the shortfall."""
    if original.kind is not TxKind.PURCHASE:
        raise LedgerError("only a purchase is refunded")
    price = -original.amount_of(BUYER_PAYMENTS)
    sellers = [e for e in original.entries if is_seller_account(e.account)]
    share = sum(e.amount_cents for e in sellers)
    available = max(0, seller_balance_cents)
    from_seller = min(share, available)
    shortfall = share - from_seller
    pairs: list[tuple[str, int]] = [(REFUNDS, price), (PLATFORM_FEES, -original.amount_of(PLATFORM_FEES))]
    if sellers:
        pairs.append((sellers[0].account, -from_seller))
    pairs.append((PLATFORM_FEES, -shortfall))
    return Transaction(TxKind.REFUND, original.ref, _entries(*pairs))


def payout(ref: str, seller_org: str, amount_cents: int, seller_balance_cents: int) -> Transaction:
    """Pay ``amount_cents`` of a seller's balance out; ``InsufficientBalance`` beyond the balance."""
    if amount_cents <= 0:
        raise LedgerError("a payout is at least one cent")
    if amount_cents > seller_balance_cents:
        raise InsufficientBalance(amount_cents, seller_balance_cents)
    return Transaction(
        TxKind.PAYOUT, ref, _entries((seller_account(seller_org), -amount_cents), (PAYOUTS, amount_cents))
    )


def balances(transactions: Iterable[Transaction]) -> dict[str, int]:
    """Every account's balance after ``transactions``."""
    totals: dict[str, int] = defaultdict(int)
    for tx in transactions:
        for entry in tx.entries:
            totals[entry.account] += entry.amount_cents
    return dict(totals)


def check_books(totals: Mapping[str, int]) -> None:
    """``LedgerError`` unless all balances sum to zero and no seller balance is negative."""
    if sum(totals.values()) != 0:
        raise LedgerError(f"the books do not balance: {dict(totals)}")
    negative = {a: v for a, v in totals.items() if is_seller_account(a) and v < 0}
    if negative:
        raise LedgerError(f"negative seller balances: {negative}")
