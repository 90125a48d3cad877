"""One PDF written in a single pass from many: files embedded first, then every part's pages, then the catalog.

qpdf (through pikepdf) keeps the object table of the whole document until it writes, so joining with it
costs memory in proportion to the bundle: at 3,500 pages the assembling process grew by about 160 MiB.
This writer copies each part's pages and whatever they use straight to the output file, renumbering
references as it goes, and keeps nothing of a part once it is written: memory is one part plus a few
integers a page (each object's file offset and each page's object number), whatever the length.

It also draws a footer line on every page as it copies it (see `evidence.pdf_stamp`), lays the pages
out in a two-level page tree, writes the outline, and lists the embedded files as PDF/A-3 associated
files. The catalog takes its PDF/A identity (XMP metadata, output intent, language, document
information) from the part marked as the identity. Pure PDF work: no Django here, so it is tested alone.

Tagged parts stay tagged. Each part's structure tree is copied with its pages (its elements refer to the
pages' new numbers), its top element becomes a /Part of one /Document, and its marked-content keys
(/StructParents, /StructParent) are moved past the previous parts' so they stay unique; its parent tree is
written as leaves of one number tree. What is kept between parts is one reference a part and one a leaf.
"""

from __future__ import annotations

import shutil
import zlib
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

import pikepdf
from pikepdf import Name, ObjectType

from evidence.pdf_stamp import StampFont, font_dictionaries, footer_content

PAGES_PER_LEAF = 256  # a balanced page tree: readers find page n without walking one huge /Kids array
INHERITABLE = ("/MediaBox", "/CropBox", "/Rotate")  # /Resources is inherited too, and handled with the stamp
STAMP_FONT = b"/PortalStamp"
STRUCT_KEYS = ("/StructParents", "/StructParent")  # keys into the parent tree, moved by each part's offset
NUMS_PER_LEAF = 128
BLOCK = 1024 * 1024


class PdfJoinError(ValueError):
    """A part cannot be joined (its pages refer to something that is not theirs to take)."""


@dataclass
class Bookmark:
    title: str
    level: int  # 1 for a section, 2 for an entry within it, and so on
    page: int  # 0-based, in the whole document
    top: float | None = None  # the heading's height on its page (PDF user space, from the foot); None: whole page


@dataclass
class _Outline:
    bookmark: Bookmark | None
    children: list[_Outline] = field(default_factory=list)
    number: int = 0


_NAMES: dict[str, bytes] = {}


def _name(key: str) -> bytes:
    found = _NAMES.get(key)
    if found is None:
        found = _NAMES[key] = Name(key).unparse()
    return found


def _real(value: Decimal | float | int) -> bytes:
    """A PDF real: plain digits, never an exponent (and a float as written, not its binary expansion)."""
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    return format(number.normalize(), "f").encode("ascii")


def _text(value: str) -> bytes:
    return pikepdf.String(value).unparse()


