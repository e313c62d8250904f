"""One base error for the engine; subclasses carry what a caller needs to report."""

from __future__ import annotations


class BriefingError(Exception):
    """Base class of every error the engine raises on purpose."""


class ConfigError(BriefingError):
    """One or more configuration keys are unknown or have bad values.

    `problems` pairs each bad key (``section.key`` or an environment variable) with what is wrong,
    so a caller can name every bad key at once.
    """

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{key}: {message}" for key, message in problems))
        self.problems = problems

    @property
    def keys(self) -> list[str]:
        return [key for key, _ in self.problems]


class SourceError(BriefingError):
    """A source (file, page or feed) could not be read or parsed.

    `status` is the HTTP status when there was one.
    """

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status


class PageTextError(SourceError):
    """A page was read, but what it holds is not an article: `what` says what it is instead
    ("only a photo caption", "only navigation", "only a cookie notice")."""

    def __init__(self, url: str, what: str) -> None:
        super().__init__(url, f"no article text on the page ({what})")
        self.what = what


class BlockedURLError(SourceError):
    """A URL points at an address the operator has not allowed (private, loopback...)."""


class StoreError(BriefingError):
    """The database could not be opened or migrated."""


class StoreFaultError(StoreError):
    """The database cannot be written: its file is gone or was replaced while the bot ran, or
    it is read-only, or the disk is full. Nothing was saved; `reason` says which."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"database {path}: {reason}")
        self.path = path
        self.reason = reason


class CommandError(BriefingError):
    """A command was given a bad argument; the message is the one-line usage."""


class PlatformError(BriefingError):
    """A chat platform cannot be served: it refused the bot's token (`reason` says which
    error it gave) or could not be reached. The bot stops serving that platform."""

    def __init__(self, platform: str, reason: str) -> None:
        super().__init__(f"{platform}: {reason}")
        self.platform = platform
        self.reason = reason


class DeliveryError(BriefingError):
    """A digest or reply could not be delivered to a platform channel.

    `permanent` means retrying cannot help (the bot was removed from the channel, the channel
    is gone): the channel's schedule is disabled instead of retried forever. `landed` says
    whether the message may have been posted all the same: False when the platform refused it
    (an error answer, a 429), None when nobody knows (a timeout, a dropped connection, a 5xx
    after the request went out), so a retry must first look for it. `retry_after` is the wait
    a rate limit asked for, in seconds.
    """

    def __init__(
        self,
        platform: str,
        channel: str,
        reason: str,
        *,
        permanent: bool = False,
        landed: bool | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(f"{platform}:{channel}: {reason}")
        self.platform = platform
        self.channel = channel
        self.reason = reason
        self.permanent = permanent
        self.landed = landed
        self.retry_after = retry_after
