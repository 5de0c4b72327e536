"""Hidden library module: ships the pure ``spinequant`` package to ParaspinalFat and VBQScore.

Slicer puts the folder of every scripted module on sys.path, so registering this module is what
makes ``import spinequant`` work inside Slicer (in a build tree and once installed).
"""

from slicer.ScriptedLoadableModule import ScriptedLoadableModule


class SpineQuantCore(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "SpineQuant Core"
        self.parent.categories = ["Quantification"]
        self.parent.dependencies = []
        self.parent.contributors = ["SpineQuant developers"]
        self.parent.helpText = (
            "Shared computation library of the SpineQuant extension (paraspinal muscle fat, vertebral bone "
            "quality). It has no user interface."
        )
        self.parent.acknowledgementText = "SpineQuant is built on 3D Slicer (https://www.slicer.org)."
        # A library, not a tool: keep it out of the module selector.
        self.parent.hidden = True
