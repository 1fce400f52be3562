"""The marketplace: listings and search, purchases through a payment provider, a double-entry
ledger, entitlements (download, "print this"), reviews and seller pages."""
