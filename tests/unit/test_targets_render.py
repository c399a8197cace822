"""The printable board: Chinese, every text escaped, nothing loaded from elsewhere."""

from datetime import date, datetime

from services.kernel.clock import TZ
from services.scoring.targets import render
from services.scoring.targets.domain import TargetRules


def board(rows):
    return {"year": 2026, "as_of": datetime(2026, 3, 2, 9, 0, tzinfo=TZ), "rows": rows,
            "counts": {"green": 0, "yellow": 0, "red": len(rows), "grey": 0},
            "plans": {"pending": 0, "submitted": 0, "late": 0, "overdue": len(rows)}}


def test_the_board_page_escapes_what_people_typed_and_says_it_in_chinese():
    row = {"target_id": 7, "title": "<script>alert(1)</script>提速", "lead_unit": "D1", "lead_unit_name": "一号局",
           "co_units": ["D2"], "co_unit_names": ["二号局"], "state": "plan_pending", "state_zh": "待报实施方案",
           "plan_status": "overdue", "plan_status_zh": "逾期未报", "plan_due_on": date(2026, 2, 28),
           "plan_submitted_at": None,
           "milestones": {"total": 2, "done": 0, "done_late": 0, "overdue": 0, "due_soon": 0, "upcoming": 2,
                          "next_due_on": date(2026, 6, 30), "next_what": "半年 $目标"},
           "light": "red", "light_zh": "红灯（逾期）", "reasons_zh": ["实施方案和考核细则逾期未报"]}
    page = render.to_html(board([row]), TargetRules())
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "2026 年度重点工作目标管理进度表" in page and "红灯 1 项" in page and "逾期未报（期限 02月28日）" in page
    assert "06月30日 半年 $目标" in page and "二号局" in page and "2 月 28 日" in page
    assert "src=" not in page and "href=" not in page
    assert "本年度尚无重点工作目标" in render.to_html(board([]), TargetRules())
