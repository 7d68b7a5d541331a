"""`/sel model`: what each slot uses and could use, as one Discord message."""

from __future__ import annotations

from collections.abc import Mapping

from sel.model_choice import SlotModels

SHOWN_PER_SLOT = 25  # a server may list hundreds of models; the message must stay under Discord's limit


def models_text(offers: Mapping[str, SlotModels], prefix: str) -> str:
    """One line per slot: where its models come from, the one in use first, then the others."""
    lines = [_slot_line(offer) for offer in offers.values()]
    lines.append(f"The owner switches with `{prefix}model SLOT NAME`.")
    return "\n".join(lines)


def _slot_line(offer: SlotModels) -> str:
    where = "from its server" if offer.server else "in the models folder"
    if offer.problem is not None:  # the server's URL and the details are in the owner's log, not here
        return f"**{offer.slot}** ({where}): `{_plain(offer.current)}` — I can't reach its server right now"
    others = [name for name in offer.choices if name != offer.current]
    shown = [f"`{_plain(offer.current)}` (now)"] + [f"`{_plain(name)}`" for name in others[:SHOWN_PER_SLOT]]
    more = len(others) - SHOWN_PER_SLOT
    return f"**{offer.slot}** ({where}): " + ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _plain(name: str) -> str:
    """A model name inside a code span: a backtick in it would end the span."""
    return name.replace("`", "'")
