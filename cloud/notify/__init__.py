"""Notifications: what happened (a job completed or failed, a printer errored or went offline, a sale,
a review) reaching the people who want to know, in the app, by e-mail and through webhooks.

Entry point for other resources: ``await notify(services, org_id, kind, payload)`` (``cloud.notify.service``;
``record`` + ``announce`` to write it inside your own transaction). The cloud's own sources are the
MQTT ingest's hooks (``cloud.notify.sources``).

Modules: ``kinds`` (kinds, channels, default preferences, titles — pure), ``flapping`` (flap
suppression — pure), ``signing`` (webhook signatures — pure), ``service`` (store and fan out),
``delivery`` (the worker sending webhooks and e-mails with retries), ``stream`` (live SSE to this
process's browsers), ``sources`` (ingest hooks and flap summaries), ``routes``, ``models``,
``lifecycle`` (started with the app).

Endpoints: ``GET /api/notifications``, ``POST /api/notifications/{id}/read``,
``POST /api/notifications/read-all``, ``GET /api/notifications/stream`` (SSE),
``GET|PUT /api/notifications/preferences``; admins: ``GET|POST /api/webhooks``,
``GET|PATCH|DELETE /api/webhooks/{id}``, ``GET /api/webhooks/{id}/deliveries``.

Not yet: a cloud-side job failure (the dispatcher giving up after ``max_offer_attempts``) is not a
notification — only what agents report is; e-mail has no unsubscribe link beyond the preferences;
webhook URLs are not checked against private addresses (admins register them).
"""

from cloud.notify.service import notify

__all__ = ["notify"]
