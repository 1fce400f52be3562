"""Talks to one printer: serial transport, G-code line protocol, flavours, streamer, virtual printer."""
