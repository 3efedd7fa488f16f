"""Social previews: the Open Graph and Twitter card tags of photo and album pages.

What a link to this gallery shows when it is shared (a messenger, a social network): the title,
a description and the photo itself, all as absolute URLs. Built here, rendered by
templates/gallery/_social_meta.html.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.http import HttpRequest

from photos.renditions import Picture

DESCRIPTION_CHARS = 200


@dataclass(frozen=True)
class SocialCard:
    kind: str  # og:type: "article" for a photo, "website" for an album
    site_name: str
    title: str
    description: str
    url: str
    image: str = ""
    image_width: int = 0
    image_height: int = 0
    image_alt: str = ""

    @property
    def twitter_card(self) -> str:
        return "summary_large_image" if self.image else "summary"


def social_card(
    request: HttpRequest,
    *,
    kind: str,
    site_name: str,
    title: str,
    description: str,
    path: str,
    image: Picture | None,
) -> SocialCard:
    """A card whose URLs are absolute (crawlers do not resolve relative ones); the image is the
    largest rendition of the picture, with its real size."""
    description = " ".join(description.split())
    if len(description) > DESCRIPTION_CHARS:
        description = description[: DESCRIPTION_CHARS - 1].rstrip() + "…"
    card = SocialCard(
        kind=kind,
        site_name=site_name,
        title=title,
        description=description,
        url=request.build_absolute_uri(path),
    )
    if image is None:
        return card
    return replace(
        card,
        image=request.build_absolute_uri(image.src),
        image_width=image.width,
        image_height=image.height,
        image_alt=image.alt or title,
    )
