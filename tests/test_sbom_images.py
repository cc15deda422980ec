"""SBOMs of real fixture images through the CLI: valid by the official CycloneDX schema and the
SPDX validator, exactly one package per inventory component, every purl parsing, our evidence in
the properties; one document per image in a directory."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from packageurl import PackageURL

from inspector.advisories.match import match
from inspector.advisories.model import Advisory, Affected, Range
from inspector.analysers.inventory import Component
from inspector.audit import judged_inventory
from inspector.cli.commands import main
from inspector.facts.collect import collect
from inspector.report import cyclonedx
from inspector.report.model import ImageReport
from tests.conftest import fixture_image
from tests.sbomcases import annotations, cyclonedx_errors, properties, spdx_errors

GOOD = fixture_image("good")
NAIVE = fixture_image("naive")
# One cheap check: the audit's facts (and so the inventory) are collected whatever is selected.
AUDIT = ["audit", "--no-probe", "--no-config", "--exit-zero", "--select", "META001"]


def _inventory(reference: str) -> list[dict]:
    """The facts' inventory of the image, as `inspector facts` collects it."""
    doc = collect(reference, probe=None).to_json()
    return list(doc["inventory"]["components"])


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """good and naive audited once, both SBOM formats written into one directory."""
    out = tmp_path_factory.mktemp("sboms")
    code = main([*AUDIT, GOOD, NAIVE, "-o", f"cyclonedx={out}", "-o", f"spdx={out}/"])
    assert code == 0
    return out


@pytest.mark.docker
def test_one_document_per_image_named_after_its_reference(written):
    """Two images into a directory give four files: each image's CycloneDX and SPDX."""
    assert sorted(p.name for p in written.iterdir()) == [
        "inspector-fixture_good_test.cdx.json",
        "inspector-fixture_good_test.spdx.json",
        "inspector-fixture_naive_test.cdx.json",
        "inspector-fixture_naive_test.spdx.json",
    ]


@pytest.mark.docker
def test_real_cyclonedx_is_valid_and_complete(written):
    """good's CycloneDX passes the official 1.6 schema and lists exactly the inventory's
    components, OS packages and Python distributions, each purl parsing, with its evidence."""
    text = (written / "inspector-fixture_good_test.cdx.json").read_text()
    assert cyclonedx_errors(text) is None
    doc = json.loads(text)
    inventory = _inventory(GOOD)
    assert len(doc["components"]) == len(inventory)
    assert sorted(c["purl"] for c in doc["components"]) == sorted(c["purl"] for c in inventory)
    kinds = {properties(c)["inspector:kind"] for c in doc["components"]}
    assert "dpkg" in kinds
    assert {"dist-info", "egg-info"} & kinds
    for item in doc["components"]:
        assert PackageURL.from_string(item["purl"]).to_string() == item["purl"]
        said = properties(item)
        assert {"inspector:path", "inspector:layer", "inspector:kind", "inspector:deleted",
                "inspector:reachability"} <= set(said)  # fmt: skip
        assert int(said["inspector:layer"]) >= 1
    root = doc["metadata"]["component"]
    assert root["name"] == GOOD
    assert root["purl"].startswith("pkg:oci/good@sha256:")
    debs = [c for c in doc["components"] if c["purl"].startswith("pkg:deb/")]
    assert all(c["pedigree"]["ancestors"][0]["purl"].startswith("pkg:deb/") for c in debs)


@pytest.mark.docker
def test_real_spdx_is_valid_and_complete(written):
    """good's SPDX passes spdx-tools' validator; the image CONTAINS exactly the inventory's
    components, each with its purl as a PACKAGE-MANAGER reference and its evidence annotated."""
    text = (written / "inspector-fixture_good_test.spdx.json").read_text()
    assert spdx_errors(text) == []
    doc = json.loads(text)
    contained = [r["relatedSpdxElement"] for r in doc["relationships"]
                 if r["relationshipType"] == "CONTAINS"]  # fmt: skip
    assert len(contained) == len(_inventory(GOOD))
    for spdx_id in contained:
        package = next(p for p in doc["packages"] if p["SPDXID"] == spdx_id)
        (ref,) = package["externalRefs"]
        assert ref["referenceCategory"] in ("PACKAGE-MANAGER", "PACKAGE_MANAGER")
        assert ref["referenceType"] == "purl"
        PackageURL.from_string(ref["referenceLocator"])
        assert "inspector:reachability" in annotations(doc, spdx_id)


