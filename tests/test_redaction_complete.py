"""Redaction masks every secret it can recognise in a text, however many there are and whatever
form they take: the HITS_PER_TEXT cap keeps the facts' `secrets[]` small and never lets a value
through, and the command forms (`--requirepass X`, `-pX`, `Authorization: Bearer X`, `echo X |
docker login --password-stdin`, a quoted value of any length) are masked where they appear."""

from __future__ import annotations

import json

import pytest

from inspector.analysers.secrets import HITS_PER_TEXT, redact_text, scan_value
from inspector.cli.commands import main
from inspector.report.formats import FORMATS
from tests.layertools import image_archive, layer

COUNT = HITS_PER_TEXT + 5
URL_PASSWORDS = [f"Urlpw{i:03d}Kq7vXz" for i in range(COUNT)]
DB_PASSWORDS = [f"Dbpw{i:03d}Rn4sWm" for i in range(COUNT)]


def _outputs(tmp_path, capsys, archive_bytes: bytes) -> dict[str, str]:
    """Every text `facts` and `audit` print for an archive: facts text and JSON, each format."""
    archive = tmp_path / "image.tar"
    archive.write_bytes(archive_bytes)
    ref = f"docker-archive:{archive}"
    out: dict[str, str] = {}
    for fmt in ("text", "json"):
        assert main(["facts", ref, "--no-probe", "--no-cache", "--format", fmt]) == 0
        printed, err = capsys.readouterr()
        out[f"facts {fmt}"], out[f"facts {fmt} stderr"] = printed, err
    for fmt in FORMATS:
        code = main(["audit", ref, "--no-probe", "--no-cache", "--no-config", "--format", fmt])
        assert code in (0, 1)
        printed, err = capsys.readouterr()
        out[f"audit {fmt}"], out[f"audit {fmt} stderr"] = printed, err
    return out


def _survivors(outputs: dict[str, str], planted: list[str]) -> list[tuple[str, str]]:
    return [(name, value) for name, text in outputs.items() for value in planted if value in text]


def test_a_run_step_with_more_urls_than_the_cap_prints_none_of_their_passwords(tmp_path, capsys):
    """A RUN step with 55 credentialed URLs: the facts list 50 secrets, no output holds any of
    the 55 passwords (the 51st onwards printed in clear before)."""
    step = "RUN pip download " + " ".join(
        f"https://ci:{pw}@mirror{i}.example/simple" for i, pw in enumerate(URL_PASSWORDS)
    )
    image = image_archive([layer(("app/main.py", b"print(1)\n"))],
                          history=[{"created_by": step}])  # fmt: skip
    outputs = _outputs(tmp_path, capsys, image)
    assert _survivors(outputs, URL_PASSWORDS) == []
    secrets = json.loads(outputs["facts json"])["secrets"]
    assert sum(1 for s in secrets if s["where"] == "history") == HITS_PER_TEXT


def test_a_cmd_with_more_assignments_than_the_cap_prints_none_of_their_values(tmp_path, capsys):
    """A CMD with 55 `DB_PASSWORD_i=` assignments: facts text and JSON and every audit format
    hold none of the values (5 leaked before)."""
    words = " ".join(f"DB_PASSWORD_{i}={pw}" for i, pw in enumerate(DB_PASSWORDS))
    cmd = ["/bin/sh", "-c", f"{words} exec app"]  # what a shell-form CMD records
    image = image_archive([layer(("app/main.py", b"print(1)\n"))], config={"Cmd": cmd})
    outputs = _outputs(tmp_path, capsys, image)
    assert _survivors(outputs, DB_PASSWORDS) == []
    secrets = json.loads(outputs["facts json"])["secrets"]
    assert sum(1 for s in secrets if s["where"] == "command") == HITS_PER_TEXT


def test_redact_text_masks_past_the_cap_where_scan_value_stops():
    """redact_text masks all 55 URLs of one text; scan_value still reports the first 50."""
    text = " ".join(f"https://u:{pw}@h{i}.example/" for i, pw in enumerate(URL_PASSWORDS))
    assert len(scan_value(text)) == HITS_PER_TEXT
    redacted = redact_text(text) or ""
    assert [pw for pw in URL_PASSWORDS if pw in redacted] == []


