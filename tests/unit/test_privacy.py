"""The scrubber on the class of its input: phone numbers, id numbers, card numbers and e-mail addresses in
any spelling, embedded anywhere in Chinese text, never survive it; text without them comes out unchanged;
addresses are cut to their street."""

import json
import re
from datetime import date, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from services.appeals.domain import is_public
from services.kernel.contracts.appeals import APPEAL_TYPES, CHANNELS
from services.kernel.privacy import LABELS, coarsen_address, public_text, scrub

# Han characters of ordinary text: the numerals (一二三, 幺, 两, 零, 〇 …) are left out, since the scrubber
# reads them as the digits a hotline operator writes down
NUMERALS = set("〇零一幺二两三四五六七八九十百千万")
HAN = "".join(c for c in "市民反映小区门口路灯不亮井盖缺失噪声扰民油烟排污停水欠薪请尽快处理谢谢联系电话"
              "手机号邮箱身份证微信我叫住在楼下的商户夜间施工影响休息已多次投诉无人管希望相关部门核实并回复"
              if c not in NUMERALS)
han_text = st.text(alphabet=HAN, min_size=1, max_size=12)
# the text around personal data: words, spaces and punctuation, which must all come out as they went in
around_text = st.text(alphabet=HAN + " ，。：（）\n", min_size=1, max_size=12)

FULL_WIDTH = str.maketrans("0123456789+-()", "０１２３４５６７８９＋－（）")
CHINESE = str.maketrans("0123456789", "零幺二三四五六七八九")
SEPARATORS = ["", " ", "-", ".", "\u3000", "－", "—"]


@st.composite
def spelled_digits(draw, digits: str) -> str:
    """`digits` with a separator (or none) between some of them, as people type them."""
    sep = draw(st.sampled_from(SEPARATORS))
    if draw(st.booleans()):  # the usual groups: 138 1234 5678, 0571 8765 4321
        cut = [3, 7] if len(digits) == 11 else sorted(draw(st.sets(st.integers(1, len(digits) - 1), max_size=3)))
    else:
        cut = sorted(draw(st.sets(st.integers(1, len(digits) - 1), max_size=len(digits) - 1)))
    parts, last = [], 0
    for c in [*cut, len(digits)]:
        parts.append(digits[last:c])
        last = c
    return sep.join(parts)


def in_script(draw, text: str) -> str:
    style = draw(st.sampled_from(["ascii", "ascii", "full_width", "chinese"]))
    return text.translate(FULL_WIDTH if style == "full_width" else CHINESE if style == "chinese" else {})


@st.composite
def mobiles(draw) -> str:
    number = "1" + draw(st.sampled_from("3456789")) + draw(st.text("0123456789", min_size=9, max_size=9))
    prefix = draw(st.sampled_from(["", "", "+86", "+86 ", "+86-", "0086", "0086 ", "(+86)", "(86)", "86"]))
    return in_script(draw, prefix + draw(spelled_digits(number)))


@st.composite
def landlines(draw) -> str:
    area = draw(st.sampled_from(["010", "021", "022", "0571", "0755", "0898", "0311"]))
    local = draw(st.sampled_from("23456789")) + draw(st.text("0123456789", min_size=6, max_size=7))
    local = draw(spelled_digits(local)) if draw(st.booleans()) else local
    form = draw(st.sampled_from(["{a}-{l}", "{a} {l}", "({a}){l}", "（{a}）{l}", "{a}{l}", "+86 {b} {l}",
                                 "0086-{b}-{l}", "{a}-{l}转{x}", "{a}-{l}-{x}"]))
    return in_script(draw, form.format(a=area, b=area[1:], l=local, x=draw(st.integers(1, 9999))))


def id_check(digits17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(d) * w for d, w in zip(digits17, weights, strict=True)) % 11]


