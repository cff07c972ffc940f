"""Integrity errors from SQLite or PostgreSQL, told in words: which table, which column,
which rule. Services call ``explain`` on the ``IntegrityError`` of a refused write."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import CheckConstraint, Index, Table
from sqlalchemy.exc import IntegrityError

from gongjian.errors import Conflict, GongjianError, Invalid, Problem

#: What each kind of CHECK (by the end of its name) means.
CHECK_MEANINGS = {
    "_non_negative": "不能为负数",
    "_in_range": "超出允许范围",
    "_valid": "取值无效",
    "measures_something": "四项指标（透明度、溶解氧、氧化还原电位、氨氮）至少要有一项",
    "reach_forward": "终点桩号必须大于起点桩号",
    "culvert_forward": "终点桩号必须大于起点桩号",
    "closed_after": "办结时间不能早于收到时间",
    "ends_after_start": "结束日期不能早于开始日期",
    "not_own_parent": "租赁不能以自己为上级租赁",
    "town_role_has_town": "镇街用户必须指定所属镇街，其他角色不能指定",
    "no_public_accounts": "公众不设账号",
    "single_row": "审计链头只有一行",
    "outcome_valid": "结果只能是 ok 或 refused",
    "seq_positive": "序号从 1 开始",
    "satisfied_within_valid": "满意问卷数不能超过有效问卷数",
}

PARTIAL_UNIQUE_MEANINGS = {
    "uq_reserve_entries_reserved_once": "该地块已挂账收储，不能重复收储",
}

_SQLITE_CHECK = re.compile(r"CHECK constraint failed: (\w+)")
_SQLITE_COLUMNS = re.compile(r"(UNIQUE|NOT NULL) constraint failed: ([\w.,\s]+)")
_PG_KEY = re.compile(r"Key \((?P<columns>[^)]*)\)=\((?P<values>.*)\)")


def _constraints() -> dict[str, tuple[Table, Any]]:
    from gongjian.models import Base

    found: dict[str, tuple[Table, Any]] = {}
    for table in Base.metadata.tables.values():
        for constraint in table.constraints:
            if constraint.name:
                found[str(constraint.name)] = (table, constraint)
        for index in table.indexes:
            if index.name:
                found[str(index.name)] = (table, index)
    return found


def _check_problem(name: str) -> Problem:
    table, constraint = _constraints().get(name, (None, None))
    suffix = name.removeprefix(f"ck_{table.name}_") if table is not None else name
    meaning = next((text for key, text in CHECK_MEANINGS.items() if suffix.endswith(key)), None)
    column = None
    for key in ("_non_negative", "_in_range", "_valid"):
        if suffix.endswith(key):
            column = suffix.removesuffix(key)
    if suffix.endswith("_valid") and isinstance(constraint, CheckConstraint):
        allowed = re.findall(r"'([^']*)'", str(constraint.sqltext))
        meaning = f"取值无效，可选：{'、'.join(allowed)}"
    where = f"{table.name} 表" if table is not None else "记录"
    return Problem(f"{where}违反规则 {name}：{meaning or '不符合约束'}", column=column)


def _unique_error(table: str, columns: list[str], values: str | None) -> Conflict:
    shown = f"“{values}”" if values else "相同值"
    return Conflict(f"{table} 表中 {'、'.join(columns)} 为{shown}的记录已存在（唯一约束）")


def _explain_postgresql(orig: Any) -> GongjianError:
    diag = orig.diag
    name = diag.constraint_name or ""
    table = diag.table_name or "记录"
    detail = diag.message_detail or ""
    key = _PG_KEY.search(detail)
    sqlstate = getattr(orig, "sqlstate", "")
    if sqlstate == "23505":
        if name in PARTIAL_UNIQUE_MEANINGS:
            return Conflict(PARTIAL_UNIQUE_MEANINGS[name])
        columns = key["columns"].split(", ") if key else [name]
        return _unique_error(table, columns, key["values"] if key else None)
    if sqlstate == "23503":
        column = key["columns"] if key else None
        value = key["values"] if key else None
        return Invalid(
            "引用的记录不存在（外键约束）",
            [
                Problem(
                    f"{table} 表引用的记录不存在或仍被引用：{detail}", column=column, value=value
                )
            ],
        )
    if sqlstate == "23502":
        return Invalid(
            "必填项为空",
            [Problem(f"{table} 表的 {diag.column_name} 不能为空", column=diag.column_name)],
        )
    if sqlstate == "23514":
        return Invalid("数据不符合规则", [_check_problem(name)])
    return Invalid("数据不符合数据库约束", [Problem(str(orig).splitlines()[0])])


def _explain_sqlite(message: str) -> GongjianError:
    if match := _SQLITE_CHECK.search(message):
        return Invalid("数据不符合规则", [_check_problem(match[1])])
    if match := _SQLITE_COLUMNS.search(message):
        kind, targets = match[1], [t.strip() for t in match[2].split(",")]
        table = targets[0].split(".")[0]
        columns = [t.split(".", 1)[1] for t in targets]
        if kind == "UNIQUE":
            for name, (owner, index) in _constraints().items():
                if (
                    name in PARTIAL_UNIQUE_MEANINGS
                    and owner.name == table
                    and isinstance(index, Index)
                    and [c.name for c in index.columns] == columns
                ):
                    return Conflict(PARTIAL_UNIQUE_MEANINGS[name])
            return _unique_error(table, columns, None)
        return Invalid(
            "必填项为空",
            [Problem(f"{table} 表的 {columns[0]} 不能为空", column=columns[0])],
        )
    if "FOREIGN KEY constraint failed" in message:
        return Invalid(
            "引用的记录不存在（外键约束）",
            [Problem("引用的记录不存在，或要删除的记录仍被其他记录引用")],
        )
    return Invalid("数据不符合数据库约束", [Problem(message)])


def explain(exc: IntegrityError) -> GongjianError:
    """A ``Conflict`` (duplicate key) or ``Invalid`` (CHECK, NOT NULL, foreign key) that
    says in words what the refused write broke."""
    orig = exc.orig
    if orig is not None and hasattr(orig, "diag"):
        return _explain_postgresql(orig)
    return _explain_sqlite(str(orig))
