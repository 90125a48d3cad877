"""The verifier reads every embedded file however the name tree is shaped, and refuses ambiguity."""

import io

import pikepdf
import pytest
from pypdf import PdfReader

from evidence.verify import _embedded_files


def _pdf(names: list[str], *, nested: bool) -> PdfReader:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    specs = []
    for name in names:
        stream = pikepdf.Stream(pdf, f"content of {name}".encode())
        specs.append(pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Filespec, EF=pikepdf.Dictionary(F=stream))))
    if nested:  # qpdf splits a long tree into /Kids, two levels deep at this size
        tree = pikepdf.NameTree.new(pdf)
        for name, spec in zip(names, specs, strict=True):
            tree[name] = spec
        root = tree.obj
    else:
        flat = pikepdf.Array()
        for name, spec in zip(names, specs, strict=True):
            flat.extend([pikepdf.String(name), spec])
        root = pdf.make_indirect(pikepdf.Dictionary(Names=flat))
    pdf.Root.Names = pikepdf.Dictionary(EmbeddedFiles=root)
    out = io.BytesIO()
    pdf.save(out)
    return PdfReader(io.BytesIO(out.getvalue()))


def test_a_long_nested_name_tree_is_read_whole():
    names = ["manifest.json", *(f"VD_{i}" for i in range(1, 2001))]
    reader = _pdf(names, nested=True)
    assert "/Kids" in reader.trailer["/Root"]["/Names"]["/EmbeddedFiles"]
    files = _embedded_files(reader)
    assert len(files) == 2001 and files["VD_1999"] == b"content of VD_1999"


def test_a_name_embedded_twice_is_refused():
    with pytest.raises(ValueError, match="more than one embedded file is named VD_1"):
        _embedded_files(_pdf(["VD_1", "VD_1", "manifest.json"], nested=False))
