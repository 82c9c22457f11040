"""What an audit entry says in words, for people (the dashboard's recent activity): the record
keeps its stable keys (`booking.opted_out`); a person reads "An attendee opted out of photos"."""

from __future__ import annotations

import uuid

# Every action the registry records, as a sentence a comms officer reads. Keys not listed (a new
# action before its words) fall back to the key with its punctuation turned into spaces.
ACTIONS = {
    "booking.booked": "An attendee booked",
    "booking.opted_out": "An attendee opted out of photos and video",
    "booking.opted_in": "An attendee opted back in to photos and video",
    "booking.cancelled": "A booking was cancelled",
    "booking.link_reissued": "An attendee's private link was re-issued",
    "booking.reference_added": "An attendee gave a reference photo",
    "booking.reference_deleted": "A reference photo was deleted",
    "booking.references_purged": "Reference photos were deleted (retention)",
    "booking.objected": "An attendee objected to a photo",
    "booking.erased": "An attendee's data was erased",
    "booking.notice_shown": "An attendee was shown the filming notice",
    "booking.data_exported": "An attendee downloaded their data",
    "event.created": "An event was created",
    "event.updated": "An event was changed",
    "media.uploaded": "A photo or video was uploaded",
    "media.cleared": "A photo or video was checked",
    "media.failed": "A photo or video could not be checked",
    "media.face_confirm": "A reviewer confirmed a match",
    "media.face_not_this_person": "A reviewer said a face is not the attendee",
    "media.face_consented_otherwise": "A reviewer recorded consent given another way",
    "media.face_objector": "A reviewer matched a face to an objector",
    "media.objection_upheld": "An objection was upheld",
    "media.objection_dismissed": "An objection was dismissed",
    "media.redacted": "A redacted copy was made",
    "media.redaction_queued": "A redacted copy was started",
    "media.redaction_batch_queued": "Redacted copies of an event's flagged photos were started",
    "media.redaction_failed": "A redacted copy could not be made",
    "media.biometrics_purged": "Face data was deleted (retention)",
    "publication.recorded": "A publication was recorded",
    "publication.posted": "A post's address was recorded",
    "publication.set_downloaded": "A cleared set was downloaded",
    "publication.caption_changed": "A post's text was changed",
    "publication.takedown_required": "A takedown is needed",
    "publication.taken_down": "A post was taken down",
    "consent.requested": "A patient was asked for consent",
    "consent.viewed": "A patient opened their consent link",
    "consent.granted": "A patient gave consent",
    "consent.declined": "A patient declined",
    "consent.revoked": "A patient withdrew consent",
    "consent.expired": "A consent expired",
    "consent.renewed": "A consent was renewed",
    "consent.link_reissued": "A patient's consent link was re-issued",
    "consent.record_exported": "A consent record was exported",
    "consent.pseudonymised": "A consent record was pseudonymised",
    "consent.erased": "A consent record was erased",
    "consent_notice.updated": "The consent notice was changed",
    "subject_request.received": "A subject access request was received",
    "subject_request.searched": "A subject access request was searched",
    "subject_request.exported": "A subject access request's data was exported",
    "subject_request.erased": "Data was erased for a subject request",
    "subject_request.closed": "A subject access request was closed",
    "staff_user.created": "A staff account was created",
    "staff_user.enabled": "A staff account was enabled",
    "staff_user.disabled": "A staff account was disabled",
    "staff_user.password_changed": "A staff password was changed",
    "staff_user.signed_out": "A staff member was signed out everywhere",
    "organisation.updated": "The organisation's details were changed",
    "retention.run": "Retention deleted what was due",
    "mail.queued": "An email was queued",
    "mail.retried": "An email was sent again",
    "mail.bounced": "An email bounced",
    "mail.failed": "An email could not be sent",
    "webhook.registered": "A webhook was registered",
    "webhook.enabled": "A webhook was enabled",
    "webhook.disabled": "A webhook was disabled",
    "webhook.deleted": "A webhook was deleted",
    "webhook.replayed": "A webhook delivery was sent again",
    "webhook.secret_rotated": "A webhook's secret was rotated",
    "biometric_key.rotated": "The face data key was rotated",
}

# Where a staff member sees the record an entry is about (None: no page of its own).
PAGES = {
    "event": "/events/{id}",
    "media": "/media/{id}",
    "consent_request": "/consents/{id}",
}


def action_words(action: str) -> str:
    """The entry's action as a sentence."""
    return ACTIONS.get(action) or action.replace(".", ": ").replace("_", " ").capitalize()


def record_page(entity_type: str, entity_id: uuid.UUID | str | None) -> str | None:
    """The staff page of the record an entry is about, when it has one."""
    template = PAGES.get(entity_type)
    return template.format(id=entity_id) if template and entity_id else None
