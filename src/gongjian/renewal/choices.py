"""States and kinds of the renewal campaign."""

from gongjian.choices import LabeledChoice


class RenewalState(LabeledChoice):
    """Renewal state of a parcel, in order."""

    identified = ("identified", "低效认定")
    plan_published = ("plan_published", "方案公示")
    relocating = ("relocating", "腾挪安置")
    demolishing = ("demolishing", "拆除中")
    cleared = ("cleared", "拆除整理完成")
    reserved = ("reserved", "收储")
    supplied = ("supplied", "供地")
    construction = ("construction", "建设中")
    producing = ("producing", "投产")


CLEARED_OR_LATER = (
    RenewalState.cleared,
    RenewalState.reserved,
    RenewalState.supplied,
    RenewalState.construction,
    RenewalState.producing,
)


class Ownership(LabeledChoice):
    """Who owns a parcel's land."""

    collective = ("collective", "集体")
    state = ("state", "国有")
    mixed = ("mixed", "混合")


class EnterpriseKind(LabeledChoice):
    """新招引 or 增资扩产."""

    attracted = ("attracted", "新招引企业")
    expansion = ("expansion", "增资扩产")


class ReserveEntryKind(LabeledChoice):
    """A ledger entry of the land reserve."""

    reserve_on_account = ("reserve_on_account", "挂账收储")
    release = ("release", "供地出库")


class MilestoneKind(LabeledChoice):
    """A construction step of a supplied parcel, in the order they happen."""

    planning_application = ("planning_application", "规划报建")
    construction_permit = ("construction_permit", "施工许可")
    completion_acceptance = ("completion_acceptance", "竣工验收")
