"""`posterm qr parse|make` as a till integrator or technician runs it (real process)."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import zxingcpp
from PIL import Image

from terminal.cli import main
from terminal.qr.crc import with_crc
from tests.unit.qr.test_qr_cpm import EMVCO_CPM_SAMPLE
from tests.unit.qr.vectors import EMVCO_SAMPLE, PIX_BCB_EXAMPLE


def posterm(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the command in this process (fast); output and exit code as a real run gives them."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(args))
    return subprocess.CompletedProcess(list(args), status, out.getvalue(), err.getvalue())


def posterm_process(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `posterm` process, as a till integrator's script does."""
    return subprocess.run(
        [sys.executable, "-m", "terminal", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_parse_json_shape_for_the_emvco_sample() -> None:
    run = posterm_process("qr", "parse", EMVCO_SAMPLE, "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert list(result) == ["kind", "crc_ok", "errors", "warnings", "fields"]
    assert result["kind"] == "mpm"
    assert result["crc_ok"] is True
    assert result["errors"] == [] and result["warnings"] == []
    assert result["fields"]["00"] == "01"
    assert result["fields"]["52"] == "4111"
    assert result["fields"]["64"] == {"00": "ZH", "01": "最佳运输", "02": "北京"}
    assert result["fields"]["62"]["07"] == "A6008667"
    assert result["fields"]["63"] == "A13A"


def test_parse_strict_lists_broken_rules_and_exits_2() -> None:
    long_city = with_crc(PIX_BCB_EXAMPLE[:-8].replace("6008BRASILIA", "6019SAO JOSE DOS CAMPOS"))
    lenient = posterm("qr", "parse", long_city, "--json")
    assert lenient.returncode == 0
    assert json.loads(lenient.stdout)["warnings"] == ["60: longer than 15 characters"]
    strict = posterm("qr", "parse", long_city, "--json", "--strict")
    assert strict.returncode == 2
    assert json.loads(strict.stdout)["errors"] == ["60: longer than 15 characters"]
    human = posterm("qr", "parse", long_city, "--strict")
    assert human.returncode == 2
    assert "error: 60: longer than 15 characters" in human.stdout


def test_parse_with_rule_errors_but_readable_exits_0() -> None:
    text = with_crc(PIX_BCB_EXAMPLE[:-8].replace("5303986", "5303999"))
    run = posterm("qr", "parse", text, "--json")
    assert run.returncode == 0
    assert json.loads(run.stdout)["errors"] == ["53: unknown currency 999"]


def test_wrong_crc_always_exits_2() -> None:
    run = posterm("qr", "parse", PIX_BCB_EXAMPLE[:-4] + "0000", "--json")
    assert run.returncode == 2
    result = json.loads(run.stdout)
    assert result["crc_ok"] is False
    assert result["errors"] == ["63: checksum 0000 does not match the payload (computed 1D3D)"]


def test_unreadable_structure_exits_2_with_the_place() -> None:
    run = posterm("qr", "parse", "00020159x5HELLO", "--json")
    assert run.returncode == 2
    assert "59: length 'x5' is not two digits" in json.loads(run.stdout)["errors"][0]


def test_cpm_fields_map_tags_to_hex_and_repeated_templates_to_lists() -> None:
    run = posterm("qr", "parse", EMVCO_CPM_SAMPLE, "--json")
    assert run.returncode == 0
    result = json.loads(run.stdout)
    assert result["kind"] == "cpm"
    assert result["fields"]["85"] == "4350563031"
    assert isinstance(result["fields"]["61"], list) and len(result["fields"]["61"]) == 2
    assert result["fields"]["62"]["5A"] == "123456******3458"


def test_a_url_is_not_a_payment_code() -> None:
    run = posterm_process("qr", "parse", "https://example.com/menu", "--json")
    assert run.returncode == 2
    assert run.stdout == ""
    assert "web address" in run.stderr
    assert "Traceback" not in run.stderr


def test_random_text_is_not_a_payment_code() -> None:
    run = posterm("qr", "parse", "hello world")
    assert run.returncode == 2
    assert "not a payment code" in run.stderr


def test_make_prints_a_payload_that_parses_strictly(tmp_path: Path) -> None:
    png = tmp_path / "out.png"
    run = posterm_process(
        "qr", "make", "--amount", "12.34", "--reference", "INV42", "--png", str(png)
    )
    assert run.returncode == 0, run.stderr
    payload = run.stdout.strip()
    parsed = json.loads(posterm("qr", "parse", payload, "--json", "--strict").stdout)
    assert parsed["fields"]["01"] == "12"
    assert parsed["fields"]["54"] == "12.34"
    assert parsed["fields"]["53"] == "978"
    assert parsed["fields"]["62"] == {"05": "INV42", "07": "POSTERM1"}
    image = np.array(Image.open(png).convert("L"))
    assert [r.text for r in zxingcpp.read_barcodes(image)] == [payload]


def test_make_static_code() -> None:
    run = posterm("qr", "make", "--static")
    assert run.returncode == 0, run.stderr
    parsed = json.loads(posterm("qr", "parse", run.stdout.strip(), "--json", "--strict").stdout)
    assert parsed["fields"]["01"] == "11"
    assert "54" not in parsed["fields"]


def test_make_refuses_too_many_decimals_with_a_sentence() -> None:
    run = posterm("qr", "make", "--amount", "12.345")
    assert run.returncode == 2
    assert "too many decimals" in run.stderr
    assert run.stdout == ""


def test_parse_reads_the_payload_from_stdin() -> None:
    run = posterm_process("qr", "parse", "-", "--json", "--strict", stdin=PIX_BCB_EXAMPLE + "\n")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["fields"]["59"] == "Fulano de Tal"


def test_parse_a_wallet_pay_code() -> None:
    run = posterm_process("qr", "parse", "134567890123456789", "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["kind"] == "wallet_code"
    assert result["fields"]["scheme"] == "wechatpay"
    for text, scheme in (("280438849930815813", "alipay"), ("6212345678901234567", "unionpay")):
        parsed = json.loads(posterm("qr", "parse", text, "--json").stdout)
        assert (parsed["kind"], parsed["fields"]["scheme"]) == ("wallet_code", scheme)
    assert "134567890123456789" not in run.stdout  # a bearer token: never printed whole


def test_parse_a_number_that_is_no_pay_code() -> None:
    run = posterm("qr", "parse", "123456789012", "--json")
    assert run.returncode == 2
    result = json.loads(run.stdout)
    assert result["kind"] == "wallet_code"
    assert result["errors"][0].startswith("a 12-digit number is not a wallet pay code")
    human = posterm("qr", "parse", "1345 6789 0123 4567 89")
    assert human.returncode == 2
    assert "spaces" in human.stdout
