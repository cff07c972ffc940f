"""API schemas of towns."""

from gongjian.schemas import ReadModel
from gongjian.towns.choices import TownKind


class TownRead(ReadModel):
    """A town or street."""

    code: str
    name: str
    name_en: str
    kind: TownKind