LONG_VALUE = "Lq8" * 1700  # 5,100 characters: past the 4,096 a quoted value could hold
# (text, the planted value): each form was printed in clear before.
FORMS = [
    ("redis-server --requirepass Rq9vT2mLpX4z --port 6379", "Rq9vT2mLpX4z"),
    ("redis-server --masterauth Ma7pQ2wErT9y", "Ma7pQ2wErT9y"),
    ("/bin/sh -c mysql -h db -u app -pMy5qlPw0rdX -e 'select 1'", "My5qlPw0rdX"),
    ("/bin/sh -c 'mariadb-dump -uroot -p\"Mdb7Pw2Quoted\" app > /tmp/app.sql'", "Mdb7Pw2Quoted"),
    ("/bin/sh -c MYSQL_HOST=db mysqladmin -uroot -pAdm1nPw9x ping", "Adm1nPw9x"),
    ('curl -H "Authorization: Bearer Br3arerT0kenValue9x" https://api.example/v1',
     "Br3arerT0kenValue9x"),
    ("curl -H 'Authorization: Basic dXNlcjpCYXNpY1B3OXo=' https://api.example/v1",
     "dXNlcjpCYXNpY1B3OXo="),
    ("/bin/sh -c echo Dl0ginPw7x | docker login -u ci --password-stdin registry.example",
     "Dl0ginPw7x"),
    ("/bin/sh -c echo -n 'Hl0ginPw8y' | helm registry login --password-stdin -u ci r.example",
     "Hl0ginPw8y"),
    ('/bin/sh -c #(nop)  CMD ["python3" "/srv/svc.py" "--api-key" "CmdK3yHist7"]', "CmdK3yHist7"),
    ('/bin/sh -c #(nop)  CMD ["mysql" "-uroot" "-pHistMy5ql2"]', "HistMy5ql2"),
    (f'/bin/sh -c SERVICE_PASSWORD="{LONG_VALUE}" ./start', LONG_VALUE),
    (f"/bin/sh -c export API_TOKEN='{LONG_VALUE}'", LONG_VALUE),
]  # fmt: skip


@pytest.mark.parametrize(("text", "value"), FORMS)
def test_each_command_form_is_matched_and_masked(text, value):
    """Each form is a secret of the step and redaction leaves no part of its value."""
    redacted = redact_text(text) or ""
    assert value not in redacted
    assert value[:6] not in redacted
    assert "chars, fingerprint" in redacted


@pytest.mark.parametrize("text", [
    "docker run -p8080:80 app",
    "docker run --name mysql -p3306:3306 mysql:8",
    "ssh -p2222 deploy@host.example",
    "mysql -p appdb",
    'mysql -u app -p"$MYSQL_PASSWORD" appdb',
    "apt-get install -y default-mysql-client && pip install mysqlclient",
    'curl -H "Authorization: Bearer $API_TOKEN" https://api.example/v1',
    'curl -H "Authorization: Bearer <token>" https://api.example/v1',
    'echo "$CI_REGISTRY_PASSWORD" | docker login -u ci --password-stdin registry.example',
    "docker login -u ci --password-stdin registry.example",
    "redis-server --requirepass $REDIS_PASSWORD",
    "pip install --no-password --password-stdin pkg",
    "gunicorn --password-file /run/secrets/db app:app",
    '/bin/sh -c #(nop)  CMD ["docker" "run" "--name" "mysql" "-p3306:3306" "mysql:8"]',
])  # fmt: skip
def test_lookalikes_of_the_command_forms_stay_as_they_are(text):
    """Ports, prompts, references and flags are no secret: the text is left unchanged."""
    assert redact_text(text) == text


