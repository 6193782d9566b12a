"""What a model call costs: a price table by model name, which users extend.

Prices are US dollars per million tokens, input and output apart, looked up by the name a
run records (``openai:gpt-4o-mini``, ``anthropic:claude-sonnet-4-6``; a bare model name
matches any provider). The table a runtime uses is, strongest first: the prices an agent
is given (``ctx.use_agent(prices=...)``), the server's prices file (``--prices``), then,
when the ``genai-prices`` package is installed (``wakeful[prices]``, and pydantic-ai
brings it), its table of public list prices. A model none of them knows costs ``None``:
its tokens are still counted, and a cost budget does not count it (docs/usage.md).
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

#: Finds a price the table does not hold: ``(provider, model) -> Price | None``.
PriceSource = Callable[[str | None, str], "Price | None"]
MILLION = 1_000_000


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per million input and per million output tokens."""

    input: float
    output: float

    def __post_init__(self) -> None:
        if self.input < 0 or self.output < 0:
            raise ValueError("prices cannot be negative")

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input + output_tokens * self.output) / MILLION


def split_name(name: str) -> tuple[str | None, str]:
    """``provider:model`` as its two parts (no provider for a bare name)."""
    provider, separator, model = name.partition(":")
    return (provider, model) if separator else (None, name)


@functools.lru_cache(maxsize=1024)
def public_price(provider: str | None, model: str) -> Price | None:
    """The list price ``genai-prices`` knows for the model, if that package is installed.

    Only prices by token count are taken: a model whose price varies (by prompt size,
    say) is priced at its base tier, which is what the package reports for one token."""
    try:
        from genai_prices import Usage, calc_price
    except ImportError:
        return None
    try:
        per_million = Usage(input_tokens=MILLION, output_tokens=0)
        input_price = calc_price(per_million, model_ref=model, provider_id=provider)
        per_million = Usage(input_tokens=0, output_tokens=MILLION)
        output_price = calc_price(per_million, model_ref=model, provider_id=provider)
    except LookupError:
        return None
    return Price(_dollars(input_price.total_price), _dollars(output_price.total_price))


class Prices:
    """A price table: exact names first, then bare model names, then ``fallback``.

    ``Prices({"openai:my-finetune": Price(0.3, 1.2)})`` extends the default table
    (:meth:`default`) with what it holds; ``fallback=None`` uses only the given prices."""

    def __init__(
        self,
        table: Mapping[str, Price] | None = None,
        *,
        fallback: PriceSource | Prices | None = public_price,
    ) -> None:
        self._table = dict(table or {})
        self._fallback: PriceSource | None = (
            fallback.price if isinstance(fallback, Prices) else fallback
        )

    def with_prices(self, table: Mapping[str, Price]) -> Prices:
        """This table with ``table``'s prices added (and winning)."""
        return Prices(table, fallback=self) if table else self

    def price(self, provider: str | None, model: str) -> Price | None:
        name = f"{provider}:{model}" if provider else model
        found = self._table.get(name) or self._table.get(model)
        if found is None and self._fallback is not None:
            found = self._fallback(provider, model)
        return found

    def cost(self, model_name: str | None, input_tokens: int, output_tokens: int) -> float | None:
        """What a call of ``model_name`` with these tokens cost; None for an unknown model."""
        if not model_name:
            return None
        price = self.price(*split_name(model_name))
        return None if price is None else price.cost(input_tokens, output_tokens)

    @classmethod
    def load(cls, path: Path, *, fallback: PriceSource | Prices | None = public_price) -> Prices:
        """A TOML prices file, one table per model (US dollars per million tokens)::

        [models."openai:gpt-4o-mini"]
        input = 0.15
        output = 0.60
        """
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"cannot read {path}: {exc}") from exc
        return cls(parse_table(data, str(path)), fallback=fallback)


def parse_table(data: Mapping[str, Any], where: str) -> dict[str, Price]:
    models = data.get("models")
    if not isinstance(models, dict):
        raise ValueError(f'{where} has no [models."provider:model"] tables')
    table: dict[str, Price] = {}
    for name, entry in models.items():
        values = entry if isinstance(entry, dict) else {}
        given = (values.get("input"), values.get("output"))
        if not all(
            isinstance(value, int | float) and not isinstance(value, bool) for value in given
        ):
            raise ValueError(f"{where}: model {name!r} needs numbers input and output")
        table[name] = Price(float(values["input"]), float(values["output"]))
    return table


def _dollars(value: Decimal | float) -> float:
    return float(value)
