"""The operator's desk rules (pure): what a keyword search looks for, how a phone is matched, what may be searched
by whom, and how an exported cell is made safe for Excel."""

from __future__ import annotations

import re

from ..domain import normalize_phone

# the index finds substrings of at least this many characters (a trigram: FTS5's trigram tokenizer, pg_trgm)
MIN_INDEXED = 3
MAX_TERMS = 5
# a keyword shorter than MIN_INDEXED is looked for with LIKE, only in a set of cases bounded by one of these
SHORT_BOUND_DAYS = 31
EXPORT_LIMIT = 10_000
REPEAT_WINDOW_DAYS = 30
# roles that see a caller's number in full, and so may look a caller up by it
PHONE_ROLES = ("operator", "admin")
SORTS = ("received_at", "-received_at", "due_at", "-due_at", "case_no", "-case_no")
# how a case involves the department filtered: it leads (主办), it assists (协办), either
INVOLVEMENTS = ("lead", "assisting", "any")

_DIGIT_RUN = re.compile(r"\d{7,}")


class SearchRefused(ValueError):
    """A search the desk does not run: `field` and messages (English / Chinese) for a 400."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def involvement(asked: str | None, department: str | None, *, confined: bool) -> str | None:
    """How the `department` filter reads (None: there is none). Default: `lead` for a role that sees every
    department, `any` for a department handler (`confined`): its list holds the cases it leads and those it assists
    on, as it may open both. Another involvement than `lead` without a department means nothing: refused."""
    if department is None:
        if asked not in (None, "lead"):
            raise SearchRefused("involvement",
                                "involvement needs a department / 按承办或协办筛选须指定单位（department）")
        return None
    if asked is not None:
        return asked
    return "any" if confined else "lead"


def keyword_terms(keyword: str | None) -> list[str]:
    """The terms of a keyword: separated by white space, each must occur (in the content or the reply)."""
    if keyword is None:
        return []
    terms = list(dict.fromkeys(keyword.split()))
    if not terms:
        raise SearchRefused("keyword", "give a keyword that is not only spaces / 关键词不能为空")
    if len(terms) > MAX_TERMS:
        raise SearchRefused("keyword", f"at most {MAX_TERMS} terms / 关键词最多 {MAX_TERMS} 个")
    return terms


def short_terms(terms: list[str]) -> list[str]:
    return [t for t in terms if len(t) < MIN_INDEXED]


def check_short_terms(terms: list[str], *, received_from, received_to, case_no, phone) -> None:
    """A term of one or two characters cannot be looked up in the trigram index: it is looked for with LIKE, so
    only in a bounded set of cases — one case number, one caller, or a received range of at most
    SHORT_BOUND_DAYS days (both ends given)."""
    if not short_terms(terms) or case_no or phone:
        return
    if received_from is not None and received_to is not None and \
            (received_to - received_from).total_seconds() <= SHORT_BOUND_DAYS * 86400:
        return
    raise SearchRefused(
        "keyword",
        f"a term shorter than {MIN_INDEXED} characters needs `from` and `to` at most {SHORT_BOUND_DAYS} days apart, "
        f"a case_no or a phone / 少于 {MIN_INDEXED} 个字的关键词须同时限定不超过 {SHORT_BOUND_DAYS} 天的受理时间"
        f"（from 和 to）、案件编号或来电号码")


def looks_like_phone(keyword: str | None) -> bool:
    """A keyword with a run of 7 or more digits looks for a phone number in the citizens' text."""
    return bool(keyword) and _DIGIT_RUN.search(keyword.replace(" ", "").replace("-", "")) is not None


def phone_keys(phone: str) -> list[str]:
    """The stored spellings a phone search matches: the intake stores `normalize_phone` of what it was given, so
    the query is normalised the same way (spaces, dashes, brackets and +86 / 0086 go); the bare digits and a
    leading + cover numbers the normalisation keeps foreign."""
    key = normalize_phone(phone.strip())
    digits = "".join(ch for ch in key if ch.isdigit())
    return list(dict.fromkeys([key, digits, "+" + digits]))


def valid_phone(phone: str) -> bool:
    digits = "".join(ch for ch in phone if ch.isdigit())
    return 5 <= len(digits) <= 20 and all(ch.isdigit() or ch in "+-() " for ch in phone)


def like_pattern(term: str) -> str:
    r"""`%term%` for LIKE with ESCAPE '\': the term's own % and _ match themselves."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def fts_query(terms: list[str]) -> str:
    """An FTS5 query: every term as a quoted phrase (substring match with the trigram tokenizer), all required."""
    return " AND ".join('"' + t.replace('"', '""') + '"' for t in terms)


def excel_safe(value) -> str:
    """A CSV cell Excel will not run as a formula (citizens' text can start with = + - @, a tab or CR)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
