"""Check an Office Open XML package (xlsx, docx) before a library parses it.

openpyxl 3.1 parses through defusedxml only while defusedxml is importable and the
environment variable OPENPYXL_DEFUSEDXML is not "False". python-docx 1.2 parses with
lxml (``resolve_entities=False``), which does not expand entities but still reads a
DTD. OOXML parts never need a DTD, so every XML part is first parsed here with
defusedxml, which rejects DTDs, entity declarations and external references, and the
package sizes are checked so that a zip bomb is never inflated by the library.
"""

from __future__ import annotations

import io
import logging
import zipfile
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

logger = logging.getLogger(__name__)

# The sample Form 1 workbooks are about 8 KB zipped and 38 KB unzipped, and the Word form
# unpacks to 850 KB. These limits leave room for embedded pictures but stop a zip bomb.
MAX_MEMBERS = 2000
MAX_PART_BYTES = 64 * 1024 * 1024
MAX_TOTAL_BYTES = 256 * 1024 * 1024
# Worksheet XML of repeated empty styled rows compresses about 100:1; a bomb is far beyond.
MAX_RATIO = 500
_RATIO_CHECK_FROM_BYTES = 1024 * 1024


def check_package(payload: bytes) -> list[str]:
    """Return the reasons this package must not be parsed; an empty list means it is safe.

    Never raises: a damaged zip, a part over a size limit and a part with a DTD or an
    entity declaration each become one reason naming the part.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(payload))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return [f"not a readable zip package: {exc}"]
    with archive:
        infos = archive.infolist()
        problems = _size_problems(infos)
        if problems:
            return problems
        for info in infos:
            if info.filename.endswith((".xml", ".rels")):
                problem = _xml_problem(archive, info)
                if problem:
                    return [problem]
    return []


def _size_problems(infos: list[zipfile.ZipInfo]) -> list[str]:
    if len(infos) > MAX_MEMBERS:
        return [f"package has {len(infos)} parts, more than the limit of {MAX_MEMBERS}"]
    total = sum(info.file_size for info in infos)
    if total > MAX_TOTAL_BYTES:
        return [f"package unpacks to {total} bytes, more than the limit of {MAX_TOTAL_BYTES}"]
    for info in infos:
        if info.file_size > MAX_PART_BYTES:
            return [f"part {info.filename} unpacks to {info.file_size} bytes, over the limit"]
        ratio_matters = info.file_size > _RATIO_CHECK_FROM_BYTES and info.compress_size
        if ratio_matters and info.file_size / info.compress_size > MAX_RATIO:
            return [f"part {info.filename} has a compression ratio over {MAX_RATIO}"]
        if info.flag_bits & 0x1:
            return [f"part {info.filename} is encrypted"]
    return []


def _xml_problem(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str | None:
    try:
        with archive.open(info) as member:
            data = member.read(MAX_PART_BYTES + 1)
        fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        logger.warning("OOXML part rejected by defusedxml: %s", type(exc).__name__)
        return f"part {info.filename} declares a DTD or entities ({type(exc).__name__}); not parsed"
    except ParseError as exc:
        return f"part {info.filename} is not well-formed XML: {exc}"
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError, EOFError) as exc:
        return f"part {info.filename} cannot be unpacked: {exc}"
    return None
