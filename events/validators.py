from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

COVER_MAX_BYTES = 5 * 1024 * 1024
COVER_MAX_SIDE = 6000
COVER_FORMATS = ("JPEG", "PNG", "WEBP")


def validate_cover(upload) -> None:
    """A cover must be a real JPEG, PNG or WebP of at most 5 MB and 6000×6000 px.
    Used by the page form and the API alike."""
    if upload.size > COVER_MAX_BYTES:
        raise ValidationError(_("The image is larger than 5 MB."), code="too_large")
    try:
        upload.seek(0)
        with Image.open(upload) as image:
            image_format, (width, height) = image.format, image.size
            image.verify()  # refuses truncated and corrupt files
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise ValidationError(_("Upload a JPEG, PNG or WebP image."), code="invalid_image") from None
    finally:
        upload.seek(0)
    if image_format not in COVER_FORMATS:
        raise ValidationError(_("Upload a JPEG, PNG or WebP image."), code="invalid_image")
    if max(width, height) > COVER_MAX_SIDE:
        raise ValidationError(_("The image is larger than 6000 × 6000 pixels."), code="too_many_pixels")
