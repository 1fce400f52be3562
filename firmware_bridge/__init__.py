"""Talks to one printer: serial transport, G-code line protocol, firmware flavours, streamer, virtual printer."""
