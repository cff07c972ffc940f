"""Task lists (清单) out of the platform: empty templates and exports of stored records,
as .xlsx (the template's layout: headers, frozen header row, drop-downs, instructions)
or CSV (UTF-8 with a BOM, the same headers). Texts that a spreadsheet would take for
formulas are neutralised (see ``excel``), so an export can be edited and imported back:
unchanged rows change nothing."""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO

from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.imports.excel import FileKind, write_csv, write_xlsx
from gongjian.imports.tasklists import list_kind
from gongjian.towns.services import find_town


def write_template(name: str, target: Path | IO[bytes]) -> None:
    """Write the empty template of list ``name``: the data sheet with its headers, frozen
    header row and drop-downs, and the instructions sheet."""
    write_xlsx(target, list_kind(name).layout(), [])


def export_list(
    session: Session,
    *,
    actor: Actor,
    name: str,
    target: IO[bytes],
    kind: FileKind = FileKind.xlsx,
    town: str | None = None,
) -> int:
    """Write the stored records of list ``name`` that ``actor`` may see (of ``town``, a
    name or code, or all) to ``target`` as .xlsx (the template's layout) or CSV (UTF-8
    with a BOM), formula characters neutralised; return how many rows."""
    importer = list_kind(name)(session, actor=actor)
    town_id = find_town(session, town).id if town else None
    rows = list(importer.export_rows(town_id))
    if kind is FileKind.xlsx:
        write_xlsx(target, importer.layout(), rows)
    else:
        wrapper = io.TextIOWrapper(target, encoding="utf-8-sig", newline="")
        write_csv(wrapper, [c.header for c in importer.columns], rows)
        wrapper.flush()
        wrapper.detach()
    return len(rows)
