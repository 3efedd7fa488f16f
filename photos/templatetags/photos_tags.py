"""`{% picture %}`: the `<img>` of a photo, made from its renditions (as Wagtail's images app does).

    {% load photos_tags %}
    {% picture photo "thumb" "medium" sizes="50vw" class="tile__image" %}
    {% picture tile.image sizes=tile.sizes %}
    {% picture card.cover_thumb alt="" %}
    {% picture image class="photo-stage__image" sizes=stage_sizes loading=None %}

The first argument is a `Photo` (then the names that follow are the rendition specs offered in
`srcset`; all of them when none are named), a `Rendition` (one file) or a ready-made
`photos.renditions.Picture`. The tag writes `src` (the largest file), `srcset` (one entry per
width), `width`/`height` (the largest file's, so the page does not shift while it loads) and
`alt` (the photo's: its description's first line, else its title), `loading="lazy"` and
`decoding="async"`. Keyword arguments add or override attributes (`data_photo=` becomes
`data-photo`); `None`, `False` or `""` leaves one out (`alt` is always written), `True` writes it
bare. Nothing is rendered when the photo has no rendition yet.
"""

from __future__ import annotations

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from ..models import Photo, Rendition
from ..renditions import Picture, picture

register = template.Library()

DEFAULTS = {"loading": "lazy", "decoding": "async"}


def as_picture(subject, specs: tuple[str, ...] = ()) -> Picture | None:
    """The `Picture` of a photo, rendition or picture (None when there is nothing to show)."""
    if subject is None or subject == "":
        return None
    if isinstance(subject, Picture):
        return subject
    if isinstance(subject, Rendition):
        return Picture.of_rendition(subject)
    if isinstance(subject, Photo):
        return picture(subject, specs or None)
    raise template.TemplateSyntaxError(
        f"{{% picture %}} needs a Photo, a Rendition or a Picture, not {type(subject).__name__}"
    )


def img_tag(image: Picture, **attrs) -> SafeString:
    """`<img ...>` for `image`; `attrs` as for the template tag."""
    values: dict[str, object] = {"src": image.src}
    if image.srcset:
        values["srcset"] = image.srcset
    else:
        attrs.pop("sizes", None)  # `sizes` means nothing without a `srcset`
    values["width"] = image.width
    values["height"] = image.height
    values["alt"] = image.alt
    values.update(DEFAULTS)
    for name, value in attrs.items():
        values[name.replace("_", "-")] = value
    if values["alt"] is None:
        values["alt"] = ""
    bare = [name for name, value in values.items() if value is True]
    shown = [
        (name, value)
        for name, value in values.items()
        if name == "alt" or not (value is None or value is False or value is True or value == "")
    ]
    return format_html(
        "<img {}{}>",
        format_html_join(" ", '{}="{}"', shown),
        format_html_join("", " {}", ((name,) for name in bare)),
    )


@register.simple_tag(name="picture")
def picture_tag(subject, *specs: str, **attrs) -> str:
    """`{% picture subject [spec ...] [attribute=value ...] %}` (see the module's docstring)."""
    image = as_picture(subject, tuple(specs))
    return img_tag(image, **attrs) if image is not None else ""
