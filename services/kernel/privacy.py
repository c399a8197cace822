"""Personal data out of free text: `scrub` replaces phone numbers, resident id numbers, bank card numbers,
e-mail addresses and QQ / WeChat accounts with a readable label; `coarsen_address` cuts an address to its
street; `public_text` adds the names and address a case is known to hold.

Citizens and operators type these in every spelling: "+86 138-1234-5678", "０５７１－８７６５４３２１",
"幺三八一二三四五六七八九" (the hotline writes down what it hears). Patterns therefore run on a copy of the
text in which full-width characters, Chinese numerals and dashes are folded to ASCII, one character for
one, so that a match found in the copy is cut from the original at the same place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from marshmallow import fields

__all__ = ["LABELS", "ScrubbedString", "coarsen_address", "excerpt", "mask_name", "public_text", "scrub"]

LABELS = {"phone": "[电话]", "id": "[身份证号]", "card": "[卡号]", "email": "[邮箱]", "account": "[账号]",
          "name": "[姓名]"}

# -- folding: one character for one, so that spans in the copy are spans in the original -------------------

_FOLD: dict[int, str] = {cp: chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)}  # full-width ASCII
_FOLD.update({ord(c): " " for c in "\u3000\u00a0\u2002\u2003\u2009\u202f"})
_FOLD.update({ord(c): "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\ufe63"})
# numbers written down as heard: 幺 is how 1 is read out in phone numbers, 两 is 2
_NUMERALS = ("〇零", "一幺", "二两", "三", "四", "五", "六", "七", "八", "九")
_FOLD.update({ord(c): str(d) for d, chars in enumerate(_NUMERALS) for c in chars})
_FOLD.update({ord("（"): "(", ord("）"): ")", ord("："): ":"})


def _fold(text: str) -> str:
    folded = text.translate(_FOLD)
    assert len(folded) == len(text)  # every entry maps one character to one
    return folded


# -- the patterns, in the order they run (longest numbers first, so a phone is never cut out of an id) ------

_SEP = r"[ \-.]?"  # one space, dash or dot between digits: 138 1234 5678, 138-1234-5678, 138.1234.5678
# Not after a letter or digit: case and application numbers (MY20260115000042, SP…) are ours, not personal.
_START = r"(?<![0-9A-Za-z])"
_DATE = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"

_ID18 = re.compile(_START + r"[1-9]\d{5}[ \-]?(?:18|19|20)\d{2}" + _DATE + r"[ \-]?\d{3}[\dXx](?![0-9A-Za-z])")
_ID15 = re.compile(_START + r"[1-9]\d{5}[ \-]?\d{2}" + _DATE + r"[ \-]?\d{3}(?!\d)")
# 15 (American Express) to 19 digits (UnionPay), in one run or in groups of four as printed on the card;
# the first digit is the card network's (3 Amex/JCB, 4 Visa, 5 Mastercard, 6 UnionPay), which a phone with
# its country code never has. Not a group of a longer run of groups: that is some other number or two —
# after a group of one to four digits and a separator (4000 0100 … 1234 5678); after
# a longer number (a phone, 13000000000 4000 0100 1000 000) a card may well follow
_NOT_A_LATER_GROUP = "".join("(?<!" + before + r"\d" * n + r"[ \-.])" for n in range(1, 5) for before in (r"\D", "^"))
_CARD = re.compile(_START + _NOT_A_LATER_GROUP
                   + r"(?:[3-6]\d{14,18}|[3-6]\d{3}(?:([ \-.])\d{4}){2}\1\d{3,4}(?:\1\d{1,3})?"
                   r"|3\d{3}([ \-.])\d{6}\2\d{5})(?![ \-.]?\d)")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# brackets only in pairs: a "(" before a number belongs to the text around it
_COUNTRY = r"(?:\((?:\+|00)?[ ]?86\)|(?:(?:\+|00)[ ]?)?86)[ \-]?"
_MOBILE = re.compile(r"(?<!\d)(?:" + _COUNTRY + r")?1" + _SEP + r"[3-9](?:" + _SEP + r"\d){9}(?!\d)")
# landlines need their area code (0571-8765 4321, (010)12345678, +86 571 87654321): a bare 8-digit number
# could be a date or an amount; one after a word such as 电话 is caught by _CUED below. After the country
# code only Beijing's area code (10) starts with 1, as every mobile number does.
_AREA = r"0[1-9]\d{1,2}"
_AREA_ABROAD = r"0?(?:10|[2-9]\d{1,2})"
_LANDLINE = re.compile(r"(?<!\d)(?:(?:\+|00)[ ]?86[ \-]?(?:\(" + _AREA_ABROAD + r"\)|" + _AREA_ABROAD + r")"
                       r"|\(" + _AREA + r"\)|" + _AREA + r")[ \-]?"
                       r"[1-9](?:[ \-.]?\d){6,7}(?:[ ]?(?:-|转|ext\.?|x)[ ]?\d{1,5})?(?!\d)", re.IGNORECASE)
# what follows a word that announces a number or an account (not our own label [电话]); not a number that is part
# of an identifier after it (电话，MY20260115000001: a case number)
_CUED_PHONE = re.compile(r"(?<!\[)(?:电话|手机|座机|联系方式|(?<![A-Za-z])(?:tel|phone|mobile))[^0-9A-Za-z\n]{0,4}?"
                         r"(?!\d{4}-\d\d?-\d)(?P<value>\+?\(?\d[\d \-()]{4,}\d)(?![\d.]|\s*[元%年月日号])",
                         re.IGNORECASE)
_CUED_ACCOUNT = re.compile(r"(?:(?<![A-Za-z])(?:qq|wechat|weixin|vx)(?![A-Za-z])|微信号?)[^0-9A-Za-z\n]{0,6}?"
                           r"(?P<value>[A-Za-z0-9_\-]{5,})", re.IGNORECASE)


_Rule = tuple[re.Pattern, str]
_RULES: tuple[_Rule, ...] = (
    (_EMAIL, LABELS["email"]),  # first: an address may hold a number (13812345678@qq.com)
    (_ID18, LABELS["id"]),
    (_ID15, LABELS["id"]),
    (_CARD, LABELS["card"]),
    # landlines before mobiles: 010-2130 0000 would otherwise lose "130 0000 …" to the mobile rule
    (_LANDLINE, LABELS["phone"]),
    (_MOBILE, LABELS["phone"]),
    (_CUED_PHONE, LABELS["phone"]),
    (_CUED_ACCOUNT, LABELS["account"]),
)


def _replace(text: str, pattern: re.Pattern, label: str) -> str:
    folded = _fold(text)
    out, last = [], 0
    for m in pattern.finditer(folded):
        start, end = m.span("value") if "value" in pattern.groupindex else m.span()
        out += [text[last:start], label]
        last = end
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def scrub(text: str | None, *, names: Iterable[str | None] = ()) -> str | None:
    """`text` with phone numbers, id numbers, bank card numbers, e-mail addresses and QQ / WeChat accounts
    replaced by `[电话]`, `[身份证号]`, `[卡号]`, `[邮箱]`, `[账号]`, and the `names` the case is known to hold
    (its appellant's) by `[姓名]`; any other text is left as it is. Idempotent: a label holds nothing a
    rule would find again."""
    if not text:
        return text
    for name in names:
        # a name of one character would mask that character everywhere
        if name and len(name.strip()) >= 2:
            text = text.replace(name.strip(), LABELS["name"])
    scrubbed = _apply(text, _RULES)
    if _DIGIT.search(scrubbed):
        # numbers side by side can be cut apart in two ways: a landline's area code found inside a mobile
        # number before it (130 0100 1000 010-2000000) or a card taken for a later group of a mobile's (130
        # 0000 0000 4000 0100 1000 000), or a mobile inside a landline (010-2130 0000). Where digits are left,
        # the mobile-first order is tried too, and the reading that leaves fewer digits wins.
        other = _apply(text, _RULES_MOBILE_FIRST)
        if len(_DIGIT.findall(other)) < len(_DIGIT.findall(scrubbed)):
            scrubbed = other
        # what is left of a run of numbers cut apart either way (a group between two labels) belongs to
        # them: it goes with the label before it
        scrubbed = _LEFT_OVER.sub("", scrubbed)
    return scrubbed


_DIGIT = re.compile(r"\d")
_NUMBER_LABEL = r"(?:\[电话\]|\[卡号\]|\[身份证号\])"
_AFTER_NUMBER_LABEL = r"(?:(?<=\[电话\])|(?<=\[卡号\])|(?<=\[身份证号\]))"
_GROUPS = r"[ \-.]?\d(?:[ \-.]?\d)*"
_LEFT_OVER = re.compile(_AFTER_NUMBER_LABEL + _GROUPS + r"(?=[ \-.]?" + _NUMBER_LABEL + r")")
# the same rules with the mobile's before the card's and the landline's: a card or a landline right after a
# mobile number is seen once the mobile is a label
_RULES_MOBILE_FIRST = ((_EMAIL, LABELS["email"]), (_ID18, LABELS["id"]), (_ID15, LABELS["id"]),
                       (_MOBILE, LABELS["phone"]), (_CARD, LABELS["card"]), (_LANDLINE, LABELS["phone"]),
                       *_RULES[-2:])


def _apply(text: str, rules: tuple[_Rule, ...]) -> str:
    # until nothing changes: a number that sat right beside another (two phones with one space between) is
    # seen once its neighbour is a label
    for _ in range(4):
        before = text
        for pattern, label in rules:
            text = _replace(text, pattern, label)
        if text == before:
            break
    return text


# -- addresses ------------------------------------------------------------------------------------------------

_NUM = r"[0-9０-９〇零一二两三四五六七八九十百千甲乙丙丁]"
# Where the street ends: a house number (18号, 18-2号, 123弄, 1巷), a building, unit, room or floor, a village
# group, or a bare number at the end.
_HOUSE = re.compile(
    r"(?:第?\s*" + _NUM + r"+(?:\s*[-—之]\s*" + _NUM + r"+)*\s*[A-Za-zＡ-Ｚａ-ｚ]?\s*"
    r"(?:号楼|号院|号|弄|栋|幢|座|單元|单元|室|楼|层|组|户|门|#)"
    r"|[A-Za-zＡ-Ｚａ-ｚ]\s*(?:座|栋|幢)"
    r"|(?<![0-9A-Za-z])[0-9０-９]+\s*$"
    r"|no\.?\s*\d)", re.IGNORECASE)
_TRAILING = re.compile(r"[\s,，、;；:：\-—(（]+$")


def coarsen_address(address: str | None) -> str | None:
    """The address cut to its street (人民路 18 号 3 栋 2 单元 501 室 → 人民路): everything from the first
    house number, building, unit, room or floor on goes; None when nothing is left."""
    if not address:
        return address
    address = _LEADING_NUMBER.sub("", address)
    m = _HOUSE.search(address)
    street = address[:m.start()] if m else address
    street = _TRAILING.sub("", street.strip())
    return street or None


# in free text only Arabic numbers: 三室一厅 is a flat's layout, 501室 a flat
_ROOM = re.compile(r"[0-9０-９]+\s*(?P<unit>号楼|栋|幢|单元|室)")
# an address written the English way starts with its house number (18 Renmin Road)
_LEADING_NUMBER = re.compile(r"^\s*(?:no\.?\s*)?[0-9]+[A-Za-z]?\s*[,，]?\s+", re.IGNORECASE)


def mask_name(name: str | None) -> str | None:
    """张三丰 → 张**: the family name stays, so the text still reads."""
    if not name:
        return name
    return name[0] + "*" * max(1, len(name) - 1)


def public_text(text: str | None, *, names: Iterable[str | None] = (), address: str | None = None) -> str | None:
    """Free text fit for the public: `scrub`, and the names and the address the case is known to hold
    (its appellant's name, its exact address) masked wherever the text repeats them; building, unit and
    room numbers go too."""
    if not text:
        return text
    if address and address.strip():
        exact = address.strip()
        street = coarsen_address(exact)
        if street != exact:
            text = text.replace(exact, street or "")
            # the address as typed may differ in spaces from the text: compare without them
            compact = re.sub(r"\s+", "", exact)
            if len(compact) >= 4:
                text = text.replace(compact, re.sub(r"\s+", "", street or ""))
    text = _ROOM.sub(lambda m: "*" + m.group("unit"), text)
    return scrub(text, names=names)


ELLIPSIS = "…"


def excerpt(text: str | None, limit: int) -> str | None:
    """`text` cut to at most `limit` characters, the last of them an ellipsis when it was longer. Cut text that
    was made public already (`public_text`), never before: a number cut in half would slip past the patterns."""
    if text is None or len(text) <= limit:
        return text
    return text[:limit - len(ELLIPSIS)] + ELLIPSIS


class ScrubbedString(fields.String):
    """A free-text field of an event contract: scrubbed when loaded, so that neither the outbox, the bus nor
    any consumer (notify's messages and log, the console feed) sees a phone or id number in it."""

    def _deserialize(self, value, attr, data, **kwargs):
        return scrub(super()._deserialize(value, attr, data, **kwargs))