@pytest.mark.docker
def test_stdout_sbom_of_one_image(capsys):
    """`--format spdx` prints the one image's document on stdout, nothing else."""
    assert main([*AUDIT, GOOD, "--format", "spdx"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["name"] == GOOD


@pytest.mark.docker
def test_unauditable_image_gets_no_document(tmp_path, capsys):
    """An image that cannot be read writes no SBOM, exits 2 and says why; the other image's
    document is still written."""
    code = main([*AUDIT, GOOD, "inspector-fixture/no-such:test", "-o", f"cyclonedx={tmp_path}"])
    assert code == 2
    assert [p.name for p in tmp_path.iterdir()] == ["inspector-fixture_good_test.cdx.json"]
    assert "no-such" in capsys.readouterr().err


@pytest.mark.docker
def test_reachability_of_a_layout_with_every_kind_of_copy(tmp_path):
    """vu-layout, probed: the venv's requests is importable, pip's vendored copies and the
    system site's PyJWT are not, the uninstalled mistune is deleted, OS packages installed; the
    image says the probe's sys.path decided."""
    out = tmp_path / "vu.cdx.json"
    # Every check: the probes run only when a selected check needs them.
    code = main(["audit", "--no-config", "--exit-zero", "--warmup", "0.5", "--grace", "2",
                 fixture_image("vu-layout"), "-o", f"cyclonedx={out}"])  # fmt: skip
    assert code == 0
    text = out.read_text()
    assert cyclonedx_errors(text) is None
    doc = json.loads(text)
    assert properties(doc["metadata"]["component"])["inspector:import-path-source"] == "probe"
    reach = {}
    for item in doc["components"]:
        said = properties(item)
        reach.setdefault((item["purl"].split("@")[0], said["inspector:kind"]), set()).add(
            said["inspector:reachability"]
        )
    assert reach["pkg:pypi/requests", "dist-info"] == {"importable"}
    assert reach["pkg:pypi/requests", "vendored"] == {"not-importable"}
    assert reach["pkg:pypi/pyjwt", "dist-info"] == {"not-importable"}
    assert reach["pkg:pypi/mistune", "dist-info"] == {"deleted"}
    assert all(r == {"installed"} for (_, kind), r in reach.items() if kind == "dpkg")
    assert len(doc["components"]) == len(_inventory(fixture_image("vu-layout")))


class _Advisories:
    """An advisory store of one record the test writes: requests before 2.35.0, which reaches
    the venv's requests 2.25.1 and the 2.34.2 pip 26.3 vendors (Debian's own pip is matched as
    its dpkg package, not here)."""

    RECORD = Advisory(
        id="GHSA-9wx4-h78v-vm56",
        modified="2024-05-20T20:15:00Z",
        published="2024-05-20T20:15:00Z",
        withdrawn=None,
        aliases=("CVE-2024-35195",),
        summary="Requests Session object does not verify requests after making first request "
        "with verify=False",
        severity=(("CVSS_V3", "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:H/I:H/A:N"),),
        rating="MODERATE",
        url="https://advisories.example/GHSA-9wx4-h78v-vm56",
        affected=(
            Affected("PyPI", "requests", (Range("ECOSYSTEM", (("introduced", "0"),
                                                              ("fixed", "2.35.0"))),), ()),
        ),
    )  # fmt: skip

    def advisories(self, keys):
        return {key: (self.RECORD,) for key in keys if key == ("PyPI", "requests")}


@pytest.mark.docker
def test_real_matches_become_cyclonedx_vulnerabilities_with_vex():
    """vu-layout's real inventory matched by the real matcher: the venv's requests 2.25.1 is an
    affected vulnerability with no analysis, the venv pip's vendored requests 2.34.2 (vendor.txt
    and its SBOM) is not_affected (code_not_reachable); the document passes the official schema."""
    doc = collect(fixture_image("vu-layout"), probe=None).to_json()
    inventory = judged_inventory(doc)
    assert inventory is not None
    fields = {f.name for f in dataclasses.fields(Component)}
    pairs = [(Component(**{k: c[k] for k in fields}), c["reachability"])
             for c in inventory["components"]]  # fmt: skip
    matches = [dataclasses.asdict(m) for m in match(pairs, _Advisories())]
    image = ImageReport(
        fixture_image("vu-layout"), doc["image"]["id"], doc["image"].get("digest"),
        image=doc["image"], inventory=inventory,
        vulnerabilities={"status": "matched", "matches": matches},
    )  # fmt: skip
    text = cyclonedx.render([image])
    assert cyclonedx_errors(text) is None
    bom = json.loads(text)
    refs = {c["bom-ref"]: c for c in bom["components"]}
    found = {}
    for vuln in bom["vulnerabilities"]:
        (target,) = vuln["affects"]
        item = refs[target["ref"]]
        found[item["version"], properties(item)["inspector:kind"]] = vuln
    assert set(found) == {("2.25.1", "dist-info"), ("2.34.2", "vendored"), ("2.34.2", "sbom")}
    venv = found["2.25.1", "dist-info"]
    assert venv["id"] == "CVE-2024-35195"
    assert "analysis" not in venv
    assert venv["recommendation"] == "Upgrade requests to 2.35.0 or later."
    assert venv["ratings"][0]["method"] == "CVSSv31"
    for kind in ("vendored", "sbom"):
        analysis = found["2.34.2", kind]["analysis"]
        assert (analysis["state"], analysis["justification"]) == (
            "not_affected",
            "code_not_reachable",
        )
