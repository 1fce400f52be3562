"""Shared design documents, edited live by several people over a WebSocket.

A document (``collab_documents``) is a flat JSON object of parameters — e.g. a design studio's spec
params — plus a ``version``; it belongs to one organisation. Create one with
``POST /api/collab/documents`` and read it with ``GET /api/collab/documents/{id}``.

Modules: ``document`` (the pure core: state, ops, versions), ``protocol`` (the messages),
``rooms`` (sequencing, persistence and fan-out per document), ``routes`` (REST and the socket),
``models`` (tables), ``lifecycle`` (the hub on ``app.state.collab``).

Protocol
========

Connect to ``/api/collab/{doc_id}/ws`` (``?token=<access token>``, or put ``token`` in the first
``hello``). A bad or missing token closes the socket with **4403**; a document that does not exist
or belongs to another organisation closes it with **4404**. Every frame is one JSON text message.

Client → server:

- ``{"type": "hello", "since_version": n, "token": "…"}`` — first message, always. ``since_version``
  omitted: the server answers with a ``snapshot``. Given: it answers with every ``op`` after ``n``
  in version order (or a ``snapshot`` when the client is more than 500 ops behind, or ahead).
- ``{"type": "op", "base_version": n, "client_op_id": "…", "set": {"height": 120}}`` — change keys;
  a ``null`` value removes the key. Values are strings, numbers, booleans (the document is flat).
- ``{"type": "chat", "text": "…"}`` — to everyone in the document (not stored).

Server → client:

- ``{"type": "snapshot", "version": n, "state": {…}, "presence": [{"id", "email"}, …]}``
- ``{"type": "op", "version": n, "user": {"id", "email"}, "set": {…}, "client_op_id": "…"}`` — another
  client's op (in a catch-up, ``user`` has the id only). Versions are contiguous: a client that sees
  a gap reconnects with ``since_version``.
- ``{"type": "ack", "client_op_id": "…", "version": n}`` — your op was applied as version ``n`` (you do
  not get your own ``op`` back: apply your ``set`` at version ``n``). Resending an op with the same
  ``client_op_id`` (e.g. after a reconnect) is acked with its original version and applied once.
- ``{"type": "presence", "users": [...]}`` — who is connected, after every join and leave.
- ``{"type": "chat", "user": {...}, "text": "…", "at": "<ISO time>"}``
- ``{"type": "error", "code": "…", "message": "…", "client_op_id": "…"?}`` — a message the server
  refused (``too_large`` over 64 KiB, ``not_json``, ``invalid``, ``invalid_op``, ``unexpected``,
  ``forbidden``: viewers may watch and chat but not edit; ``unavailable``: the database failed, send
  the op again); the connection stays open. Refusals are counted (``threedpot_collab_bad_messages_total``); a
  connection that sends more than 50 is closed with 1008. A client too slow to read its frames is
  closed with 1013 and should reconnect with ``since_version``.

Consistency: the server is the one sequencer. It applies ops in arrival order, last writer wins per
key, and gives each the next version; a client that applies every op in version order (its own at
its ack's version) holds exactly the server's state. A client with optimistic edits keeps its
unacknowledged ``set``\\ s on top of that confirmed state.

Replicas: ordering is safe across replicas (the document row is locked while an op is applied and
the room reloads when another process moved it on), but fan-out reaches only the peers connected to
the same process: run the collaboration on one replica, or route a document's sockets to one
replica (sticky by document id). Cross-replica fan-out would go through PostgreSQL ``LISTEN/NOTIFY``
(a notification per op, each replica forwarding the ops it reads from ``collab_ops``) or the broker.
"""
