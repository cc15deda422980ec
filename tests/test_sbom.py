"""The CycloneDX and SPDX SBOMs built from small inventories: valid by the official schema and
validator, one package per component with its purl and evidence, vulnerabilities and VEX, one
image per document."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from packageurl import PackageURL

from inspector.cli.commands import main
from inspector.errors import InspectorError
from inspector.report import cyclonedx, sbom, spdx
from inspector.report.formats import SBOM_FORMATS, render
from inspector.report.model import ImageReport
from tests.conftest import REPO
from tests.sbomcases import (
    COMPONENTS,
    LIBSSL,
    MATCHES,
    NOW,
    OLD_URLLIB3,
    REQUESTS,
    SERIAL,
    VENDORED,
    VENV,
    annotations,
    component,
    cyclonedx_errors,
    loads,
    properties,
    report,
    spdx_errors,
)
from tests.sbomcases import (
    match as match_of,
)


def _cdx(image: ImageReport) -> dict:
    text = cyclonedx.render([image], now=NOW, serial=SERIAL)
    assert cyclonedx_errors(text) is None
    return loads(text)


def _spdx(image: ImageReport) -> dict:
    text = spdx.render([image], now=NOW, serial=SERIAL)
    assert spdx_errors(text) == []
    return loads(text)


def _by_ref(doc: dict) -> dict[str, dict]:
    return {c["bom-ref"]: c for c in doc["components"]}


def test_cyclonedx_is_valid_and_has_one_library_per_component():
    """The CycloneDX 1.6 document passes the official schema, with exactly one library per
    inventory component and the image as a container root."""
    doc = _cdx(report(matches=MATCHES))
    assert doc["specVersion"] == "1.6"
    assert len(doc["components"]) == len(COMPONENTS)
    assert {c["type"] for c in doc["components"]} == {"library"}
    root = doc["metadata"]["component"]
    assert root["type"] == "container"
    assert root["name"] == "registry.example:5000/team/app:1.4"
    assert root["version"] == "sha256:" + "b" * 64


def test_spdx_is_valid_and_the_image_contains_one_library_per_component():
    """The SPDX 2.3 document passes spdx-tools' parser and validator; the document DESCRIBES the
    image and the image CONTAINS exactly one LIBRARY package per inventory component."""
    doc = _spdx(report(matches=MATCHES))
    assert doc["spdxVersion"] == "SPDX-2.3"
    rels = [(r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"])
            for r in doc["relationships"]]  # fmt: skip
    assert ("SPDXRef-DOCUMENT", "DESCRIBES", spdx.IMAGE_ID) in rels
    contained = [r[2] for r in rels if r[:2] == (spdx.IMAGE_ID, "CONTAINS")]
    libraries = [p["SPDXID"] for p in doc["packages"] if p["primaryPackagePurpose"] == "LIBRARY"]
    assert sorted(contained) == sorted(libraries)
    assert len(libraries) == len(COMPONENTS)
    image = next(p for p in doc["packages"] if p["SPDXID"] == spdx.IMAGE_ID)
    assert image["primaryPackagePurpose"] == "CONTAINER"
    assert image["versionInfo"] == "sha256:" + "b" * 64


def test_every_purl_parses_and_is_the_inventorys():
    """Every purl in both documents parses; components carry the inventory's own purl."""
    cdx, doc = _cdx(report()), _spdx(report())
    found = [c["purl"] for c in cdx["components"]]
    found += [cdx["metadata"]["component"]["purl"]]
    found += [a["ancestors"][0]["purl"] for c in cdx["components"] if (a := c.get("pedigree"))]
    found += [r["referenceLocator"] for p in doc["packages"] for r in p["externalRefs"]]
    for purl in found:
        assert PackageURL.from_string(purl).to_string() == purl
    assert sorted(c["purl"] for c in cdx["components"]) == sorted(c["purl"] for c in COMPONENTS)


