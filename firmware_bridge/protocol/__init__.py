"""The G-code line protocol, pure: framing, reply parsing and the send window. No I/O here."""
