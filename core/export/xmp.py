"""Reading and changing keyword lists in an XMP packet without losing anything else.

The packet is parsed with lxml, which keeps every namespace prefix, property,
comment and order as it was; only the lists asked for change. Keywords go in
dc:subject (an unordered ``rdf:Bag``, as the XMP specification has it),
hierarchical keywords in lr:hierarchicalSubject (``a|b|c``, Lightroom) and
digiKam:TagsList (``a/b/c``, an ``rdf:Seq`` as digiKam writes it).
What PhotoTagger itself wrote is kept in ``phototagger:Written``, a bag in
PhotoTagger's own namespace, so that later exports can tell the person's
keywords (never removed) from PhotoTagger's (removed once rejected).
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from core.errors import PhotoTaggerError

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
X = "adobe:ns:meta/"
NS = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "digiKam": "http://www.digikam.org/ns/1.0/",
    "phototagger": "http://ns.phototagger.org/xmp/1.0/",
}
# (prefix, property, container) of every list PhotoTagger reads or writes.
SUBJECT = ("dc", "subject", "Bag")
HIERARCHY = ("lr", "hierarchicalSubject", "Bag")
TAGS_LIST = ("digiKam", "TagsList", "Seq")
WRITTEN = ("phototagger", "Written", "Bag")
PACKET_START = b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
PACKET_END = b'\n<?xpacket end="w"?>'
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, remove_blank_text=False, huge_tree=False
)

Property = tuple[str, str, str]


class XmpError(PhotoTaggerError):
    """An XMP packet that cannot be read."""


def parse_xmp(data: bytes | None) -> etree._Element:
    """The packet's ``x:xmpmeta`` element; a new empty one for ``None``.

    Raises:
        XmpError: If the packet is not well-formed XML or holds no rdf:RDF.
    """
    if not data or not data.strip(b"\x00 \t\r\n"):
        return _empty()
    try:
        root = etree.fromstring(data.rstrip(b"\x00 \t\r\n"), _PARSER)
    except etree.XMLSyntaxError as exc:
        raise XmpError(f"unreadable XMP: {exc}") from exc
    if root.tag == f"{{{RDF}}}RDF":  # a bare rdf:RDF, as some writers leave it
        meta = etree.Element(f"{{{X}}}xmpmeta", nsmap={"x": X})
        meta.append(root)
        root = meta
    if root.find(f"{{{RDF}}}RDF") is None:
        raise XmpError("unreadable XMP: no rdf:RDF in it")
    return root


def _empty() -> etree._Element:
    meta = etree.Element(f"{{{X}}}xmpmeta", nsmap={"x": X})
    meta.set(f"{{{X}}}xmptk", "PhotoTagger")
    etree.SubElement(meta, f"{{{RDF}}}RDF", nsmap={"rdf": RDF})
    return meta


def _descriptions(root: etree._Element) -> list[etree._Element]:
    return root.findall(f"{{{RDF}}}RDF/{{{RDF}}}Description")


def _qname(prop: Property) -> str:
    return f"{{{NS[prop[0]]}}}{prop[1]}"


def get_list(root: etree._Element, prop: Property) -> list[str]:
    """The values of a list property (any container), or of a simple one as one value."""
    name = _qname(prop)
    for desc in _descriptions(root):
        if name in desc.attrib:
            return [desc.attrib[name]]
        element = desc.find(name)
        if element is not None:
            items = element.findall(f"{{{RDF}}}*/{{{RDF}}}li")
            if items or len(element):
                return [li.text or "" for li in items]
            return [element.text] if element.text and element.text.strip() else []
    return []


def set_list(root: etree._Element, prop: Property, values: list[str]) -> None:
    """Make ``prop`` hold exactly ``values`` (removed when empty), other properties untouched."""
    name = _qname(prop)
    container = f"{{{RDF}}}{prop[2]}"
    for desc in _descriptions(root):
        if name in desc.attrib:
            del desc.attrib[name]
            if values:
                _fill(etree.SubElement(desc, name), container, values)
            return
        element = desc.find(name)
        if element is not None:
            if not values:
                desc.remove(element)
                return
            tail = element.tail
            for child in list(element):
                element.remove(child)
            element.text = None
            element.attrib.clear()
            _fill(element, container, values)
            element.tail = tail
            return
    if values:
        _fill(etree.SubElement(_own_description(root), name), container, values)


def _fill(element: etree._Element, container: str, values: list[str]) -> None:
    box = etree.SubElement(element, container)
    for value in values:
        etree.SubElement(box, f"{{{RDF}}}li").text = value


def _own_description(root: etree._Element) -> etree._Element:
    """An rdf:Description declaring PhotoTagger's namespaces, made once per packet."""
    for desc in _descriptions(root):
        if all(desc.nsmap.get(p) == u for p, u in NS.items()):
            return desc
    rdf = root.find(f"{{{RDF}}}RDF")
    desc = etree.SubElement(rdf, f"{{{RDF}}}Description", nsmap=dict(NS))
    desc.set(f"{{{RDF}}}about", "")
    return desc