def test_evidence_is_in_properties_with_layers_numbered_from_one():
    """Kind, path, layer (1 for the base layer), deleted, environment and reachability ride
    along as inspector:* properties (CycloneDX) and NAME=VALUE annotations (SPDX)."""
    cdx = _cdx(report())
    old = next(c for c in cdx["components"] if c["name"] == "urllib3")
    assert properties(old) == {
        "inspector:kind": "dist-info",
        "inspector:path": OLD_URLLIB3["path"],
        "inspector:layer": "2",
        "inspector:deleted": "true",
        "inspector:environment": OLD_URLLIB3["environment"],
        "inspector:reachability": "deleted",
        "inspector:ecosystem": "PyPI",
    }
    assert old["evidence"]["occurrences"] == [{"location": OLD_URLLIB3["path"]}]
    ssl = properties(next(c for c in cdx["components"] if c["name"] == "libssl3"))
    assert ssl["inspector:layer"] == "1"
    assert "inspector:environment" not in ssl  # an OS package sits in no Python environment
    doc = _spdx(report())
    ssl_id = next(p["SPDXID"] for p in doc["packages"] if p["name"] == "libssl3")
    assert annotations(doc, ssl_id)["inspector:reachability"] == "installed"


def test_image_properties_say_how_reachability_was_judged():
    """The root carries the image ID, the OS release, the sys.path used and its source."""
    root = properties(_cdx(report(matches=[]))["metadata"]["component"])
    assert root == {
        "inspector:image-id": "sha256:" + "a" * 64,
        "inspector:os-ecosystem": "Debian:12",
        "inspector:import-path": "/app:/app/.venv/lib/python3.11/site-packages",
        "inspector:import-path-source": "probe",
        "inspector:vulnerabilities": "matched",
        "inspector:vulnerability-database": "2026-12-06T03:00:00Z",
    }


def test_os_packages_keep_their_source_package():
    """A Debian binary package has its source package as CycloneDX pedigree ancestor and is
    GENERATED_FROM one SPDX SOURCE package, shared by every binary built from it."""
    cdx = _cdx(report())
    ssl = next(c for c in cdx["components"] if c["name"] == "libssl3")
    (ancestor,) = ssl["pedigree"]["ancestors"]
    assert (ancestor["name"], ancestor["version"]) == ("openssl", LIBSSL["version"])
    assert ancestor["purl"] == (
        "pkg:deb/debian/openssl@3.0.15-1~deb12u1?arch=source&distro=debian-12"
    )
    assert not any("pedigree" in c for c in cdx["components"] if c["name"] == "requests")
    doc = _spdx(report())
    sources = [p for p in doc["packages"] if p["primaryPackagePurpose"] == "SOURCE"]
    assert [(p["name"], p["versionInfo"]) for p in sources] == [("openssl", LIBSSL["version"])]
    generated = [r for r in doc["relationships"] if r["relationshipType"] == "GENERATED_FROM"]
    assert len(generated) == 2  # libssl3 and openssl, one source
    assert {r["relatedSpdxElement"] for r in generated} == {sources[0]["SPDXID"]}


def test_apk_source_purl_has_no_arch():
    """An Alpine package's origin is its source: same purl type, no `arch=source`."""
    musl = component("musl-utils", "1.2.5-r0", ecosystem="Alpine:v3.20", source="musl",
                     source_version="1.2.5-r0", kind="apk", path="/lib/apk/db/installed",
                     purl="pkg:apk/alpine/musl-utils@1.2.5-r0?arch=x86_64&distro=3.20.3",
                     environment=None, reachability="installed")  # fmt: skip
    part = sbom.installed(report([musl]))[0]
    assert part.source_purl == "pkg:apk/alpine/musl@1.2.5-r0?distro=3.20.3"


def test_vulnerabilities_affect_components_by_bom_ref():
    """Each match is one vulnerability with its id, OSV source, rating, other ids as references,
    the fixed version as recommendation, affecting the component's bom-ref."""
    doc = _cdx(report(matches=MATCHES))
    refs = _by_ref(doc)
    assert len(doc["vulnerabilities"]) == len(MATCHES)
    ssl = next(v for v in doc["vulnerabilities"] if v["id"] == "CVE-2024-5535")
    (target,) = ssl["affects"]
    assert refs[target["ref"]]["name"] == "libssl3"
    assert target["versions"] == [{"version": LIBSSL["version"], "status": "affected"}]
    (rating,) = ssl["ratings"]
    assert (rating["severity"], rating["score"], rating["method"]) == ("critical", 9.1, "CVSSv31")
    assert ssl["recommendation"] == (
        "Upgrade libssl3 (source package openssl) to 3.0.16-1~deb12u1 or later."
    )
    assert ssl["source"]["name"] == "OSV"
    assert {r["id"] for r in ssl["references"]} == {"GHSA-9wx4-h78v-vm56", "PYSEC-2024-1"}
    assert "analysis" not in ssl  # installed: no claim either way


