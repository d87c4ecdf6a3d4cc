"""Localisation: message catalogues and the command-name translator."""

from bot.i18n.catalogue import DEFAULT_LANGUAGE, LANGUAGES, language_for, t

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "language_for", "t"]
