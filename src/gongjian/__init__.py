"""gongjian (攻坚): command platform for industrial land renewal and river remediation."""

__version__ = "0.1.0"
