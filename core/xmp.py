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
