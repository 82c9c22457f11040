"""Issue 34, item 2: a name or an identifier cannot hide from the caption check behind how it is
written. Each spelling that passed before (invisible characters, decomposed accents, look-alike
letters from another script, HTML entities, camel-case hashtags, spaced letters, any run of
separators inside a number or a postcode, a fullwidth or spelled-out "@", an IDN domain) is
found, and the finding points at the characters as written in the original caption."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from registry.config import get_settings
from registry.events.models import Booking, Event
from registry.media.models import Media
from registry.publishing import captions
from registry.publishing.captions import Person

PRIYA = Person("Priya Shah", "attendee")  # opted out of photography at the event
HOSPITAL = get_settings().caption_hospital_number_pattern
BEFORE, AFTER = "Thanks to ", " for today!"

# (case, how it is written in the caption, the kind found).
VARIANTS = [
    ("name, zero-width space", "Priya Sh\u200bah", "person"),
    ("name, zero-width joiner", "Pri\u200dya Shah", "person"),
    ("name, soft hyphen", "Priya Sha\u00adh", "person"),
    ("name, decomposed accent", "Priya Sha\u0301h", "person"),
    ("name, Cyrillic a", "Priya Sh\u0430h", "person"),
    ("name, Greek and Cyrillic letters", "\u03a1riy\u0430 \u0405hah", "person"),
    ("name, HTML entity", "Priya Sh&#97;h", "person"),
    ("name, named HTML entity", "Priya Sh&aacute;h", "person"),
    ("name, camel-case hashtag", "#PriyaShah", "person"),
    ("name, camel-case mention", "@PriyaShah", "person"),
    ("name, hashtag in lower case", "#priyashah", "person"),
    ("name, spaced letters", "P r i y a  S h a h", "person"),
    ("name, spaced capitals", "P R I Y A   S H A H", "person"),
    ("NHS number, dots", "943.476.5919", "nhs_number"),
    ("NHS number, slashes", "943/476/5919", "nhs_number"),
    ("NHS number, no-break spaces", "943\u00a0476\u00a05919", "nhs_number"),
    ("NHS number, zero-width spaces", "943\u200b476\u200b5919", "nhs_number"),
    ("NHS number, double spaces", "943  476  5919", "nhs_number"),
    ("NHS number, grouped 4-3-3", "9434 765 919", "nhs_number"),
    (
        "NHS number, fullwidth digits",
        "\uff19\uff14\uff13 \uff14\uff17\uff16 \uff15\uff19\uff11\uff19",
        "nhs_number",
    ),
    ("postcode, two spaces", "LS1  4AP", "postcode"),
    ("postcode, no-break space", "LS1\u00a04AP", "postcode"),
    ("postcode, hyphen", "LS1-4AP", "postcode"),
    ("postcode, zero-width space", "LS1\u200b4AP", "postcode"),
    ("postcode, fullwidth letters", "\uff2c\uff33\uff11 \uff14\uff21\uff30", "postcode"),
    ("email, fullwidth at", "priya.s\uff20gmail.com", "email"),
    ("email, IDN domain", "priya@b\u00fccher.example", "email"),
    (
        "email, IDN domain in another script",
        "priya@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444",
        "email",
    ),
    ("email, [at]", "priya.s [at] gmail.com", "email"),
    ("email, (at) and (dot)", "priya.s(at)gmail(dot)com", "email"),
    ("hospital number, zero-width space in the label", "MR\u200bN 1234567", "hospital_number"),
]


@pytest.mark.parametrize(
    ("written", "kind"), [v[1:] for v in VARIANTS], ids=[v[0] for v in VARIANTS]
)
def test_each_hidden_spelling_is_found_where_it_is_written(written: str, kind: str) -> None:
    caption = BEFORE + written + AFTER
    found = captions.check(caption, people=[PRIYA], hospital_pattern=HOSPITAL)
    assert [(f.kind, f.text) for f in found] == [(kind, written)]
    [finding] = found
    assert (finding.start, finding.end) == (len(BEFORE), len(BEFORE) + len(written))
    assert caption[finding.start : finding.end] == written


def test_the_range_counts_characters_of_the_original_after_hidden_ones() -> None:
    caption = (
        "A\u200b\u200b\u200b &amp; B\u0301 with Priya Sh&#x61;h, NHS 943\u00a0476\u00a05919, "
        "call (0113)\u00a0496\u200b0000"
    )
    [name, number, phone] = captions.check(caption, people=[PRIYA])
    assert name.text == "Priya Sh&#x61;h"
    assert caption.index("Priya") == name.start
    assert number.text == "943\u00a0476\u00a05919"
    assert number.where == f"characters {number.start + 1}–{number.end}"
    assert (phone.kind, phone.text) == ("phone", "(0113)\u00a0496\u200b0000")
    assert phone.end == len(caption)


# Ordinary text the normalising must not turn into a refusal.
MUST_STILL_PASS = [
    "Tom &amp; Jerry came along: thanks to AT&T for the tea.",
    "#PhysioLife #KneeRehab #TeamSpirit",
    "@PhysioSociety thanks for hosting us!",
    "Scores: 12 - 15 - 9, then 3 / 4 / 5.",
    "We meet at 10.30 in room 4, see you at 11 45.",
    "A big cafe\u0301 with 40 physios.",
    "Sh! Quiet please: the \u0421\u0435\u0441\u0441\u0438\u044f starts.",
    "Join us on 12/03/2025 at 9:30.",
    "Priya was there.",
    "The ZWJ family emoji \U0001f468\u200d\U0001f469\u200d\U0001f467 came too.",
]


@pytest.mark.parametrize("caption", MUST_STILL_PASS)
def test_ordinary_text_still_passes(caption: str) -> None:
    assert captions.check(caption, people=[PRIYA], hospital_pattern=HOSPITAL) == []


def test_the_gate_refuses_a_hidden_name_and_points_at_the_original(
    client: TestClient,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    make_media: Callable[..., Media],
) -> None:
    event = make_event(channels=["internal"])
    make_booking(event=event, name="Priya Shah", opt_out=True)
    media = make_media(event=event)
    caption = "Warm-up led by #Pri\u200bya\u00adSh\u0430h, postcode LS1\u00a0\u00a04AP"
    answer = client.get(
        f"/api/media/{media.id}/publishable",
        params={"channel": "internal", "caption": caption},
        headers=comms_headers,
    )
    assert answer.status_code == 200, answer.text
    verdict = answer.json()
    assert verdict["allowed"] is False
    name_at = caption.index("#Pri") + 1
    postcode_at = caption.index("LS1") + 1
    assert [r.split(" (")[0] for r in verdict["reasons"]] == [
        "The caption names Priya Shah",
        "The caption contains a full postcode",
    ]
    assert f"characters {name_at}–{caption.index(',')}" in verdict["reasons"][0]
    assert f"characters {postcode_at}–{len(caption)}" in verdict["reasons"][1]
