"""The README is part of the product: its generated parts match the code."""

from pathlib import Path

from sensorkit.config.reference import END, START, markdown_reference

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_configuration_reference_matches_the_validating_models() -> None:
    text = README.read_text(encoding="utf-8")
    embedded = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert embedded == markdown_reference().strip(), "run scripts/update-readme-reference"


def test_the_quick_start_has_exactly_the_two_commands_ci_uses() -> None:
    text = README.read_text(encoding="utf-8")
    quick = text.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in quick.strip().splitlines()]
    assert commands == ["make demo", "make test"]
    ci = (README.parent / ".ci" / "run").read_text()
    assert "make test" in ci.splitlines()[-1]
