"""Roles and actions."""

from gongjian.choices import LabeledChoice


class Role(LabeledChoice):
    """The roles of SPEC.md ("Users and roles"); the public has no account."""

    admin = ("admin", "平台管理员")
    city = ("city", "市攻坚办")
    town = ("town", "镇街")
    auditor = ("auditor", "审计监督")
    public = ("public", "公众")
    station = ("station", "监测站")


#: Roles a user account may hold (``public`` is refused by a CHECK of its own, and a
#: monitoring station signs in with a token, not an account).
ACCOUNT_ROLES = (Role.admin, Role.city, Role.town, Role.auditor, Role.public)


class Action(LabeledChoice):
    """What an actor does to a resource."""

    view = ("view", "查看")
    add = ("add", "新增")
    change = ("change", "修改")
    delete = ("delete", "删除")
    approve = ("approve", "审批")
    publish = ("publish", "发布")


WRITE_ACTIONS = frozenset({Action.add, Action.change, Action.delete})


class SessionEnd(LabeledChoice):
    """Why a web session ended."""

    signed_out = ("signed_out", "已退出")
    idle = ("idle", "长时间未操作")
    expired = ("expired", "超过最长登录时间")
    disabled = ("disabled", "账号已停用")
    ended_by_admin = ("ended_by_admin", "管理员结束会话")
