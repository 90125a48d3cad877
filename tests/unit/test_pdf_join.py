"""The streaming PDF writer that assembles a bundle: pages, footers, page tree, outline, embedded files."""

import hashlib
import io
from pathlib import Path

import pikepdf
import pytest
from pikepdf import Array, Dictionary, Name, Stream
from pypdf import PdfReader

from evidence import pdf_join
from evidence.pdf_join import Bookmark, PdfJoinError, StreamingPdfWriter
from evidence.pdf_stamp import load_font


def _part(path: Path, label: str, pages: int, *, inherit: bool = False, shared_font: bool = True) -> Path:
    """A PDF of `pages` pages, each showing "<label> page n" in Helvetica."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica))
    for number in range(1, pages + 1):
        content = Stream(pdf, b"BT /F1 12 Tf 72 720 Td (%s page %d) Tj ET" % (label.encode(), number))
        page = Dictionary(Type=Name.Page, Contents=pdf.make_indirect(content))
        if not inherit:
            used = font if shared_font else pdf.make_indirect(Dictionary(font))
            page.MediaBox = Array([0, 0, 595, 842])
            page.Resources = Dictionary(Font=Dictionary(F1=used))
        pdf.pages.append(pikepdf.Page(page))
    if inherit:  # the media box and resources given once, on the page tree, for every page to inherit
        pdf.Root.Pages.MediaBox = Array([0, 0, 400, 600])
        pdf.Root.Pages.Resources = Dictionary(Font=Dictionary(F1=font))
        for page in pdf.pages:
            for key in ("/MediaBox", "/Resources"):
                if key in page.obj:
                    del page.obj[key]
    pdf.save(path)
    return path


def _identity_part(path: Path) -> Path:
    _part(path, "cover", 1)
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        pdf.Root.Metadata = pdf.make_indirect(Stream(pdf, b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>"))
        pdf.Root.Metadata.Type, pdf.Root.Metadata.Subtype = Name.Metadata, Name.XML
        profile = pdf.make_indirect(Stream(pdf, b"icc profile bytes"))
        pdf.Root.OutputIntents = Array(
            [Dictionary(Type=Name.OutputIntent, S=Name.GTS_PDFA1, DestOutputProfile=profile, Info="sRGB")]
        )
        pdf.Root.Lang = pikepdf.String("en-GB")
        pdf.trailer.Info = pdf.make_indirect(Dictionary(Title=pikepdf.String("Cover"), Producer="test"))
        pdf.save(path, fix_metadata_version=False)
    return path


def _join(target: Path, parts: list[Path], *, bookmarks=(), files=(), identity: bool = False) -> Path:
    total = 0
    for part in parts:
        with pikepdf.open(part) as pdf:
            total += len(pdf.pages)
    with target.open("wb") as out:
        writer = StreamingPdfWriter(out, font=load_font())
        for name, source in files:
            writer.embed_file(
                name, source, "text/plain", f"File {name}", relationship="Source", modified="D:20261201090000Z"
            )
        for number, part in enumerate(parts):
            writer.append(part, footer=lambda n: f"Page {n} of {total}", identity=identity and number == 0)
        writer.finish(bookmarks=list(bookmarks), document_id=b"0123456789abcdef")
    return target


def _texts(path: Path) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(path.read_bytes())).pages]


def test_it_copies_every_page_in_order_and_numbers_each_of_the_whole(tmp_path):
    parts = [
        _part(tmp_path / "a.pdf", "alpha", 2),
        _part(tmp_path / "b.pdf", "beta", 300),
        _part(tmp_path / "c.pdf", "gamma", 1),
    ]
    out = _join(tmp_path / "out.pdf", parts)
    texts = _texts(out)
    assert len(texts) == 303
    expected = [f"alpha page {n}" for n in (1, 2)] + [f"beta page {n}" for n in range(1, 301)] + ["gamma page 1"]
    for number, (text, own) in enumerate(zip(texts, expected, strict=True), start=1):
        assert own in text and f"Page {number} of 303" in text
    with pikepdf.open(out) as pdf:
        assert pdf.check_pdf_syntax() == []
        leaves = list(pdf.Root.Pages.Kids)
        assert len(leaves) == 2 and [len(leaf.Kids) for leaf in leaves] == [pdf_join.PAGES_PER_LEAF, 47]
        assert sum(int(leaf.Count) for leaf in leaves) == int(pdf.Root.Pages.Count) == 303
        assert all(page.obj.Parent.objgen in {leaf.objgen for leaf in leaves} for page in pdf.pages)


def test_attributes_a_page_inherits_from_its_own_page_tree_come_with_it(tmp_path):
    out = _join(tmp_path / "out.pdf", [_part(tmp_path / "a.pdf", "inherited", 2, inherit=True)])
    with pikepdf.open(out) as pdf:
        assert [float(v) for v in pdf.pages[0].obj.MediaBox] == [0, 0, 400, 600]
        assert "/F1" in pdf.pages[1].obj.Resources.Font and "/PortalStamp" in pdf.pages[1].obj.Resources.Font
    assert "inherited page 2" in _texts(out)[1]


def test_what_the_pages_of_a_part_share_is_written_once(tmp_path):
    out = _join(tmp_path / "out.pdf", [_part(tmp_path / "a.pdf", "shared", 20)])
    with pikepdf.open(out) as pdf:
        fonts = [obj for obj in pdf.objects if isinstance(obj, Dictionary) and obj.get("/Type") == Name.Font]
        assert sorted(str(font.get("/BaseFont")) for font in fonts) == ["/Helvetica", "/LiberationSans"]


def test_embedded_files_are_pdf_a_associated_files_in_one_sorted_name_tree(tmp_path):
    native = tmp_path / "native.bin"
    native.write_bytes(bytes(range(256)) * 5000)
    out = _join(
        tmp_path / "out.pdf",
        [_part(tmp_path / "a.pdf", "a", 1)],
        files=[("zeta.txt", b"last"), ("AB_1", native), ("manifest.json", b"{}")],
    )
    with pikepdf.open(out) as pdf:
        attached = {name: spec.get_file().read_bytes() for name, spec in pdf.attachments.items()}
        names = [str(item) for item in pdf.Root.Names.EmbeddedFiles.Names[::2]]
        associated = [str(spec.F) for spec in pdf.Root.AF]
        relationships = {str(spec.F): spec.AFRelationship for spec in pdf.Root.AF}
    assert hashlib.sha256(attached["AB_1"]).digest() == hashlib.sha256(native.read_bytes()).digest()
    assert attached["zeta.txt"] == b"last" and attached["manifest.json"] == b"{}"
    assert names == ["AB_1", "manifest.json", "zeta.txt"]  # byte order, as a name tree must be
    assert sorted(associated) == names and relationships["AB_1"] == Name.Source


def test_the_identity_part_gives_the_document_its_metadata_output_intent_and_information(tmp_path):
    parts = [_identity_part(tmp_path / "cover.pdf"), _part(tmp_path / "body.pdf", "body", 3)]
    out = _join(tmp_path / "out.pdf", parts, identity=True)
    with pikepdf.open(out) as pdf:
        assert pdf.Root.Metadata.read_bytes() == b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>"
        assert pdf.Root.OutputIntents[0].DestOutputProfile.read_bytes() == b"icc profile bytes"
        assert str(pdf.Root.Lang) == "en-GB" and str(pdf.docinfo.Title) == "Cover"
        assert pdf.trailer.ID[0] == pdf.trailer.ID[1] and len(bytes(pdf.trailer.ID[0])) == 16


def test_bookmarks_nest_and_open_their_page_where_the_heading_stands(tmp_path):
    marks = [
        Bookmark("Front", 1, 0),
        Bookmark("Exhibits", 1, 1),
        *[Bookmark(f"AB/{n}", 2, 1 + n, 700.5) for n in range(1, 4)],
        Bookmark("Continuity", 1, 5, 800),
    ]
    out = _join(tmp_path / "out.pdf", [_part(tmp_path / "a.pdf", "a", 6)], bookmarks=marks)
    with pikepdf.open(out) as pdf:
        pages = {page.objgen: n for n, page in enumerate(pdf.pages)}
        assert pdf.Root.PageMode == Name.UseOutlines
        with pdf.open_outline() as outline:
            top = list(outline.root)
            assert [item.title for item in top] == ["Front", "Exhibits", "Continuity"]
            children = top[1].children
            assert [item.title for item in children] == ["AB/1", "AB/2", "AB/3"]
            assert [pages[item.destination[0].objgen] for item in children] == [2, 3, 4]
            assert list(children[0].destination)[1:] == [Name.XYZ, None, 700.5, None]
            assert pages[top[0].destination[0].objgen] == 0 and top[0].destination[1] == Name.Fit


def test_a_bookmark_past_the_last_page_is_refused(tmp_path):
    with pytest.raises(PdfJoinError, match="past the end"):
        _join(tmp_path / "out.pdf", [_part(tmp_path / "a.pdf", "a", 2)], bookmarks=[Bookmark("Nowhere", 1, 2)])


def test_a_part_whose_pages_reach_into_its_own_page_tree_is_refused(tmp_path):
    source = _part(tmp_path / "a.pdf", "a", 1)
    with pikepdf.open(source, allow_overwriting_input=True) as pdf:
        pdf.pages[0].obj.Resources.Odd = pdf.Root.Pages  # nothing of a page should lead back to the tree
        pdf.save(source)
    with pytest.raises(PdfJoinError, match="refer to a /Pages object"):
        _join(tmp_path / "out.pdf", [source])


@pytest.mark.parametrize(
    ("value", "written"),
    [(0.1, b"0.1"), (700.5, b"700.5"), (1e-05, b"0.00001"), (__import__("decimal").Decimal("1E+2"), b"100")],
)
def test_reals_are_written_as_plain_digits(value, written):
    assert pdf_join._real(value) == written
