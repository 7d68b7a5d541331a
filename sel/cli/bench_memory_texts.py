"""Generated, template-based memory sentences and recall questions for the memory benchmarks.

Distinct sentences of a realistic length (deterministic for a seed), so a bench stores what
people say without any real person's text.
"""

from __future__ import annotations

import random
from collections.abc import Callable


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",")]


_NAMES = _items(
    "Anna,Ben,Carla,Dmitri,Elif,Farah,Gustav,Hana,Ivo,Jun,Kofi,Lena,Mateo,Nia,Omar,Priya,Quinn,Rosa,Sven,Tariq,"
    "Uma,Viktor,Wen,Ximena,Yusuf,Zoe,Aiko,Bruno,Chiara,Diego"
)
_GROUPS = _items("book club,climbing gym,choir,chess group,office,running club,pottery class,band,lab,football team")
_HABITS = _items(
    "bakes sourdough bread,brings homemade dumplings,tells terrible puns,plays the cello,forgets their keys,"
    "collects vintage maps,knits scarves for everyone,argues about tabs versus spaces,grows chili peppers,"
    "restores old bicycles,writes haiku,builds model ships,feeds the stray cats,organizes the board game night"
)
_WHEN = _items("every Sunday,on Fridays,each spring,after work,before dawn,at every meetup,during the holidays")
_ACTIVITIES = _items(
    "hiking,wild swimming,bouldering,birdwatching,night photography,cross-country skiing,kayaking,trail running,"
    "stargazing,foraging for mushrooms,sketching buildings,cycling along rivers,camping,fishing,sailing"
)
_PLACES = _items(
    "the Alps,Patagonia,the Scottish Highlands,Lapland,the Dolomites,Hokkaido,the Atlas Mountains,Tasmania,"
    "the Pyrenees,Iceland,the Carpathians,Yosemite,the Lake District,Crete,the Black Forest,Sardinia"
)
_SKILLS = _items(
    "Japanese,the violin,woodworking,Rust,watercolor painting,Portuguese,salsa dancing,calligraphy,"
    "electronics,sign language,chess openings,bread baking,the accordion,Python,pottery,astronomy"
)
_FOODS = _items(
    "spicy ramen,mango sticky rice,lentil soup,fresh figs,dark chocolate,pickled herring,baklava,"
    "grilled halloumi,mushroom risotto,kimchi pancakes,plum dumplings,smoked salmon,black olives"
)
_RELATIVES = _items("grandmother,uncle,cousin,sister,brother,aunt,godfather,niece,nephew,grandfather")
_OBJECTS = _items(
    "a red vespa,a broken telescope,an old typewriter,a cabin by a lake,a box of letters,a pet parrot,"
    "a vinyl collection,a greenhouse,a sailing boat,a pottery wheel,a vegetable allotment,a tandem bicycle"
)


def generate_texts(count: int, seed: int) -> list[str]:
    """``count`` distinct, realistic-length memory sentences from templates (deterministic for a seed)."""
    rng = random.Random(seed)
    templates: list[Callable[[], str]] = [
        lambda: f"{rng.choice(_NAMES)} from my {rng.choice(_GROUPS)} {rng.choice(_HABITS)} {rng.choice(_WHEN)}",
        lambda: f"I love {rng.choice(_ACTIVITIES)} in {rng.choice(_PLACES)} with my {rng.choice(_RELATIVES)}",
        lambda: f"I have been learning {rng.choice(_SKILLS)} since {rng.randint(1990, 2025)} with {rng.choice(_NAMES)}",
        lambda: f"Last year I visited {rng.choice(_PLACES)} and ate {rng.choice(_FOODS)} every day",
        lambda: (
            f"My {rng.choice(_RELATIVES)} {rng.choice(_NAMES)} owns {rng.choice(_OBJECTS)} near {rng.choice(_PLACES)}"
        ),
        lambda: f"I enjoy {rng.choice(_FOODS)} after {rng.choice(_ACTIVITIES)} {rng.choice(_WHEN)}",
    ]
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        text = rng.choice(templates)()
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def distinct_queries(rng: random.Random, count: int) -> list[str]:
    """Questions that are all different, so the first pass really misses the query-embedding cache."""
    subjects = [*_ACTIVITIES, *_SKILLS, *_FOODS, *_PLACES, *_RELATIVES, *_GROUPS, *_OBJECTS]
    openers = ("what do you know about", "tell me about", "do I like", "what did I say about", "remind me of")
    seen: dict[str, None] = {}
    while len(seen) < count:
        query = f"{rng.choice(openers)} {rng.choice(subjects)} and {rng.choice(_NAMES)} {rng.randint(1, 99)}?"
        seen.setdefault(query, None)
    return list(seen)