def test_unreachable_matches_carry_a_vex_analysis():
    """A not-importable copy is not_affected because code_not_reachable, a deleted one because
    code_not_present, each with where it is; the importable one has no analysis."""
    doc = _cdx(report(matches=MATCHES))
    by_name = {}
    for vuln in doc["vulnerabilities"]:
        (target,) = vuln["affects"]
        by_name[properties(_by_ref(doc)[target["ref"]])["inspector:kind"], vuln["id"]] = vuln
    importable = by_name["dist-info", "CVE-2024-35195"]
    vendored = by_name["vendored", "CVE-2024-35195"]
    deleted = by_name["dist-info", "CVE-2023-43804"]
    assert "analysis" not in importable
    assert vendored["analysis"]["state"] == "not_affected"
    assert vendored["analysis"]["justification"] == "code_not_reachable"
    assert VENDORED["path"] in vendored["analysis"]["detail"]
    assert deleted["analysis"]["justification"] == "code_not_present"
    assert "layer 2" in deleted["analysis"]["detail"]
    assert deleted["recommendation"] == "No fixed version of urllib3 is known yet."
    assert deleted["ratings"] == [{"method": "other", "severity": "high",
                                   "source": {"name": "OSV"}}]  # fmt: skip


def test_without_matching_there_is_no_vulnerability_section():
    """No vulnerabilities facts: no vulnerabilities array and no claim that none is known."""
    doc = _cdx(report())
    assert "vulnerabilities" not in doc
    assert "inspector:vulnerabilities" not in properties(doc["metadata"]["component"])


def test_same_purl_in_two_places_gets_two_references():
    """requests in the venv and in pip's vendor.txt are two components with distinct bom-refs
    and SPDX ids."""
    cdx = _cdx(report([REQUESTS, VENDORED]))
    assert len({c["bom-ref"] for c in cdx["components"]}) == 2
    twins = [REQUESTS, replace_path(REQUESTS, layer=5)]
    assert len(_cdx(report(twins))["components"]) == 2
    ids = [p["SPDXID"] for p in _spdx(report(twins))["packages"]]
    assert len(ids) == len(set(ids)) == 3


def replace_path(part: dict, **fields) -> dict:
    return {**part, **fields}


def test_output_is_the_same_for_the_same_image_but_for_time_and_serial():
    """Rendering twice gives the same bytes; another clock and serial change only the
    timestamp and serial (CycloneDX) or created dates and namespace (SPDX)."""
    image = report(matches=MATCHES)
    for module in (cyclonedx, spdx):
        first = module.render([image], now=NOW, serial=SERIAL)
        assert module.render([image], now=NOW, serial=SERIAL) == first
        later = module.render([image], now=NOW + timedelta(hours=1), serial=None)
        scrub = re.compile(r"2026-12-07T1[23]:00:00(\+00:00|Z)|[0-9a-f]{8}-[0-9a-f-]{27}")
        assert scrub.sub("X", later) == scrub.sub("X", first)


def test_image_without_inventory_is_an_empty_valid_document():
    """An image audited without an inventory still gets a valid SBOM naming just the image."""
    empty = ImageReport("app:1.4", "sha256:" + "c" * 64, None)
    cdx = _cdx(empty)
    assert "components" not in cdx or cdx["components"] == []
    assert cdx["metadata"]["component"]["purl"] == "pkg:oci/app@sha256:" + "c" * 64 + "?tag=1.4"
    assert [p["SPDXID"] for p in _spdx(empty)["packages"]] == [spdx.IMAGE_ID]


