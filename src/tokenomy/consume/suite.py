"""Task suites and rule grading: the 19 Token Economy prompts, each criterion made checkable."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DATA = resources.files("tokenomy.consume") / "data"
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
BOXED = re.compile(r"\\boxed\{([^{}]*)\}")


class Check(BaseModel):
    """One rule; exactly one field set."""

    model_config = ConfigDict(extra="forbid")
    final_number: float | None = None
    contains_number: float | None = None
    any_of: list[str] | None = None
    none_of: list[str] | None = None

    @model_validator(mode="after")
    def _one(self) -> Check:
        set_fields = [k for k, v in self.__dict__.items() if v is not None]
        if len(set_fields) != 1:
            raise ValueError(
                f"a check needs exactly one of final_number, contains_number, any_of, none_of; got {set_fields}"
            )
        for pattern in (self.any_of or []) + (self.none_of or []):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
        return self


class Task(BaseModel):
    model_config = ConfigDict(extra="allow")
    prompt_id: str
    type: str = Field(description="knowledge, Math or logic puzzle")
    prompt: str = Field(min_length=1)
    criteria: list[str] = Field(min_length=1)
    weight: list[float] | None = None
    rules: list[list[Check]] | None = None

    @model_validator(mode="after")
    def _shapes(self) -> Task:
        if self.weight is not None and len(self.weight) != len(self.criteria):
            raise ValueError(f"{len(self.weight)} weights for {len(self.criteria)} criteria")
        if self.rules is not None and len(self.rules) != len(self.criteria):
            raise ValueError(f"{len(self.rules)} rule lists for {len(self.criteria)} criteria")
        return self


class SuiteError(ValueError):
    """A suite that cannot be used; the message names the prompt."""


def _numbers(text: str) -> list[float]:
    out = []
    for m in NUMBER.findall(text):
        try:
            out.append(float(m.replace(",", "")))
        except ValueError:
            continue
    return out


def final_number(text: str) -> float | None:
    boxed = BOXED.findall(text)
    source = boxed[-1] if boxed else text
    nums = _numbers(source)
    return nums[-1] if nums else None


def check(rule: Check, answer: str) -> bool:
    if rule.final_number is not None:
        value = final_number(answer)
        return value is not None and abs(value - rule.final_number) < 1e-9
    if rule.contains_number is not None:
        return any(abs(v - rule.contains_number) < 1e-9 for v in _numbers(answer))
    if rule.any_of is not None:
        return any(re.search(p, answer, re.IGNORECASE | re.MULTILINE) for p in rule.any_of)
    return not any(re.search(p, answer, re.IGNORECASE | re.MULTILINE) for p in rule.none_of or [])


def grade(task: Task, answer: str) -> tuple[float, list[bool]]:
    """Weighted share of criteria met (1.0 = solved) and which criteria passed."""
    if not task.rules:
        raise SuiteError(f"prompt '{task.prompt_id}' has no rules: grade it with the judge grader")
    met = [all(check(rule, answer) for rule in rules) for rules in task.rules]
    weights = task.weight or [1.0] * len(met)
    return sum(w for w, ok in zip(weights, met, strict=True) if ok) / sum(weights), met


def _validate(tasks_raw: list, where: str) -> list[Task]:
    tasks = []
    seen = set()
    for i, raw in enumerate(tasks_raw):
        name = raw.get("prompt_id", f"#{i + 1}") if isinstance(raw, dict) else f"#{i + 1}"
        try:
            task = Task.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise SuiteError(f"{where}: prompt '{name}': {field}: {first['msg']}") from None
        if task.prompt_id in seen:
            raise SuiteError(f"{where}: prompt '{task.prompt_id}' appears twice")
        seen.add(task.prompt_id)
        tasks.append(task)
    if not tasks:
        raise SuiteError(f"{where}: no prompts")
    return tasks


def load_suite(name_or_path: str = "token-economy-v1") -> list[Task]:
    """The built-in suite (prompts + tokenomy's rules) or a JSON file {"prompts": [{prompt_id, type, prompt,
    criteria, weight?, rules?}]}."""
    if name_or_path == "token-economy-v1":
        data = json.loads((DATA / "TokenEconomyDataset_V1.json").read_text(encoding="utf-8"))
        rules = yaml.safe_load((DATA / "token-economy-v1.rules.yaml").read_text(encoding="utf-8"))
        for p in data["prompts"]:
            if p["prompt_id"] in rules:
                p["rules"] = rules[p["prompt_id"]]
        return _validate(data["prompts"], "token-economy-v1")
    path = Path(name_or_path)
    if not path.exists():
        raise SuiteError(f"{path}: no such suite (use token-economy-v1 or a JSON file)")
    if not path.is_file():
        raise SuiteError(f"{path}: not a file (a suite is one JSON file)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:  # includes UnicodeDecodeError
        raise SuiteError(f"{path}: not JSON ({exc})") from None
    except OSError as exc:
        raise SuiteError(f"{path}: cannot read ({exc.strerror})") from None
    if not isinstance(data, dict) or not isinstance(data.get("prompts"), list):
        raise SuiteError(f'{path}: expected {{"prompts": [...]}}')
    return _validate(data["prompts"], str(path))