def test_the_forms_in_a_real_archive_reach_no_output(tmp_path, capsys):
    """The forms in history steps and the CMD of an image: none of their values in any output,
    and each is a secret in the facts."""
    history = [{"created_by": text} for text, _ in FORMS]
    config = {"Cmd": ["redis-server", "--requirepass", "CmdRq7pW3x"]}
    image = image_archive([layer(("app/main.py", b"print(1)\n"))],
                          history=[*({**h, "empty_layer": True} for h in history),
                                   {"created_by": "COPY main.py /app/"}],
                          config=config)  # fmt: skip
    outputs = _outputs(tmp_path, capsys, image)
    planted = [value for _, value in FORMS] + ["CmdRq7pW3x"]
    assert _survivors(outputs, planted) == []
    secrets = json.loads(outputs["facts json"])["secrets"]
    assert {s["step"] for s in secrets if s["where"] == "history"} == set(range(len(FORMS)))
    assert any(s["where"] == "command" and s["kind"] == "password-option" for s in secrets)


def test_the_static_probes_error_texts_are_redacted_before_they_are_facts():
    """The import test's message, the probe's errors and a compile error quoting a database URL
    keep none of its password (they were facts verbatim)."""
    import dataclasses

    from inspector.probes import static
    from inspector.probes.plan import ImportTarget, ProbePlan, TmpDir

    password = "Pr0beErrPw7Zq"
    url = f"postgresql://app:{password}@db.example:5432/app"
    plan = ProbePlan("sha256:" + "0" * 64, "amd64", "/usr/bin/python3", None, "app", None,
                     TmpDir(0o1777, 0, 0))  # fmt: skip
    plan = dataclasses.replace(plan, imports=ImportTarget("python -m svc", (("module", "svc"),)))
    report = {
        "imports": {"status": "failed", "exception": "ImportError",
                    "message": f"no PostgreSQL driver for {url}: install psycopg2"},
        "app_sources": {"checked": 1, "complete": True, "uncompilable": [
            {"path": "/srv/x.py", "size": 9, "error": f"SyntaxError at line 1: {url}"}]},
        "errors": [f"ca_bundle: OSError: cannot read {url}"],
    }  # fmt: skip
    found = static.parse(static.MARKER + json.dumps(report), "", 0, plan, 0.1)
    text = json.dumps(dataclasses.asdict(found))
    assert found.status == "ran"
    assert password not in text
    assert found.imports is not None
    assert "chars, fingerprint" in (found.imports.message or "")


def test_a_server_configs_settings_are_masked_by_name_and_before_they_are_cut():
    """A gunicorn/uwsgi setting named like a secret is masked, and a URL straddling the
    200-character cut keeps no part of its password (the cut came first, the part survived)."""
    from inspector.analysers.startup import SETTING_TEXT, _keep

    settings: dict[str, str] = {}
    _keep(settings, "password", '"Gun1cornPw8x"')
    _keep(settings, "dsn", '"' + "x" * (SETTING_TEXT - 20) + ' postgresql://a:Str4ddlePw9@db/x"')
    _keep(settings, "bind", '"0.0.0.0:8000"')
    assert "Gun1cornPw8x" not in settings["password"]
    assert "Str4" not in settings["dsn"]
    assert settings["bind"] == '"0.0.0.0:8000"'


def test_a_log_line_longer_than_the_limit_is_masked_before_it_is_cut():
    """A static probe's log line with a credential across the 2,000-character cut keeps no part
    of the password (the line was cut first and the half password printed)."""
    from inspector.probes import static
    from inspector.probes.exits import LINE_LIMIT
    from inspector.probes.plan import ProbePlan, TmpDir

    plan = ProbePlan("sha256:" + "0" * 64, "amd64", "/usr/bin/python3", None, "app", None,
                     TmpDir(0o1777, 0, 0))  # fmt: skip
    line = "x" * (LINE_LIMIT - 25) + " postgresql://app:L0ngLineStr4ddle@db.example/app"
    found = static.parse("", f"starting\n{line}\n", 1, plan, 0.1)
    assert found.log_tail
    assert not any("L0ng" in kept for kept in found.log_tail)
