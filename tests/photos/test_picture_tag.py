"""The `{% picture %}` tag (photos/templatetags/photos_tags.py), the `Picture` it draws from
(photos.renditions) and the one "public photo" rule (photos.models)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.template import Context, Template, TemplateSyntaxError

from photos.models import Photo
from photos.renditions import Picture, picture
from tests.helpers.images import image_file

pytestmark = pytest.mark.django_db


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))

    handle_startendtag = handle_starttag


def render(source: str, **context) -> str:
    return Template("{% load photos_tags %}" + source).render(Context(context))


def images(html: str) -> list[dict[str, str | None]]:
    parser = _Images()
    parser.feed(html)
    return parser.images


@pytest.fixture
def photo(ingest) -> Photo:
    photo = ingest(
        image_file("harbour.jpg", size=(1200, 800)),
        title="Harbour",
        description="Boats at dusk\nSecond line",
    )
    assert photo.status == Photo.Status.READY
    return Photo.objects.with_renditions().get(pk=photo.pk)


def test_a_photo_renders_src_srcset_size_alt_and_lazy_loading(photo, django_assert_num_queries):
    thumb, medium = photo.rendition("thumb"), photo.rendition("medium")
    with django_assert_num_queries(0):  # renditions prefetched
        html = render(
            '{% picture photo "thumb" "medium" sizes="50vw" class="tile__image" %}', photo=photo
        )
    (img,) = images(html)
    assert img == {
        "src": medium.file.url,
        "srcset": f"{thumb.file.url} 400w, {medium.file.url} 800w",
        "sizes": "50vw",
        "width": "800",
        "height": "533",
        "alt": "Boats at dusk",
        "class": "tile__image",
        "loading": "lazy",
        "decoding": "async",
    }


def test_without_specs_every_rendition_is_offered(photo):
    (img,) = images(render("{% picture photo %}", photo=photo))
    widths = [entry.rsplit(" ", 1)[1] for entry in img["srcset"].split(", ")]
    assert widths == ["400w", "800w", "1200w"]  # a 1200 px original is never upscaled to 1600
    assert img["src"] == photo.rendition("display").file.url
    assert (img["width"], img["height"]) == ("1200", "800")


def test_alt_falls_back_to_the_title_and_attributes_can_be_overridden_or_dropped(ingest):
    photo = ingest(image_file("dunes.jpg", size=(300, 200)), title="Dunes")
    html = render(
        '{% picture photo "medium" loading=None fetchpriority="high" data_photo=photo.pk %}',
        photo=photo,
    )
    (img,) = images(html)
    assert img["alt"] == "Dunes"
    assert "loading" not in img
    assert img["fetchpriority"] == "high"
    assert img["data-photo"] == str(photo.pk)


def test_attribute_values_are_escaped(photo):
    html = render('{% picture photo "thumb" alt=text %}', photo=photo, text='"><script>')
    assert "<script>" not in html
    assert images(html)[0]["alt"] == '"><script>'


def test_a_rendition_renders_one_file_without_srcset(photo):
    thumb = photo.rendition("thumb")
    (img,) = images(render('{% picture rendition alt="" sizes="10vw" %}', rendition=thumb))
    assert img["src"] == thumb.file.url
    assert "srcset" not in img and "sizes" not in img  # `sizes` means nothing without srcset
    assert img["alt"] == ""
    assert (img["width"], img["height"]) == (str(thumb.width), str(thumb.height))


def test_a_ready_made_picture_is_rendered_as_given():
    image = Picture("/media/a.webp", "/media/a.webp 400w", 400, 300, alt="A")
    (img,) = images(render("{% picture image %}", image=image))
    assert (img["src"], img["srcset"], img["alt"]) == ("/media/a.webp", "/media/a.webp 400w", "A")


def test_nothing_is_rendered_without_renditions():
    from photos.services import ingest_photo

    pending = ingest_photo(image_file("pending.jpg", seed=9), title="Pending")  # not processed
    assert pending.status == Photo.Status.PENDING
    assert picture(pending, ("thumb",)) is None
    assert render("[{% picture photo %}]", photo=pending) == "[]"
    assert render("[{% picture missing %}]", missing=None) == "[]"


def test_anything_else_is_an_error():
    with pytest.raises(TemplateSyntaxError):
        render("{% picture thing %}", thing="not a photo")


# --- the one "public photo" rule -------------------------------------------------------------


def test_the_public_rule_has_one_home(ingest):
    public = ingest(image_file("a.jpg", seed=1), title="Public")
    hidden = ingest(image_file("b.jpg", seed=2), title="Hidden", published=False)
    failed = ingest(image_file("c.jpg", seed=3), title="Failed")
    Photo.objects.filter(pk=failed.pk).update(status=Photo.Status.FAILED)
    failed.refresh_from_db()

    assert list(Photo.objects.public()) == [public]
    assert [p.is_public for p in (public, hidden, failed)] == [True, False, False]
    # Through a relation: the renditions of public photos.
    from photos.models import Rendition

    photo_ids = set(
        Rendition.objects.filter(Photo.public_q("photo__")).values_list("photo_id", flat=True)
    )
    assert photo_ids == {public.pk}