class _Part:
    """One source PDF while its pages are copied: its object numbers in the output, and the objects
    referenced but not yet written. Forgotten when the part is done."""

    def __init__(self, writer: StreamingPdfWriter, pdf: pikepdf.Pdf, label: str) -> None:
        self.writer, self.pdf, self.label = writer, pdf, label
        self.numbers: dict[tuple[int, int], int] = {}
        self.pages: set[tuple[int, int]] = set()
        self.queue: list[pikepdf.Object] = []
        self.struct_offset: int | None = None  # None: the part is not tagged, its keys are copied as they are
        self.retyped: dict[tuple[int, int], bytes] = {}  # structure elements whose /S changes (top -> /Part)

    def ref(self, obj: pikepdf.Object) -> bytes:
        key = obj.objgen
        number = self.numbers.get(key)
        if number is None:
            number = self.numbers[key] = self.writer.reserve()
            self.queue.append(obj)
        return b"%d 0 R" % number

    def value(self, obj) -> bytes:
        """A value as PDF syntax; indirect objects become references to their output numbers."""
        if isinstance(obj, pikepdf.Object):
            if obj.is_indirect:
                return self.ref(obj)
            kind = obj._type_code
            if kind == ObjectType.dictionary:
                return self.dictionary(obj.items())
            if kind == ObjectType.array:
                return b"[" + b" ".join(self.value(item) for item in obj) + b"]"
            if kind == ObjectType.stream:  # a stream is always indirect in a valid file
                raise PdfJoinError(f"{self.label}: a stream that is not an indirect object")
            return obj.unparse()
        if obj is True:
            return b"true"
        if obj is False:
            return b"false"
        if obj is None:
            return b"null"
        if isinstance(obj, int):
            return b"%d" % obj
        if isinstance(obj, Decimal | float):
            return _real(obj)
        raise PdfJoinError(f"{self.label}: cannot write a {type(obj).__name__}")

    def entry(self, key: str, item) -> bytes:
        if self.struct_offset is not None and key in STRUCT_KEYS:
            return b"%d" % (int(item) + self.struct_offset)
        return self.value(item)

    def dictionary(self, items) -> bytes:
        return b"<<" + b"".join(_name(key) + b" " + self.entry(key, item) for key, item in items) + b">>"

    def drain(self) -> None:
        """Write every object referenced so far (and what they reference in turn)."""
        while self.queue:
            obj = self.queue.pop()
            number = self.numbers[obj.objgen]
            kind = obj._type_code
            if kind == ObjectType.stream:
                entries = [(key, item) for key, item in obj.stream_dict.items() if key != "/Length"]
                self.writer.write_stream(number, self.dictionary(entries)[2:-2], obj.read_raw_bytes())
                continue
            if kind == ObjectType.dictionary:
                kind_name = obj.get("/Type")
                if kind_name in (Name.Pages, Name.Catalog) or (kind_name == Name.Page and obj.objgen not in self.pages):
                    raise PdfJoinError(f"{self.label}: its pages refer to a {kind_name} object of their own file")
                items = obj.items()
                if obj.objgen in self.retyped:
                    kind_s = self.retyped[obj.objgen]
                    items = [(key, item) for key, item in items if key != "/S"]
                    body = b"<</S" + kind_s + self.dictionary(items)[2:]
                else:
                    body = self.dictionary(items)
            elif kind == ObjectType.array:
                body = b"[" + b" ".join(self.value(item) for item in obj) + b"]"
            else:
                body = obj.unparse(resolved=True)
            self.writer.write_object(number, body)


def _inherited(page: pikepdf.Object, key: str):
    node, depth = page, 0
    while node is not None and depth < 64:
        if key in node:
            return node[key]
        node, depth = node.get("/Parent"), depth + 1
    return None


