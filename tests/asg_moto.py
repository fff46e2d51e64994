"""moto's Auto Scaling reports every instance as launched from its launch template's
*default* version, whatever version the group launched it from; AWS reports the
version each instance was launched with, which is what deployer checks before it
moves traffic to a group (every instance on the new version). Patched in the test
process (which hosts the server, or runs moto in-process): an instance keeps the
version its group named when it was launched ($Latest / $Default resolved then)."""

from __future__ import annotations

from typing import Any

import pytest

_PATCHED: list[bool] = []


def patch_instance_versions() -> None:
    if _PATCHED:
        return
    _PATCHED.append(True)
    from moto.autoscaling.models import InstanceState

    original_init = InstanceState.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        group = self.auto_scaling_group
        template = getattr(group, "ec2_launch_template", None)
        if template is None:
            self._launched = None
            return
        version = str(getattr(group, "launch_template_version", None) or "$Default")
        if version == "$Latest":
            version = str(template.latest_version_number)
        elif version == "$Default":
            version = str(template.default_version_number)
        self._launched = {"LaunchTemplateId": template.id, "LaunchTemplateName": template.name,
                          "Version": version}

    def launch_template(self: Any) -> dict[str, Any] | None:
        return self._launched  # type: ignore[no-any-return]

    InstanceState.__init__ = init  # type: ignore[method-assign]
    InstanceState.launch_template = property(launch_template)  # type: ignore[assignment,method-assign]


@pytest.fixture(autouse=True, scope="module")
def instance_versions() -> None:
    """Imported by a test module: its instances report the version they launched from."""
    patch_instance_versions()
