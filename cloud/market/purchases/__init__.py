"""Purchases, refunds and payouts: the money-moving operations of the marketplace."""