def xmp_bytes(root: etree._Element, *, padding: int = 0, indent: bool = False) -> bytes:
    """The packet as UTF-8 with its xpacket wrapper.

    Args:
        root: The ``x:xmpmeta`` element.
        padding: About this many spaces, which let other editors grow the packet in place.
        indent: Lay the packet out one element a line (for a packet made anew).
    """
    if indent:
        etree.indent(root, space=" ")
    body = etree.tostring(root, encoding="utf-8")
    pad = b"" if not padding else b"\n" + (b" " * 99 + b"\n") * (padding // 100)
    return PACKET_START + body + pad + PACKET_END


# -- face regions (Metadata Working Group, as digiKam and Lightroom read them) -----------

MWG_RS = "http://www.metadataworkinggroup.com/schemas/regions/"
ST_DIM = "http://ns.adobe.com/xap/1.0/sType/Dimensions#"
ST_AREA = "http://ns.adobe.com/xmp/sType/Area#"
_REGION_NS = {"mwg-rs": MWG_RS, "stDim": ST_DIM, "stArea": ST_AREA}
_OURS = f"{{{NS['phototagger']}}}Region"
"""Set on each region PhotoTagger wrote, so a later export replaces its own and no other."""


@dataclass(frozen=True)
class FaceRegion:
    """A named face as an MWG region: centre and size as fractions of the photo.

    Attributes:
        ours: Written by PhotoTagger (read back from the file).
    """

    name: str
    x: float
    y: float
    w: float
    h: float
    ours: bool = False

    @classmethod
    def from_box(cls, name: str, box: tuple[float, float, float, float]) -> FaceRegion:
        left, top, right, bottom = box
        return cls(
            name,
            round((left + right) / 2, 6),
            round((top + bottom) / 2, 6),
            round(right - left, 6),
            round(bottom - top, 6),
        )


def _regions_element(root: etree._Element) -> tuple[etree._Element | None, etree._Element | None]:
    """(mwg-rs:Regions, its rdf:Description) wherever the packet holds it."""
    name = f"{{{MWG_RS}}}Regions"
    for desc in _descriptions(root):
        element = desc.find(name)
        if element is not None:
            return element, desc
    return None, None


def _region_items(regions: etree._Element) -> list[etree._Element]:
    """The rdf:li of mwg-rs:RegionList, in either of the ways packets nest it."""
    return regions.findall(f".//{{{MWG_RS}}}RegionList/{{{RDF}}}Bag/{{{RDF}}}li")


def _value(element: etree._Element, qname: str) -> str | None:
    """A property given as an attribute or as a child element (both are valid RDF)."""
    if qname in element.attrib:
        return element.attrib[qname]
    child = element.find(qname)
    return child.text if child is not None else None


def _item_fields(li: etree._Element) -> etree._Element:
    desc = li.find(f"{{{RDF}}}Description")
    return desc if desc is not None else li


def get_regions(root: etree._Element) -> list[FaceRegion]:
    """The packet's face regions (MWG ``Type="Face"``) with a name."""
    regions, _ = _regions_element(root)
    if regions is None:
        return []
    out = []
    for li in _region_items(regions):
        fields = _item_fields(li)
        kind = _value(fields, f"{{{MWG_RS}}}Type")
        name = _value(fields, f"{{{MWG_RS}}}Name")
        area = fields.find(f"{{{MWG_RS}}}Area")
        if kind != "Face" or not name or area is None:
            continue
        try:
            x, y, w, h = (float(_value(area, f"{{{ST_AREA}}}{k}") or "nan") for k in "xywh")
        except ValueError:
            continue
        out.append(FaceRegion(name, x, y, w, h, ours=fields.get(_OURS) == "True"))
    return out


def set_regions(
    root: etree._Element, regions: list[FaceRegion], *, size: tuple[int, int] | None
) -> bool:
    """Make PhotoTagger's face regions ``regions``; every region of others stays.

    Regions PhotoTagger wrote before are replaced; a wanted region whose name the
    file already gives to a region of someone else's is left to theirs.

    Args:
        root: The packet.
        regions: The named faces wanted.
        size: The photo's width and height in pixels, for mwg-rs:AppliedToDimensions
            (written only with a new Regions structure).

    Returns:
        Whether the packet changed.
    """
    element, _ = _regions_element(root)
    items = _region_items(element) if element is not None else []
    theirs = {
        (_value(_item_fields(li), f"{{{MWG_RS}}}Name") or "").casefold()
        for li in items
        if _item_fields(li).get(_OURS) != "True"
    }
    wanted = [r for r in regions if r.name.casefold() not in theirs]
    present = [r for r in get_regions(root) if r.ours]
    if sorted(_key(r) for r in present) == sorted(_key(r) for r in wanted):
        return False
    for li in items:
        if _item_fields(li).get(_OURS) == "True":
            li.getparent().remove(li)
    if not wanted:
        if element is not None and not _region_items(element):
            element.getparent().remove(element)
        return True
    if element is None:
        desc = _own_description(root)
        element = etree.SubElement(desc, f"{{{MWG_RS}}}Regions", nsmap=_REGION_NS)
        element.set(f"{{{RDF}}}parseType", "Resource")
        if size is not None:
            dims = etree.SubElement(element, f"{{{MWG_RS}}}AppliedToDimensions")
            dims.set(f"{{{ST_DIM}}}w", str(size[0]))
            dims.set(f"{{{ST_DIM}}}h", str(size[1]))
            dims.set(f"{{{ST_DIM}}}unit", "pixel")
    bag = element.find(f"{{{MWG_RS}}}RegionList/{{{RDF}}}Bag")
    if bag is None:
        listing = element.find(f"{{{MWG_RS}}}RegionList")
        if listing is None:
            listing = etree.SubElement(element, f"{{{MWG_RS}}}RegionList")
        bag = etree.SubElement(listing, f"{{{RDF}}}Bag")
    for region in wanted:
        li = etree.SubElement(bag, f"{{{RDF}}}li")
        fields = etree.SubElement(li, f"{{{RDF}}}Description")
        fields.set(f"{{{MWG_RS}}}Name", region.name)
        fields.set(f"{{{MWG_RS}}}Type", "Face")
        fields.set(_OURS, "True")
        area = etree.SubElement(fields, f"{{{MWG_RS}}}Area")
        for k in "xywh":
            area.set(f"{{{ST_AREA}}}{k}", f"{getattr(region, k):.6f}")
        area.set(f"{{{ST_AREA}}}unit", "normalized")
    return True


def _key(region: FaceRegion) -> tuple:
    return (
        region.name,
        round(region.x, 4),
        round(region.y, 4),
        round(region.w, 4),
        round(region.h, 4),
    )