@st.composite
def id_numbers(draw) -> str:
    area = draw(st.sampled_from("123456789")) + draw(st.text("0123456789", min_size=5, max_size=5))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31)))
    seq = draw(st.text("0123456789", min_size=3, max_size=3))
    if draw(st.integers(0, 4)) == 0:  # the old 15-digit number: two-digit year, no check digit
        return area + f"{born:%y%m%d}" + seq
    body = area + f"{born:%Y%m%d}" + seq
    check = id_check(body) if draw(st.booleans()) else draw(st.sampled_from("0123456789Xx"))
    sep = draw(st.sampled_from(["", "", " ", "-"]))
    number = sep.join([area, f"{born:%Y%m%d}", seq + check])
    return number.translate(FULL_WIDTH) if draw(st.integers(0, 5)) == 0 else number


@st.composite
def cards(draw) -> str:
    number = draw(st.sampled_from(["62", "4", "5", "3"])) + draw(st.text("0123456789", min_size=14, max_size=17))
    return draw(st.sampled_from(["", " ", "-"])).join(number[i:i + 4] for i in range(0, len(number), 4))


emails = st.builds("{}@{}.{}".format, st.from_regex(r"[a-z0-9][a-z0-9._+\-]{0,15}", fullmatch=True),
                   st.from_regex(r"[a-z0-9]{1,10}(\.[a-z0-9]{1,8})?", fullmatch=True),
                   st.sampled_from(["com", "cn", "com.cn", "net", "org", "gov.cn"]))

personal = st.one_of(
    mobiles().map(lambda v: (v, {LABELS["phone"]})),
    landlines().map(lambda v: (v, {LABELS["phone"]})),
    id_numbers().map(lambda v: (v, {LABELS["id"]})),
    cards().map(lambda v: (v, {LABELS["card"], LABELS["id"]})),  # a card number may look like an id number
    emails.map(lambda v: (v, {LABELS["email"]})),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(around_text, personal), min_size=1, max_size=4), around_text)
@example([("电话", ("+86 138-1234-5678", {LABELS["phone"]}))], "谢谢")
@example([("电话 ", ("+86 138-1234-5678", {LABELS["phone"]}))], "谢谢")
@example([("身份证", ("11010119900307123X", {LABELS["id"]}))], "号")
@example([("报警人", ("幺三八一二三四五六七八", {LABELS["phone"]}))], "。")
def test_personal_data_in_any_spelling_never_survives_and_the_text_around_it_does(pieces, tail):
    # Numbers written side by side with nothing but a space or a dash between them are one run of digits that no
    # reader can cut apart for sure (130 0000 0000 4000 1300 0000 000): stated here for numbers with some text
    # between them; a separator alone in the test after this one.
    pieces = [(before if n == 0 or before.strip(" -.") else "，" + before, value)
              for n, (before, value) in enumerate(pieces)]
    text = "".join(before + value for before, (value, _) in pieces) + tail
    out = scrub(text)
    # nothing of a number is left: the text around held no digit, so none may come out
    as_digits = out.translate(str.maketrans("零幺二三四五六七八九〇两", "0123456789" + "00"))
    assert not re.search(r"\d", as_digits), (text, out)
    assert "@" not in out
    # and the rest reads as before, each value replaced by one label of its kind
    pattern = "".join(re.escape(before) + "(" + "|".join(map(re.escape, labels)) + ")"
                      for before, (_, labels) in pieces) + re.escape(tail)
    assert re.fullmatch(pattern, out), (text, out)
    assert scrub(out) == out  # idempotent: a label holds nothing to find


@pytest.mark.parametrize("text, expected", [
    ("。13000000000 4000 0100 1000 000。", "。[电话] [卡号]。"),  # a card after a mobile number
    ("。130 0100 1000 010-2000000。", "。[电话] [电话]。"),  # a landline after a mobile in groups
    ("。130 0000 0000 4000 1300 0000 000。", "。[电话] [电话]。"),  # no reading: nothing of it is left
    ("拨打 010-2130 0000 转 12", "拨打 [电话]"),  # a mobile's digits inside a landline stay the landline's
    ("电话 13812345678 3 次，2026年", "电话 [电话] 3 次，2026年"),  # what is not a number's stays
])
def test_numbers_side_by_side_with_only_a_space_between(text, expected):
    assert scrub(text) == expected