@pytest.mark.parametrize(
    ("reference", "digest", "purl"),
    [
        ("registry.example:5000/team/app:1.4", "registry.example:5000/team/app@sha256:" + "b" * 64,
         "pkg:oci/app@sha256:" + "b" * 64
         + "?arch=amd64&repository_url=registry.example:5000/team/app&tag=1.4"),
        ("registry:127.0.0.1:5000/App@sha256:" + "b" * 64, None,
         "pkg:oci/app@sha256:" + "a" * 64 + "?arch=amd64&repository_url=127.0.0.1:5000/app"),
        ("team/app:1.4", "team/app@sha256:" + "b" * 64,
         "pkg:oci/app@sha256:" + "b" * 64 + "?arch=amd64&tag=1.4"),
        ("docker-archive:/tmp/app.tar", None, "pkg:oci/app@sha256:" + "a" * 64 + "?arch=amd64"),
        ("oci:/tmp/layout", None, "pkg:oci/image@sha256:" + "a" * 64 + "?arch=amd64"),
    ],
)  # fmt: skip
def test_image_purl_is_the_oci_type_with_its_digest(reference, digest, purl):
    """The root's purl is pkg:oci/NAME@DIGEST (the manifest's, else the image ID), with the
    registry as repository_url only when the reference names one, and the tag."""
    tags = ["app:latest"] if reference.startswith("docker-archive:") else []
    image = ImageReport(reference, "sha256:" + "a" * 64, digest,
                        image={"architecture": "amd64", "tags": tags})  # fmt: skip
    assert sbom.image_purl(image) == purl
    assert PackageURL.from_string(purl).to_string() == purl


@pytest.mark.parametrize("fmt", list(SBOM_FORMATS))
def test_one_image_per_document(fmt):
    """Several images, or an image that could not be audited, is a clear error, never a
    document describing the wrong thing."""
    with pytest.raises(InspectorError, match="describes one image, not 2"):
        render(fmt, [report(), report()])
    with pytest.raises(InspectorError, match="no such image"):
        render(fmt, [ImageReport("nope:1", None, None, error="no such image: nope:1")])


def test_image_data_that_is_not_utf8_stays_valid_json():
    """A path with bytes that are not UTF-8 (surrogate-escaped) is escaped, and both documents
    stay valid."""
    odd = component("odd", "1.0", path=f"{VENV}/odd-1.0.dist-info\udcff")
    for text in (cyclonedx.render([report([odd])], now=NOW, serial=SERIAL),
                 spdx.render([report([odd])], now=NOW, serial=SERIAL)):  # fmt: skip
        text.encode("utf-8")
        assert loads(text)
    assert cyclonedx_errors(cyclonedx.render([report([odd])], now=NOW)) is None


def test_docs_list_exactly_the_properties_we_write():
    """docs/sbom.md documents every inspector:* property the builders write, and no other."""
    text = (REPO / "docs" / "sbom.md").read_text()
    documented = set(re.findall(r"^\| `(inspector:[a-z-]+)` \|", text, re.MULTILINE))
    assert documented == set(sbom.COMPONENT_PROPERTIES) | set(sbom.IMAGE_PROPERTIES)
    written = {n for c in _cdx(report(matches=MATCHES))["components"] for n in properties(c)}
    written |= set(properties(_cdx(report(matches=MATCHES))["metadata"]["component"]))
    assert written == documented


def test_report_model_carries_plain_data():
    """The SBOM fields of ImageReport default to None, so every other report is unchanged."""
    plain = ImageReport("app:1", None, None)
    assert (plain.image, plain.inventory, plain.vulnerabilities) == (None, None, None)
    assert replace(plain, inventory={"components": []}).inventory == {"components": []}


@pytest.mark.parametrize("fmt", list(SBOM_FORMATS))
def test_cli_refuses_several_images_on_stdout_before_auditing(fmt, capsys):
    """`--format cyclonedx A B` is a usage error (exit 2) naming the way out, and no image is
    read (the references do not exist)."""
    code = main(["audit", "nope-a:1", "nope-b:1", "--no-config", "--no-probe", "--format", fmt])
    err = capsys.readouterr().err
    assert code == 2
    assert f"-o {fmt}=DIR/" in err
    assert "no such image" not in err


def test_cli_refuses_a_file_for_several_images(tmp_path, capsys):
    """`-o spdx=FILE` with several images, FILE an existing file, is a usage error."""
    existing = tmp_path / "sbom.json"
    existing.write_text("")
    code = main(["audit", "nope-a:1", "nope-b:1", "--no-config", "--no-probe",
                 "-o", f"spdx={existing}"])  # fmt: skip
    assert code == 2
    assert "must be a directory" in capsys.readouterr().err


