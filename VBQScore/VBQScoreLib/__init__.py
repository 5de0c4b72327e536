"""MRML adapters of the VBQScore module: level points as markups, ROIs as a segmentation or label map,
the result as a table and in plain words. The numbers come from spinequant.vbq (pure Python)."""
