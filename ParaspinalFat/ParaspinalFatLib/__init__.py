"""Slicer-side adapters of the ParaspinalFat module: the only code that touches MRML nodes.

volumes: scalar/labelmap volume nodes <-> spinequant.imageio.Volume (geometry kept, LPS <-> RAS)
segments: segmentation nodes <-> per-structure masks, with names, colours and SNOMED terminology
tables: long measurement DataFrames -> typed vtkMRMLTableNode columns (titles, units, descriptions)
"""