# Text without personal data, as our messages and citizens write it: dates, times, amounts, short numbers,
# our own case and application numbers, the 12345 hotline — always with words between the numbers.
ordinary_tokens = st.one_of(
    han_text,
    st.integers(0, 99999).map(str),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)).map(str),
    st.times().map(lambda t: f"{t:%H:%M}"),
    st.decimals(min_value=0, max_value=10**6, places=2).map(lambda d: f"{d}元"),
    st.integers(1, 10**8).map(lambda n: f"MY20260115{n:06d}"),
    st.integers(1, 10**8).map(lambda n: f"SP20261130{n:06d}"),
    # words, but not those that announce a number or an account (QQ，10000 may well be a QQ number)
    st.from_regex(r"[A-Za-z]{1,8}", fullmatch=True).filter(
        lambda w: w.lower() not in ("qq", "vx", "tel", "phone", "mobile", "wechat", "weixin")),
    st.sampled_from(["12345热线", "第3季度", "80%", "3栋", "https://xiaoneng.example.cn/console?case=MY2026011500004"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(ordinary_tokens, max_size=12), st.sampled_from(["，", "。", "、", "；", "：", "\n", "是"]))
def test_text_without_personal_data_is_unchanged(tokens, joint):
    text = joint.join(tokens)
    assert scrub(text) == text


def test_the_labels_and_the_empty_cases():
    assert scrub(None) is None and scrub("") == ""
    assert scrub("联系人王先生，手机 139 1234 5678，座机 0571-8765 4321，身份证 330106199001011234，"
                  "邮箱 wang@example.com，QQ 12345678") == (
        "联系人王先生，手机 [电话]，座机 [电话]，身份证 [身份证号]，邮箱 [邮箱]，QQ [账号]")
    # a bare 8-digit number is caught when a word announces it, not otherwise (it may be a date)
    assert scrub("电话87654321") == "电话[电话]" and scrub("20261130") == "20261130"


STREETS = st.sampled_from(["人民路", "杭州市西湖区文三路", "解放东路", "中山二路", "滨江区江南大道", "幸福小区",
                           "城关镇健康街"])


@st.composite
def house_parts(draw) -> str:
    n = st.integers(1, 2999).map(str)
    parts = [draw(st.sampled_from(["{}号", "{}-{}号", "{}弄", "{}号院"])).format(draw(n), draw(n))]
    for suffix in draw(st.lists(st.sampled_from(["{}栋", "{}幢", "{}号楼", "{}单元", "{}室", "{}楼", "{}层",
                                                 "A座", "{}户"]), max_size=4)):
        parts.append(suffix.format(draw(n)))
    return draw(st.sampled_from(["", " "])).join(parts)


@settings(max_examples=300, deadline=None)
@given(STREETS, house_parts(), st.sampled_from(["", " "]))
def test_an_address_is_cut_to_its_street(street, house, space):
    exact = street + space + house
    assert coarsen_address(exact) == street
    assert coarsen_address(street) == street and coarsen_address(coarsen_address(exact)) == street
    numbers = re.findall(r"\d+", house)
    told = public_text(f"我住{exact}，门口路灯坏了", address=exact)
    assert told == f"我住{street}，门口路灯坏了"
    assert not any(n in told for n in numbers)


def test_addresses_at_the_edges():
    assert coarsen_address(None) is None and coarsen_address("") == ""
    assert coarsen_address("18号") is None  # nothing but the house: nothing to show
    assert coarsen_address("18 Renmin Road") == "Renmin Road"
    assert coarsen_address("人民路18") == "人民路"
    assert coarsen_address("XX村5组") == "XX村"


def test_public_text_masks_the_known_name_and_room_numbers():
    text = "我是张三丰，住幸福小区3栋2单元501室，电话13812345678，三室一厅"
    assert public_text(text, names=["张三丰", None, ""]) == "我是[姓名]，住幸福小区*栋*单元*室，电话[电话]，三室一厅"
    assert public_text(None) is None


def test_a_date_is_never_mistaken_for_an_old_id_number_after_a_letter():
    day = date(2026, 1, 1)
    for _ in range(366):
        number = f"MY{day:%Y%m%d}{1234567:07d}"  # a 15-digit run after letters: our case number
        assert scrub(number) == number
        day += timedelta(days=1)


# -- where free text leaves the services -----------------------------------------------------------------------

SAID = "请联系 138-1234-5678 或 0571 8765 4321，身份证 33010619900101123X，邮箱 li@example.com"


def test_every_free_text_field_of_an_appeals_event_is_scrubbed_when_the_event_is_built():
    from services.kernel.contracts import make_event, parse_event, payload_schema, registered
    from services.kernel.privacy import ScrubbedString

    appeals_types = [(t, v) for t, v, _ in registered()
                     if t.startswith(("appeal.", "complaint.", "efficiency_warning."))]
    scrubbed = {(t, name) for t, v in appeals_types for name, f in payload_schema(t, v).fields.items()
                if isinstance(f, ScrubbedString)}
    # free text of appeals' events, each a ScrubbedString (ids, codes and enumerations are not free text)
    assert scrubbed == {("appeal.returned", "reason"), ("appeal.extension_requested", "reason"),
                        ("appeal.extension_decided", "note"), ("appeal.emergency", "summary"),
                        ("appeal.supervised", "note"), ("appeal.return_reviewed", "note"),
                        ("appeal.voided", "reason"), ("appeal.corrected", "reason"),
                        ("appeal.merged", "reason"), ("appeal.split", "reason"),
                        ("complaint.finding_recorded", "reasons"),
                        ("efficiency_warning.issued", "reason")}
    base = {"appeal_id": "1", "case_no": "MY20260115000001", "days": 3, "approved": True, "act_by": "2026-12-31",
            "exposed": False, "by": "monitor", "finding": "upheld", "reward": False, "warning_id": "EW-1",
            "unit": "ZJJ", "returned_by": "ZJJ", "decision": "rejected",
            "kind": "invalid", "corrected": ["type"], "changes": {"type": {"old": "help", "new": "complaint"}},
            "main_id": "2", "main_case_no": "MY20260115000002", "part_case_nos": ["MY20260115000003"]}
    for event_type, field in scrubbed:
        event = make_event(event_type, {**base, field: SAID}, service="appeals")
        text = json.dumps(event, ensure_ascii=False)
        for secret in ("1234-5678", "8765 4321", "33010619900101123X", "li@example.com"):
            assert secret not in text, (event_type, secret)
        assert event["payload"][field].startswith("请联系 [电话] 或 [电话]")
        assert parse_event(event).payload[field] == event["payload"][field]


def test_notification_messages_are_scrubbed_whatever_the_event_carried():
    from services.notify.messages import render

    # an event of an older producer, not scrubbed at its source
    subject, body = render("appeal.emergency", {
        "case_no": "MY20260115000001", "summary": SAID, "category": "water", "town_street": None,
        "department": "SWJ", "due_at": None, "link": "http://127.0.0.1:8004/console?case=MY20260115000001",
        "severity": "critical"})
    for secret in ("1234-5678", "8765 4321", "33010619900101123X", "li@example.com"):
        assert secret not in subject + body
    assert "MY20260115000001" in subject and "console?case=MY20260115000001" in body  # our numbers stay


# -- which cases are public ------------------------------------------------------------------------------------

@given(st.sampled_from(CHANNELS), st.sampled_from([None, True, False]), st.sampled_from(APPEAL_TYPES), st.booleans())
def test_a_case_is_public_only_with_consent_and_never_for_the_discipline_office(channel, asked, kind, confidential):
    public = is_public(channel, asked, kind, confidential)
    if kind == "efficiency_complaint" or confidential:
        assert public is False  # whatever was asked
    elif asked is None:
        assert public is (channel == "online_opinion")  # the board shows its messages in public already
    else:
        assert public is asked
