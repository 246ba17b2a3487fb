"""Languages of what people read: gettext catalogs (``orbit/locale/<lang>/LC_MESSAGES/orbit.po``) and
Babel formatting of numbers, money, percentages and dates for the locale.

The catalogs are plain ``.po`` files (translators edit them; nothing compiled is checked in): they are
compiled in memory on first use. Every figure goes through :class:`Formatter`, which rounds once with
:func:`transforms.scoring.round_half_up` and lets Babel only lay the rounded value out (its own
quantisation never changes it).
"""

from __future__ import annotations

import io
from decimal import Decimal
from fractions import Fraction
from functools import cache, lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import get_currency_symbol, parse_pattern
from babel.support import NullTranslations, Translations

from transforms.scoring import round_half_up

LANGUAGES = ("en", "es", "nl")
DOMAIN = "orbit"
LOCALE_DIR = Path(__file__).parent / "locale"


class LanguageError(ValueError):
    pass


def check_language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise LanguageError(f"language {lang!r} is not available; use one of {', '.join(LANGUAGES)}")
    return lang


@cache
def translations(lang: str) -> NullTranslations:
    """The gettext translations of ``lang`` (English: the messages themselves)."""
    check_language(lang)
    po = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if lang == "en" or not po.exists():
        return NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


@lru_cache(maxsize=32)
def formatter(lang: str, currency: str | None) -> Formatter:
    """The shared :class:`Formatter` of a language and currency (its cache then serves a whole batch)."""
    return Formatter(lang, currency)


class Formatter:
    """Figures laid out for one locale. Values are rounded here, once, half-up; Babel only lays them out."""

    def __init__(self, lang: str, currency: str | None) -> None:
        self.lang = check_language(lang)
        self.locale = Locale.parse(lang)
        self.currency = currency
        self._money = parse_pattern(self.locale.currency_formats["standard"])
        self._decimal_patterns: dict[int, object] = {}
        self._percent_patterns: dict[int, object] = {}
        self._percent_base = self.locale.percent_formats[None].pattern
        self._decimal_base = self.locale.decimal_formats[None].pattern
        self.currency_symbol = get_currency_symbol(currency, self.locale) if currency else ""
        # A batch of statements repeats most figures (targets, weights, curve points, company totals, dates):
        # each distinct value is laid out once. Values are exact (Fraction/Decimal/date), so keys are too.
        self._cache: dict[tuple, str] = {}

    def _cached(self, key: tuple, make) -> str:
        text = self._cache.get(key)
        if text is None:
            if len(self._cache) > 200_000:
                self._cache.clear()
            text = self._cache[key] = make()
        return text

    def _decimal_pattern(self, places: int):
        p = self._decimal_patterns.get(places)
        if p is None:
            base = self._decimal_base.split(".")[0].split(";")[0]
            p = self._decimal_patterns[places] = parse_pattern(base + ("." + "#" * places if places else ""))
        return p

    def _percent_pattern(self, places: int):
        p = self._percent_patterns.get(places)
        if p is None:
            base = self._percent_base.split(";")[0]
            number = base.replace("%", "").strip()
            p = self._percent_patterns[places] = parse_pattern(
                base.replace(number, number.split(".")[0] + ("." + "#" * places if places else "")))
        return p

    def money(self, value: Decimal | Fraction | None, currency: str | None = None) -> str:
        """Money to cents (a stored amount already is: it is only laid out)."""
        if value is None:
            return "—"
        return self._cached(("m", value, currency), lambda: self._money.apply(
            round_half_up(Fraction(value), 2), self.locale, currency=currency or self.currency))

    def number(self, value: Fraction | Decimal | int | None, places: int = 6) -> str:
        """An exact figure rounded half-up to at most ``places`` decimals (trailing zeros dropped)."""
        if value is None:
            return "—"
        return self._cached(("n", value, places), lambda: self._decimal_pattern(places).apply(
            round_half_up(Fraction(value), places), self.locale))

    def percent(self, value: Fraction | Decimal | None, places: int = 2) -> str:
        """A ratio as a percentage rounded half-up to at most ``places`` decimals (1.5 -> 150 %)."""
        if value is None:
            return "—"
        return self._cached(("p", value, places), lambda: self._percent_pattern(places).apply(
            round_half_up(Fraction(value) * 100, places).scaleb(-2), self.locale))

    def date(self, value, format: str = "long") -> str:
        if value is None:
            return "—"
        return self._cached(("d", value, format), lambda: format_date(value, format=format, locale=self.locale))

    def exact(self, value: Fraction | None) -> str:
        """The exact rational as text ('p/q', or an integer)."""
        if value is None:
            return "—"
        return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
