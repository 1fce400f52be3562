"""The checks a ``job.offer`` manifest must pass before anything is downloaded (pure, no I/O).

``check_offer`` answers with the ``AckCode`` of the first rule the manifest breaks, or None:

=====  ======================================  =================  =====================================
order  rule                                    code               why this code
=====  ======================================  =================  =====================================
1      no public key configured, or the        ``bad_signature``  nothing else in an unsigned or forged
       signature is missing, malformed or      manifest can be trusted, so this is
       does not verify                         checked first
2      ``not_after`` has passed                ``expired_offer``  the job may no longer start; the
                                                                  command itself may still be fresh
3      ``size`` is over the agent's cap        ``storage_full``   the declared size is honest but we
       (``max_bytes``)                                            will not store that much: the same
                                                                  answer as a full disk (send it to
                                                                  another printer, or free space).
                                                                  ``size_mismatch`` is kept for bytes
                                                                  that disagree with the manifest.
=====  ======================================  =================  =====================================

A public key that is configured but malformed is our own configuration mistake, not the offer's:
it raises ``contract.SigningKeyError`` (validate it at startup with ``validate_public_key``).
"""

from __future__ import annotations

from contract.acks import AckCode
from contract.jobs import JobManifest
from contract.signing import verify_manifest


def check_offer(
    manifest: JobManifest, *, public_key_b64: str | None, now_ms: int, max_bytes: int
) -> AckCode | None:
    """The code to reject ``manifest`` with, or None when it may be downloaded (see the module table)."""
    if public_key_b64 is None or not verify_manifest(manifest, public_key_b64):
        return AckCode.BAD_SIGNATURE
    if manifest.is_expired(now_ms):
        return AckCode.EXPIRED_OFFER
    if manifest.size > max_bytes:
        return AckCode.STORAGE_FULL
    return None
