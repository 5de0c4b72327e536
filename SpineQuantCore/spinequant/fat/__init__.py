"""Fat infiltration of muscle masks: intensity methods on fat-bright images, and Dixon fat fraction."""

from .methods import FAT_METHODS, classify_fat, method_label  # noqa: F401