class StreamingPdfWriter:
    """Write a PDF to `out` in one pass. Call `embed_file` for each associated file, `append` for each
    part in page order, then `finish` once."""

    def __init__(self, out: BinaryIO, *, font: StampFont | None = None) -> None:
        self.out = out
        self.font = font
        self.offsets = array("Q", [0])  # the file offset of object n at [n]; 0 means not yet written
        self.page_numbers = array("Q")  # the object number of page i at [i]
        self.leaves = array("Q")  # page-tree leaves, in order
        self.leaf = 0
        self.leaf_kids = array("Q")
        self.pages_root = 0
        self.specs: list[tuple[bytes, int]] = []  # (name, file specification object)
        self.identity: dict[str, bytes] = {}
        self.info = b""
        self._font_ref = b""
        self._save_ref = b""
        self._finished = False
        # The structure tree of the tagged parts: the /Document element their top elements join, the
        # parent tree's leaves (lowest key, highest key, object), and the next free key.
        self.document_element = 0
        self.struct_parts: list[int] = []
        self.parent_leaves: list[tuple[int, int, int]] = []
        self.next_struct_key = 0
        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        self.pages_root = self.reserve()

    # --- objects ---

    def reserve(self) -> int:
        self.offsets.append(0)
        return len(self.offsets) - 1

    def write_object(self, number: int, body: bytes) -> None:
        self.offsets[number] = self.out.tell()
        self.out.write(b"%d 0 obj\n" % number)
        self.out.write(body)
        self.out.write(b"\nendobj\n")

    def write_stream(self, number: int, entries: bytes, data: bytes) -> None:
        """A stream object; `entries` is the dictionary's inside, without /Length."""
        self.offsets[number] = self.out.tell()
        self.out.write(b"%d 0 obj\n<<%s/Length %d>>\nstream\n" % (number, entries, len(data)))
        self.out.write(data)
        self.out.write(b"\nendstream\nendobj\n")

    def _add_object(self, body: bytes) -> int:
        number = self.reserve()
        self.write_object(number, body)
        return number

    def _add_stream(self, entries: bytes, data: bytes) -> int:
        number = self.reserve()
        self.write_stream(number, entries, data)
        return number

    # --- embedded files ---

    def embed_file(
        self, name: str, source: Path | bytes, mime: str, description: str, *, relationship: str, modified: str
    ) -> None:
        """An embedded file stream copied from disk a block at a time, and its file specification
        (PDF/A-3: /AFRelationship, listed in the catalog's /AF and in the name tree)."""
        size = len(source) if isinstance(source, bytes) else source.stat().st_size
        stream = self.reserve()
        self.offsets[stream] = self.out.tell()
        self.out.write(
            b"%d 0 obj\n<</Type/EmbeddedFile/Subtype%s/Length %d/Params<</Size %d/ModDate%s>>>>\nstream\n"
            % (stream, _name("/" + mime), size, size, _text(modified))
        )
        if isinstance(source, bytes):
            self.out.write(source)
        else:
            with source.open("rb") as handle:
                shutil.copyfileobj(handle, self.out, BLOCK)
        self.out.write(b"\nendstream\nendobj\n")
        spec = self._add_object(
            b"<</Type/Filespec/F%s/UF%s/Desc%s/AFRelationship%s/EF<</F %d 0 R/UF %d 0 R>>>>"
            % (_text(name), _text(name), _text(description), _name("/" + relationship), stream, stream)
        )
        self.specs.append((name.encode("utf-8"), spec))

    # --- pages ---

    def _stamp_refs(self) -> tuple[bytes, bytes]:
        if not self._font_ref:
            program = zlib.compress(self.font.program, 6)
            file_number = self._add_stream(b"/Filter/FlateDecode/Length1 %d" % len(self.font.program), program)
            descriptor, font = font_dictionaries(self.font)
            descriptor_number = self._add_object(descriptor % file_number)
            self._font_ref = b"%d 0 R" % self._add_object(font % descriptor_number)
            # Whatever graphics state a page's own content leaves behind is undone before the footer.
            self._save_ref = b"%d 0 R" % self._add_stream(b"", b"q\n")
        return self._font_ref, self._save_ref

    def _next_parent(self) -> int:
        if not self.leaf or len(self.leaf_kids) >= PAGES_PER_LEAF:
            self._close_leaf()
            self.leaf = self.reserve()
        return self.leaf

    def _close_leaf(self) -> None:
        if self.leaf:
            kids = b" ".join(b"%d 0 R" % kid for kid in self.leaf_kids)
            body = b"<</Type/Pages/Parent %d 0 R/Kids[%s]/Count %d>>" % (self.pages_root, kids, len(self.leaf_kids))
            self.write_object(self.leaf, body)
            self.leaves.append(self.leaf)
            self.leaf, self.leaf_kids = 0, array("Q")

    def append(self, path: Path, *, footer: Callable[[int], str] | None = None, identity: bool = False) -> int:
        """Copy every page of the PDF at `path`, drawing `footer(page number in the whole, 1-based)` at the
        foot of each; with `identity`, the document's PDF/A identity comes from this part. Returns the
        number of pages copied."""
        with pikepdf.open(path) as pdf:
            part = _Part(self, pdf, Path(path).name)
            pages = [page.obj for page in pdf.pages]
            for page in pages:
                part.pages.add(page.objgen)
                part.numbers[page.objgen] = self.reserve()
            tree = pdf.Root.get("/StructTreeRoot")
            if tree is not None:
                self._adopt_structure(part, tree)
            for page in pages:
                self._write_page(part, page, footer)
                part.drain()
            if tree is not None:
                self._copy_parent_tree(part, tree)
            if identity:
                self._adopt_identity(part, pdf)
                part.drain()
        return len(pages)

    def _write_page(self, part: _Part, page: pikepdf.Object, footer: Callable[[int], str] | None) -> None:
        number = part.numbers[page.objgen]
        parent = self._next_parent()
        entries = [b"/Type/Page/Parent %d 0 R" % parent]
        for key, item in page.items():
            if key not in ("/Type", "/Parent", "/Contents", "/Resources"):
                entries.append(_name(key) + b" " + part.entry(key, item))
        for key in INHERITABLE:
            if key not in page and (found := _inherited(page, key)) is not None:
                entries.append(_name(key) + b" " + part.value(found))
        resources = _inherited(page, "/Resources")
        contents = page.get("/Contents")
        if footer is None:
            if resources is not None:
                entries.append(b"/Resources " + part.value(resources))
            if contents is not None:
                entries.append(b"/Contents " + part.value(contents))
        else:
            font_ref, save_ref = self._stamp_refs()
            entries.append(b"/Resources " + self._stamped_resources(part, resources, font_ref))
            own = []
            if isinstance(contents, pikepdf.Array):
                own = [part.value(item) for item in contents]
            elif contents is not None:
                own = [part.value(contents)]
            box = [float(v) for v in _inherited(page, "/MediaBox")]
            stamp = self._add_stream(b"", footer_content(self.font, footer(len(self.page_numbers) + 1), box))
            entries.append(b"/Contents[%s]" % b" ".join([save_ref, *own, b"%d 0 R" % stamp]))
        self.write_object(number, b"<<" + b"".join(entries) + b">>")
        self.page_numbers.append(number)
        self.leaf_kids.append(number)

    def _stamped_resources(self, part: _Part, resources, font_ref: bytes) -> bytes:
        """The page's resources as a direct dictionary, its fonts with the footer's added: the page's own
        (perhaps shared) resource dictionary is written unchanged for anything else that uses it."""
        entries, fonts = [], b""
        for key, item in resources.items() if resources is not None else []:
            if key == "/Font":
                fonts = b"".join(_name(name) + b" " + part.value(font) for name, font in item.items())
            else:
                entries.append(_name(key) + b" " + part.value(item))
        entries.append(b"/Font<<%s%s %s>>" % (fonts, STAMP_FONT, font_ref))
        return b"<<" + b"".join(entries) + b">>"

    # --- structure (tags) ---

    def _adopt_structure(self, part: _Part, tree: pikepdf.Object) -> None:
        """Before the part's pages are copied: its tree root stands for the /Document element, so elements
        whose parent was the root now name the Document; its top elements become /Part elements."""
        if not self.document_element:
            self.document_element = self.reserve()
        if not tree.is_indirect:
            raise PdfJoinError(f"{part.label}: its structure tree root is not an indirect object")
        part.numbers[tree.objgen] = self.document_element
        top = tree.get("/K")
        tops = list(top) if isinstance(top, pikepdf.Array) else [top] if top is not None else []
        for element in tops:
            if not element.is_indirect:
                raise PdfJoinError(f"{part.label}: a top structure element is not an indirect object")
            part.retyped[element.objgen] = b"/Part"
            self.struct_parts.append(int(part.ref(element).split()[0]))
        part.struct_offset = self.next_struct_key

    def _copy_parent_tree(self, part: _Part, tree: pikepdf.Object) -> None:
        """The part's parent tree, its keys moved by the part's offset, as leaves of the joined tree."""
        offset = part.struct_offset or 0
        highest = -1
        leaf: list[bytes] = []
        lowest = 0

        def close() -> None:
            if leaf:
                number = self._add_object(b"<</Limits[%d %d]/Nums[%s]>>" % (lowest, highest, b" ".join(leaf)))
                self.parent_leaves.append((lowest, highest, number))
                leaf.clear()

        if "/ParentTree" in tree:
            for key, value in pikepdf.NumberTree(tree.ParentTree).items():
                moved = int(key) + offset
                if not leaf:
                    lowest = moved
                leaf.append(b"%d %s" % (moved, part.value(value)))
                highest = moved
                if len(leaf) >= NUMS_PER_LEAF:
                    close()
            close()
            part.drain()
        next_key = int(tree.get("/ParentTreeNextKey", highest - offset + 1))
        self.next_struct_key = max(self.next_struct_key, offset + next_key, highest + 1)

    def _write_structure(self) -> int | None:
        if not self.struct_parts:
            return None
        root = self.reserve()
        kids = b" ".join(b"%d 0 R" % number for number in self.struct_parts)
        self.write_object(self.document_element, b"<</Type/StructElem/S/Document/P %d 0 R/K[%s]>>" % (root, kids))
        leaves = b" ".join(b"%d 0 R" % number for _low, _high, number in self.parent_leaves)
        parent_tree = self._add_object(b"<</Kids[%s]>>" % leaves)
        self.write_object(
            root,
            b"<</Type/StructTreeRoot/K %d 0 R/ParentTree %d 0 R/ParentTreeNextKey %d>>"
            % (self.document_element, parent_tree, self.next_struct_key),
        )
        return root

    def _adopt_identity(self, part: _Part, pdf: pikepdf.Pdf) -> None:
        for key in ("/Metadata", "/OutputIntents", "/Lang", "/MarkInfo"):
            if key in pdf.Root:
                self.identity[key] = part.value(pdf.Root[key])
        if "/Info" in pdf.trailer:
            self.info = part.value(pdf.trailer.Info)

    @property
    def page_count(self) -> int:
        return len(self.page_numbers)

    # --- the end ---

    def _write_outline(self, bookmarks: list[Bookmark]) -> int | None:
        if not bookmarks:
            return None
        root = _Outline(None)
        stack: list[tuple[int, _Outline]] = [(0, root)]
        for bookmark in bookmarks:
            if not 0 <= bookmark.page < self.page_count:
                raise PdfJoinError(f"the bookmark {bookmark.title!r} points at page {bookmark.page + 1}, past the end")
            while stack[-1][0] >= bookmark.level:
                stack.pop()
            node = _Outline(bookmark)
            stack[-1][1].children.append(node)
            stack.append((bookmark.level, node))

        def number(node: _Outline) -> None:
            for child in node.children:
                child.number = self.reserve()
                number(child)

        root.number = self.reserve()
        number(root)

        def visible(node: _Outline) -> int:
            return sum(1 + (visible(child) if _is_open(child) else 0) for child in node.children)

        def write(node: _Outline, parent: int) -> None:
            for index, child in enumerate(node.children):
                mark = child.bookmark
                page = self.page_numbers[mark.page]
                if mark.top is None:
                    destination = b"[%d 0 R/Fit]" % page
                else:
                    destination = b"[%d 0 R/XYZ null %s null]" % (page, _real(round(mark.top, 2)))
                entries = [b"/Title", _text(mark.title), b"/Parent %d 0 R/Dest%s" % (parent, destination)]
                if index:
                    entries.append(b"/Prev %d 0 R" % node.children[index - 1].number)
                if index + 1 < len(node.children):
                    entries.append(b"/Next %d 0 R" % node.children[index + 1].number)
                if child.children:
                    count = visible(child)
                    entries.append(
                        b"/First %d 0 R/Last %d 0 R/Count %d"
                        % (child.children[0].number, child.children[-1].number, count if _is_open(child) else -count)
                    )
                self.write_object(child.number, b"<<" + b"".join(entries) + b">>")
                write(child, child.number)

        write(root, root.number)
        self.write_object(
            root.number,
            b"<</Type/Outlines/First %d 0 R/Last %d 0 R/Count %d>>"
            % (root.children[0].number, root.children[-1].number, visible(root)),
        )
        return root.number

    def finish(self, *, bookmarks: list[Bookmark], document_id: bytes) -> None:
        """Write the page tree, outline, name tree and catalog, then the cross-reference table."""
        if self._finished:
            raise PdfJoinError("the document is already finished")
        if not self.page_count:
            raise PdfJoinError("a PDF needs at least one page")
        self._close_leaf()
        kids = b" ".join(b"%d 0 R" % leaf for leaf in self.leaves)
        self.write_object(self.pages_root, b"<</Type/Pages/Kids[%s]/Count %d>>" % (kids, self.page_count))
        catalog = [b"/Type/Catalog/Pages %d 0 R" % self.pages_root]
        outline = self._write_outline(bookmarks)
        if outline is not None:
            catalog.append(b"/Outlines %d 0 R/PageMode/UseOutlines" % outline)
        if self.specs:
            # One flat, sorted /Names array rather than a tree of /Kids: valid at any length, and read by
            # every reader (some do not follow nested /Kids).
            names = b"".join(_text(name.decode("utf-8")) + b" %d 0 R" % spec for name, spec in sorted(self.specs))
            tree = self._add_object(b"<</Names[%s]>>" % names)
            catalog.append(b"/Names<</EmbeddedFiles %d 0 R>>" % tree)
            catalog.append(b"/AF[%s]" % b" ".join(b"%d 0 R" % spec for _name_, spec in self.specs))
        structure = self._write_structure()
        if structure is not None:
            catalog.append(b"/StructTreeRoot %d 0 R/ViewerPreferences<</DisplayDocTitle true>>" % structure)
            if "/MarkInfo" not in self.identity:
                catalog.append(b"/MarkInfo<</Marked true>>")
        for key, value in self.identity.items():
            if key == "/MarkInfo" and structure is None:
                continue  # the identity part was tagged but the whole is not: do not claim it is
            catalog.append(_name(key) + b" " + value)
        root = self._add_object(b"<<" + b"".join(catalog) + b">>")
        missing = [number for number in range(1, len(self.offsets)) if not self.offsets[number]]
        if missing:
            raise PdfJoinError(f"objects reserved but never written: {missing[:10]}")
        xref = self.out.tell()
        self.out.write(b"xref\n0 %d\n0000000000 65535 f \n" % len(self.offsets))
        for offset in self.offsets[1:]:
            self.out.write(b"%010d 00000 n \n" % offset)
        identifier = document_id.hex().encode("ascii")
        trailer = b"/Size %d/Root %d 0 R/ID[<%s><%s>]" % (len(self.offsets), root, identifier, identifier)
        if self.info:
            trailer += b"/Info " + self.info
        self.out.write(b"trailer\n<<%s>>\nstartxref\n%d\n%%%%EOF\n" % (trailer, xref))
        self.out.flush()
        self._finished = True


OPEN_BELOW = 30  # a section with more entries than this starts closed in the reader's bookmark panel


def _is_open(node: _Outline) -> bool:
    return len(node.children) <= OPEN_BELOW
