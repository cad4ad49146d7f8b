"""Exception types that carry one clear, user-facing message."""


class CosmodlError(Exception):
    """Base class of every error cosmodl raises on bad input."""


class ConfigError(CosmodlError, ValueError):
    """A configuration value is missing, misspelt, of the wrong type or out of range."""


class CatalogueError(CosmodlError, ValueError):
    """A catalogue file is unreadable, empty, or has missing / invalid columns."""


class DownloadError(CosmodlError, OSError):
    """A download failed, or its checksum did not match the one in the config."""
