"""Telegram's channel preview: every recorded message kind read and mapped to Post v1.

The tables of cases are in `tests/files/cases/telegram-messages.yaml`."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postwatch.connectors.telegram import channel_name
from postwatch.connectors.telegram.adapter import fingerprint, message_to_post
from postwatch.connectors.telegram.client import Message, channel_post, parse_page
from postwatch.rules import post_from_dict
from tests.cases import cases
from tests.conftest import SHARED_DATA
from tests.mutations import adapted_or_malformed, mutated_markup

FIXTURES = SHARED_DATA / "telegram"
PAGE = "https://t.me/s/tchantest"
TITLE = "tchan's test channel 👍"
CDN = "https://cdn1.telegram-cdn.org/file/"


def fixture(test: str) -> Path:
    return FIXTURES / f"tchan_tme_s_tchantest__{test}.extracted.html"


def only(test: str) -> Message:
    page = parse_page(fixture(test).read_text(encoding="utf-8"), PAGE)
    assert page.broken == ()
    (message,) = page.messages
    return message


def post(test: str) -> dict[str, Any]:
    return message_to_post(only(test))


EVERY_MESSAGE = cases("telegram-messages", "every_message")


def test_the_table_covers_every_recorded_message() -> None:
    recorded = {p.name for p in FIXTURES.glob("*.html")}
    listed = {fixture(t).name for t, *_ in EVERY_MESSAGE}
    pages = {fixture(t).name for t in ("test_channel_info", "test_parse_no_posts_found")}
    assert recorded == listed | pages


@pytest.mark.parametrize(("test", "number", "service", "text"), EVERY_MESSAGE)
def test_every_recorded_message_is_read_and_makes_a_valid_post(
    test: str, number: int, service: bool, text: str | None
) -> None:
    message = only(test)
    assert (message.id, message.service) == (number, service)
    if text is not None:
        assert message.text == text
    made = message_to_post(message)
    assert post_from_dict(made).id == f"telegram:{message.channel.lower()}/{number}"
    assert made["url"] == f"https://t.me/{message.channel}/{number}"


SIGNED_EDITED: dict[str, Any] = {  # the post of the recorded message tchantest/5
    "schema": "postwatch.post/1",
    "id": "telegram:tchantest/5",
    "source": "telegram",
    "url": "https://t.me/tchantest/5",
    "created_at": "2023-02-24T07:29:57.000Z",
    "author": {"id": "telegram:tchantest", "handle": "tchantest", "display_name": TITLE},
    "text": "Hello! Signed and edited message",
    "lang": None,
    "links": [],
    "hashtags": [],
    "media": [],
    "reply_to": None,
    "repost_of": None,
    "signed_by": "Álvaro Justen",
    "edited": True,
}


def test_a_signed_edited_message() -> None:
    assert post("test_parse_signed_edited_text_message") == SIGNED_EDITED
    signed = post("test_parse_text_message_signed_not_edited")
    assert signed["signed_by"] == "Álvaro Justen"
    assert "edited" not in signed
    assert "signed_by" not in post("test_parse_unsigned_text_message")


def test_a_forwarded_message_names_its_origin() -> None:
    forwarded = post("test_parse_forwarded_text_message")
    assert forwarded["forwarded_from"] == {"name": "Some user", "url": "https://t.me/some_user"}
    assert forwarded["repost_of"] is None  # forwarded from a user, not a channel post
    assert "forwarded_from" not in post("test_parse_unsigned_text_message")


def test_text_keeps_its_links_and_hashtags_and_drops_the_layout() -> None:
    weird = post("test_parse_message_weird_preview")
    assert weird["id"] == "telegram:camaradosdeputados/7334"
    assert weird["author"] == {
        "id": "telegram:camaradosdeputados",
        "handle": "CamaradosDeputados",
        "display_name": "Câmara dos Deputados",
    }
    assert weird["edited"] is True
    assert weird["text"].startswith(
        "_\n\n✍️ CÂMARA APROVA\n_\n\n\n🔸 Projeto que aumenta penas para crimes sexuais "
        "contra crianças\n#Punição_ampliada\n🗳 Opine sobre esta proposta clicando aqui!\n____"
    )
    assert weird["text"].endswith("conhecerem nosso canal clicando aqui!\n____")
    assert weird["links"] == [
        "http://bit.ly/3Tq1C4G",
        "http://bit.ly/3PCX1vn",
        "http://bit.ly/3tkdScB",
        "http://bit.ly/3A1c4c4",
        "http://bit.ly/3A3EoKS",
        "http://bit.ly/3zWxOpw",
        "https://bit.ly/2UBmLNC",
    ]
    assert weird["hashtags"] == ["Punição_ampliada", "Poda_de_árvores", "Tarifas_de_transmissão"]
    # the link in the text and the one its preview card resolved to
    assert post("test_parse_text_message_link_with_right_preview")["links"] == [
        "https://python.org/",
        "https://www.python.org/",
    ]
    regular = post("test_parse_text_message_link_with_regular_preview")
    assert regular["links"] == [regular["text"]]


def test_photos_and_videos_are_media_urls_in_page_order() -> None:
    kinds = [m["kind"] for m in post("test_parse_multimedia_message")["media"]]
    assert kinds == ["video", "image", "video", "image"]
    (photo,) = post("test_parse_photo_single")["media"]
    assert photo["kind"] == "image"
    assert photo["url"].startswith(CDN + "AqX5QJmpXiolNyLq3Aq8")
    assert photo["url"].endswith(".jpg")
    (video,) = post("test_parse_video_single")["media"]  # its blurred copy is not repeated
    assert video["kind"] == "video"
    assert video["url"].startswith(CDN + "61dc623809.mp4?token=")
    (round_video,) = post("test_parse_round_video_single")["media"]
    assert round_video["url"].startswith(CDN + "68145c80a1.mp4?token=")
    # a video too big for the preview: its poster image is what can be hashed
    (poster,) = post("test_parse_video_big")["media"]
    assert poster["kind"] == "image"
    assert poster["url"].startswith(CDN + "HyfobRUDoAxInyfbDVXk1q13p")
    (sticker,) = post("test_parse_sticker_message")["media"]
    assert (sticker["kind"], sticker["url"][: len(CDN) + 15]) == ("image", CDN + "5b5c6e1325.webp")
    (voice,) = post("test_parse_audio_message")["media"]
    assert voice["kind"] == "audio"
    assert len(post("test_parse_photo_multiple")["media"]) == 2


def test_replies_polls_and_locations() -> None:
    assert post("test_parse_text_reply_to_video")["reply_to"] == "telegram:tchantest/19"
    assert post("test_parse_location_message")["links"] == [
        "https://maps.google.com/maps?q=-23.930587176407,-44.086305367818"
        "&ll=-23.930587176407,-44.086305367818&z=16"
    ]
    assert post("test_parse_poll")["text"] == "Let's do a quick poll quizz mode\nOpt1\nOpt2\nOpt3"


def test_pages_that_are_not_message_history() -> None:
    empty = parse_page(fixture("test_parse_no_posts_found").read_text(encoding="utf-8"), PAGE)
    assert (empty.preview, empty.messages) == (True, ())
    info = parse_page(fixture("test_channel_info").read_text(encoding="utf-8"), PAGE)
    assert info.preview is False


def test_a_message_without_a_date_is_reported_not_read() -> None:
    html = (
        '<section class="tgme_channel_history">'
        '<div class="tgme_widget_message" data-post="tchantest/7">no footer</div>'
        '<div class="tgme_widget_message" data-post="tchantest/x"></div></section>'
    )
    page = parse_page(html, PAGE)
    assert page.messages == ()
    assert [b.reason for b in page.broken] == ["bad_message", "bad_message"]


def test_an_edit_is_a_new_version_and_new_media_tokens_are_not() -> None:
    message = only("test_parse_photo_single")
    assert fingerprint(replace(message, media=())) == fingerprint(message)
    assert fingerprint(replace(message, text="changed", edited=True)) != fingerprint(message)


def test_channel_names_and_post_links() -> None:
    assert channel_name("@TchanTest") == "tchantest"
    for bad in ("t.me/tchantest", "ab", "1channel", "has space"):
        with pytest.raises(ValueError, match="not a public channel"):
            channel_name(bad)
    assert channel_post("https://t.me/tchantest/19") == ("tchantest", 19)
    assert channel_post("https://t.me/s/tchantest/19") == ("tchantest", 19)
    assert channel_post("https://t.me/some_user") is None


HOSTILE_IN_HTML = [
    "tchantest/²",
    "tchantest/99999999999999999999999999",
    "tchantest/-1",
    "http://[::1/x",
    "https://t.me/tchantest/²",
    "background-image:url('http://[::1')",
    "<b>" * 2000,
    "</div>",
]


RECORDED_PAGES = sorted(p.read_text(encoding="utf-8") for p in FIXTURES.glob("*.html"))


@given(st.sampled_from(RECORDED_PAGES).flatmap(lambda p: mutated_markup(p, HOSTILE_IN_HTML)))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_mutation_of_a_recorded_page_is_read_into_posts_or_broken_messages(html: str) -> None:
    page = parse_page(html, PAGE)
    for broken in page.broken:
        assert broken.reason
    for message in page.messages:
        assert adapted_or_malformed(partial(message_to_post, message)) is not None
        fingerprint(message)


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ('data-post="tchantest/16"', 'data-post="tchantest/²"'),
        ('datetime="2023-02-24T07:', 'datetime="9999-12-31T23:59:59-12:00" x="'),
        ('href="https://t.me/tchantest/16"', 'href="http://[::1/16"'),
    ],
)
def test_hostile_attributes_make_a_broken_message_or_a_valid_post(
    attribute: str, value: str
) -> None:
    html = fixture("test_parse_photo_single").read_text(encoding="utf-8")
    assert attribute in html
    page = parse_page(html.replace(attribute, value, 1), PAGE)
    for message in page.messages:
        adapted_or_malformed(partial(message_to_post, message))


def test_a_message_text_nested_deeper_than_python_recurses_is_read() -> None:
    html = fixture("test_parse_unsigned_text_message").read_text(encoding="utf-8")
    nested = "<b>" * 5000 + "deep" + "</b>" * 5000
    (message,) = parse_page(html.replace("Unsigned message", nested, 1), PAGE).messages
    assert message.text == "deep"