def test_sbom_file_names_follow_the_reference(tmp_path):
    """One file per image, named after its REF made safe, the second of a shared name -2."""
    from inspector.cli.commands import _sbom_names

    images = [ImageReport(ref, None, None) for ref in ("registry:h:5000/app:1.4", "a/b:c", "a_b_c")]
    names = [p.name for p in _sbom_names(tmp_path, "cyclonedx", images)]
    assert names == ["registry_h_5000_app_1.4.cdx.json", "a_b_c.cdx.json", "a_b_c-2.cdx.json"]


def test_spdx_package_by_package_conversion_is_the_librarys_own():
    """Converting package by package (linear) gives exactly the JSON spdx-tools' converter
    gives for the whole document (which looks annotations up quadratically)."""
    from spdx_tools.spdx.jsonschema.document_converter import DocumentConverter

    doc = spdx.model(report(matches=MATCHES), now=NOW, serial=SERIAL)
    assert spdx.convert(doc) == DocumentConverter().convert(doc)
    assert list(spdx.convert(doc)) == list(DocumentConverter().convert(doc))


def test_unparsable_purl_and_link_do_not_break_the_document():
    """A purl the spec cannot parse and a link that is not a URI (hostile image data) leave the
    component listed without a purl and the vulnerability without a link, still valid."""
    odd = component("odd", "1.0", purl="not a purl")
    bad_link = match_of(odd, "CVE-2026-1", url="http://exa mple/\x00")
    doc = _cdx(report([odd], [bad_link]))
    (item,) = doc["components"]
    assert "purl" not in item
    assert item["name"] == "odd"
    assert "advisories" not in doc["vulnerabilities"][0]
    doc = _spdx(report([odd]))
    (package,) = [p for p in doc["packages"] if p["name"] == "odd"]
    assert "externalRefs" not in package


def _facts(runtime: dict | None = None, vulnerabilities: dict | None = None) -> dict:
    """A facts document's inventory (the venv app, pip's vendored copy, a deleted dist, libssl3)
    with the static import path the layers tell, and optionally probe and matching sections."""
    bare = [{k: v for k, v in c.items() if k != "reachability"} for c in COMPONENTS]
    doc = {"inventory": {"os_ecosystem": "Debian:12", "components": bare,
                         "import_path": ["/app", "/usr/lib/python3/dist-packages"]}}  # fmt: skip
    if runtime is not None:
        doc["runtime"] = runtime
    if vulnerabilities is not None:
        doc["vulnerabilities"] = vulnerabilities
    return doc


def _reach(inventory: dict) -> dict[str, str]:
    return {c["kind"]: c["reachability"] for c in inventory["components"] if c["name"] != "urllib3"}


def test_audit_judges_reachability_by_the_probes_sys_path_when_it_ran():
    """The SBOM's reachability uses the static probe's sys.path over the layers' one, as
    matching does: the venv is importable only by the probe's path."""
    from inspector.audit import judged_inventory

    static = judged_inventory(_facts())
    assert static is not None
    assert static["import_path_source"] == "static"
    assert _reach(static) == {"dpkg": "installed", "dist-info": "not-importable",
                              "vendored": "not-importable"}  # fmt: skip
    probe = {"static": {"status": "ran", "sys_path": ["/app", VENV]}}
    probed = judged_inventory(_facts(runtime=probe))
    assert probed is not None
    assert (probed["import_path"], probed["import_path_source"]) == (["/app", VENV], "probe")
    assert _reach(probed)["dist-info"] == "importable"
    assert _reach(probed)["vendored"] == "not-importable"
    deleted = next(c for c in probed["components"] if c["name"] == "urllib3")
    assert deleted["reachability"] == "deleted"


def test_audit_uses_matchings_import_path_and_no_inventory_is_none():
    """When matching ran, its import path is the one judged by; no inventory gives None."""
    from inspector.audit import judged_inventory

    vulns = {"status": "matched", "import_path": [VENV], "import_path_source": "probe"}
    judged = judged_inventory(_facts(runtime={"static": {"status": "skipped"}},
                                     vulnerabilities=vulns))  # fmt: skip
    assert judged is not None
    assert (judged["import_path"], judged["import_path_source"]) == ([VENV], "probe")
    assert _reach(judged)["dist-info"] == "importable"
    assert judged_inventory({"image": {}}) is None
