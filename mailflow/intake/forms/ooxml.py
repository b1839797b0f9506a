"""Check an Office Open XML package (xlsx, docx) before a library parses it.

openpyxl 3.1 parses through defusedxml only while defusedxml is importable and the
environment variable OPENPYXL_DEFUSEDXML is not "False". python-docx 1.2 parses with
lxml (``resolve_entities=False``), which does not expand entities but still reads a
DTD. OOXML parts never need a DTD, so every XML part is first parsed here with
defusedxml, which rejects DTDs, entity declarations and external references. The
declared part sizes are checked first against :class:`~mailflow.intake.limits.Limits`,
so that a zip bomb is never inflated by the library.
"""

from __future__ import annotations

import io
import logging
import zipfile
from dataclasses import dataclass
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from mailflow.intake.forms.grid import DAMAGED, UNSAFE_XML, Extraction
from mailflow.intake.limits import DEFAULT_LIMITS, LimitExceeded, Limits, check_zip_members

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PackageProblem:
    """Why a package must not be parsed: a limit it passes, or an ``open_error`` with its reason.

    ``open_error`` is :data:`~mailflow.intake.forms.grid.DAMAGED` or
    :data:`~mailflow.intake.forms.grid.UNSAFE_XML`; ``reason`` is an English defect.
    """

    reason: str
    open_error: str | None = None
    exceeded: LimitExceeded | None = None

    def as_extraction(self) -> Extraction:
        """Return the reader's result for a package that was not parsed."""
        return Extraction(defects=[self.reason], open_error=self.open_error, exceeded=self.exceeded)


def check_package(payload: bytes, limits: Limits = DEFAULT_LIMITS) -> PackageProblem | None:
    """Return why this package must not be parsed, or None when it is safe to hand to the library.

    Never raises: a damaged zip, a part over a size limit and a part with a DTD or an
    entity declaration each become one problem naming the part.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(payload))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return PackageProblem(f"not a readable zip package: {exc}", open_error=DAMAGED)
    with archive:
        infos = archive.infolist()
        exceeded = check_zip_members(infos, limits)
        if exceeded is not None:
            return PackageProblem(exceeded.describe(), exceeded=exceeded)
        for info in infos:
            if info.flag_bits & 0x1:
                return PackageProblem(f"part {info.filename} is encrypted", open_error=DAMAGED)
            if info.filename.endswith((".xml", ".rels")):
                problem = _xml_problem(archive, info, limits)
                if problem:
                    return problem
    return None


def _xml_problem(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits) -> PackageProblem | None:
    try:
        with archive.open(info) as member:
            data = member.read(limits.max_member_bytes + 1)
        fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        logger.warning("OOXML part rejected by defusedxml: %s", type(exc).__name__)
        return PackageProblem(f"part {info.filename} declares a DTD or entities ({type(exc).__name__}); not parsed",
                              open_error=UNSAFE_XML)
    except ParseError as exc:
        return PackageProblem(f"part {info.filename} is not well-formed XML: {exc}", open_error=DAMAGED)
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError, EOFError) as exc:
        return PackageProblem(f"part {info.filename} cannot be unpacked: {exc}", open_error=DAMAGED)
    return None
