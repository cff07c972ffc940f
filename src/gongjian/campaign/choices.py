"""States and kinds of campaign records."""

from gongjian.choices import LabeledChoice


class Campaign(LabeledChoice):
    """The two campaigns."""

    renewal = ("renewal", "工改")
    water = ("water", "治水")


class ProjectKind(LabeledChoice):
    """Kinds of project, each belonging to one campaign (``PROJECT_CAMPAIGN``)."""

    demolition = ("demolition", "拆除整理")
    renewal_construction = ("renewal_construction", "改造建设")
    river_remediation = ("river_remediation", "河涌综合整治")
    sewer = ("sewer", "污水管网")
    wwtp_new = ("wwtp_new", "污水处理厂新建")
    wwtp_expansion = ("wwtp_expansion", "污水处理厂扩建")
    interception = ("interception", "总口截污")
    culvert_uncovering = ("culvert_uncovering", "揭盖复明")
    dredging = ("dredging", "清淤疏浚")
    water_diversion = ("water_diversion", "补水活水")
    greening = ("greening", "碧道绿化")


PROJECT_CAMPAIGN: dict[ProjectKind, Campaign] = {
    kind: Campaign.renewal
    if kind in (ProjectKind.demolition, ProjectKind.renewal_construction)
    else Campaign.water
    for kind in ProjectKind
}

WWTP_KINDS = (ProjectKind.wwtp_new, ProjectKind.wwtp_expansion)


class ProjectState(LabeledChoice):
    """Project state, in order; ``accepted`` (验收) is given by the city only."""

    planned = ("planned", "计划")
    approved = ("approved", "已立项")
    started = ("started", "已开工")
    completed = ("completed", "已完工")
    accepted = ("accepted", "已验收")


class BatchKind(LabeledChoice):
    """Concentrated events (集中开工 / 集中拆除)."""

    concentrated_start = ("concentrated_start", "集中开工")
    concentrated_demolition = ("concentrated_demolition", "集中拆除")


class CommendationKind(LabeledChoice):
    """Who is commended."""

    town = ("town", "先进单位")
    individual = ("individual", "先进个人")


class OverdueReason(LabeledChoice):
    """What a project is late for."""

    end = ("end", "逾期未完工")
    start = ("start", "逾期未开工")


class Outlook(LabeledChoice):
    """The year-end outlook of a commitment target (see ``rules.forecast``)."""

    on_track = ("on_track", "可完成", "#1b5e20")
    at_risk = ("at_risk", "有风险", "#7a4a00")
    behind = ("behind", "滞后", "#8e0000")
