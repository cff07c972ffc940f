"""States and kinds of the water campaign, with labels and colours (DESIGN.md)."""

from gongjian.choices import LabeledChoice


class Grade(LabeledChoice):
    """黑臭等级 of a point or a water body for a period."""

    none = ("none", "不黑不臭", "#1b5e20")
    mild = ("mild", "轻度黑臭", "#7a4a00")
    severe = ("severe", "重度黑臭", "#8e0000")
    insufficient = ("insufficient", "数据不足", "#424242")


class RemediationState(LabeledChoice):
    """Remediation state of a river, in order."""

    listed = ("listed", "列入清单")
    entered = ("entered", "进场")
    completed = ("completed", "完工")
    evaluated = ("evaluated", "评估通过")
    sustained = ("sustained", "长治久清")


class MeasureKind(LabeledChoice):
    """Kinds of measure in a river plan (一河一策)."""

    interception = ("interception", "截污")
    sewer = ("sewer", "管网建设")
    dredging = ("dredging", "清淤")
    culvert_uncovering = ("culvert_uncovering", "揭盖复明")
    water_diversion = ("water_diversion", "补水活水")
    greening = ("greening", "岸线绿化")
    outfall_remediation = ("outfall_remediation", "排口整治")


class MeasureState(LabeledChoice):
    """Progress of a plan measure."""

    planned = ("planned", "计划")
    in_progress = ("in_progress", "实施中")
    done = ("done", "已完成")


class ComplaintCategory(LabeledChoice):
    """What a citizen complains about."""

    black = ("black", "水体发黑")
    odour = ("odour", "水体发臭")
    floating_waste = ("floating_waste", "漂浮垃圾")
    sewage_outfall = ("sewage_outfall", "污水直排")
    other = ("other", "其他")
