"""Seeded generators of realistic-looking memories, chat turns and recall queries.

Everything comes from one ``random.Random`` per stream, so the same seed gives the same texts
on every run, and the first ``n`` memories of a stream do not depend on how many are drawn
afterwards (a 10k store is the 1k store plus 9k more).

Memories are short statements about people: where they live, what they do, what they eat, their
pets, hobbies, plans and dates, in a few dozen sentence shapes. Queries ask about the same
people and things in other words (questions, fragments, synonyms), so they are never copies of
stored texts.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sleepcycle.records import MemoryKind

__all__ = ["GeneratedMemory", "MemoryStream", "make_queries", "make_turns"]


def _words(text: str) -> list[str]:
    return text.split()


FIRST_NAMES = _words(
    """Maya Priya Tomás Aiko Lena Omar Chloe Mateo Ingrid Kwame Sofia Dmitri Amara
Jonas Yuki Farah Elena Rafael Nadia Hugo Mei Santiago Freya Tariq Zoe Luca Anya Malik Clara
Kenji Isla Arjun Noor Felix Leila Bruno Hana Emeka Ruth Pablo Greta Sami Imani Oskar Paloma
Ravi Astrid Diego Esme Yusuf Linnea Marco Ayesha Theo Camila Idris Saoirse Nikolai Wren
Joaquin"""
)

LAST_NAMES = _words(
    """Okafor Lindqvist Moreau Tanaka Haddad Novak Castillo Brennan Petrov Mensah Rossi
Sato Abebe Kowalski Fischer Oyelaran Duarte Nakamura Jensen Barzani Quinn Alvarez Kovacs
Mahmoud Silva Eriksen Dubois Chen Adeyemi Romero Walsh Ivanova Gallagher Bauer Ferreira Kaur
Molina Horvat Yilmaz Lebrun Osei Varga Costa Nielsen Ahmadi Keller Rinaldi Murphy"""
)

CITIES = _words(
    """Lisbon Manchester Osaka Nairobi Montreal Valparaíso Tbilisi Glasgow Porto Seville
Kraków Bergen Hanoi Marseille Melbourne Bogotá Ljubljana Reykjavik Toulouse Accra Dublin
Rotterdam Chiang-Mai Leipzig Halifax Cork Bologna Tallinn Oaxaca Dunedin Busan Antwerp Cusco
Trieste Gdańsk Tromsø Zanzibar Kyoto Córdoba Edinburgh"""
)

JOBS = _words(
    """nurse architect carpenter data-analyst pastry-chef pilot librarian paramedic
translator veterinarian structural-engineer high-school-teacher barista journalist
pharmacist sound-engineer park-ranger midwife tax-accountant marine-biologist UX-designer
electrician urban-planner physiotherapist firefighter bookbinder radiologist sommelier
landscape-gardener violin-maker"""
)

EMPLOYERS = [
    "Brightline Studio",
    "the city hospital",
    "a small bakery",
    "a shipping company",
    "the public library",
    "a climate start-up",
    "the local council",
    "a law firm",
    "a game studio",
    "an animal shelter",
    "the university",
    "a bike shop",
    "a theatre company",
    "an airline",
    "a robotics lab",
]

FOODS = _words(
    """ramen sourdough-bread mango-sticky-rice pierogi falafel paella kimchi pho tiramisu
black-pudding jollof-rice goat-cheese dark-chocolate oysters pad-thai miso-soup churros
lentil-curry blue-cheese anchovies coriander olives beetroot okra licorice sushi lasagne
baklava ceviche porridge"""
)

ALLERGENS = _words(
    """peanuts shellfish gluten lactose sesame tree-nuts eggs soy kiwi
strawberries"""
)

PETS = [
    ("dog", ("puppy", "canine", "pup")),
    ("cat", ("kitten", "feline", "kitty")),
    ("parrot", ("bird", "talking bird", "macaw")),
    ("rabbit", ("bunny", "rabbit", "bunny")),
    ("tortoise", ("turtle", "reptile", "tortoise")),
    ("horse", ("pony", "horse", "mare")),
    ("hamster", ("rodent", "hamster", "gerbil")),
    ("goldfish", ("fish", "aquarium", "fish tank")),
]

PET_NAMES = _words(
    """Biscuit Pepper Mochi Luna Otis Waffles Juniper Ziggy Clementine Pickle Rocket
Hazel Noodle Basil Pumpkin Marble Toffee Gizmo Olive Sprout"""
)

HOBBIES = _words(
    """rock-climbing pottery birdwatching sea-swimming chess salsa-dancing woodworking
trail-running knitting film-photography bouldering gardening choir-singing kayaking
sourdough-baking astronomy fencing calligraphy surfing beekeeping cycling judo
origami board-games open-water-rowing"""
)

INSTRUMENTS = _words(
    """piano cello ukulele drums trumpet bass-guitar violin accordion harp
saxophone"""
)

LANGUAGES = _words(
    """Portuguese Japanese Swahili Polish Arabic Finnish Spanish Korean Welsh Italian
Greek Turkish Dutch Hindi Icelandic"""
)

RELATIONS = _words(
    """sister brother mother father cousin best-friend flatmate coworker neighbour
partner grandmother uncle"""
)

MONTHS = _words(
    """January February March April May June July August September October November
December"""
)

EVENTS = ["job interviews", "presentations", "long flights", "family dinners", "exams"]
EVENTS += ["dentist appointments", "deadlines", "public speaking", "moving house"]


def _word(text: str) -> str:
    return text.replace("-", " ")


@dataclass(frozen=True, slots=True)
class GeneratedMemory:
    text: str
    kind: MemoryKind
    tags: tuple[str, ...]
    person: str


class _Facts:
    """One random draw of everything a template may mention."""

    def __init__(self, rng: random.Random, person: str | None = None):
        self.p = person or f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        self.p2 = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        self.first = self.p.split()[0]
        self.city, self.city2 = rng.sample(CITIES, 2)
        self.job = _word(rng.choice(JOBS))
        self.employer = rng.choice(EMPLOYERS)
        self.food, self.food2 = (_word(f) for f in rng.sample(FOODS, 2))
        self.allergen = _word(rng.choice(ALLERGENS))
        pet, synonyms = rng.choice(PETS)
        self.pet, self.pet_synonym = pet, rng.choice(synonyms)
        self.pet_name = rng.choice(PET_NAMES)
        self.hobby, self.hobby2 = (_word(h) for h in rng.sample(HOBBIES, 2))
        self.instrument = _word(rng.choice(INSTRUMENTS))
        self.language = rng.choice(LANGUAGES)
        self.relation = _word(rng.choice(RELATIONS))
        self.month = rng.choice(MONTHS)
        self.day = rng.randint(1, 28)
        self.year = rng.randint(2012, 2026)
        self.date = rng.choice(
            [
                f"{self.month} {self.day}, {self.year}",
                f"{self.day} {self.month} {self.year}",
                f"{self.year}-{MONTHS.index(self.month) + 1:02d}-{self.day:02d}",
            ]
        )
        self.event = rng.choice(EVENTS)
        self.n = rng.randint(2, 12)

    def values(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in _FIELDS}

    def fill(self, template: str) -> str:
        text = template.format(**self.values())
        return text[0].upper() + text[1:]


_FIELDS = _words(
    "p p2 first city city2 job employer food food2 allergen pet pet_synonym pet_name hobby "
    "hobby2 instrument language relation month day year date event n"
)

MEMORY_TEMPLATES: list[tuple[MemoryKind, str, str]] = [
    (MemoryKind.FACT, "home", "{p} lives in {city}."),
    (MemoryKind.FACT, "home", "{p} moved from {city2} to {city} in {month} {year}."),
    (MemoryKind.FACT, "home", "{p} grew up in {city2} but has been living in {city} since {year}."),
    (MemoryKind.FACT, "work", "{p} works as a {job} at {employer} in {city}."),
    (MemoryKind.FACT, "work", "{p} is a {job}; {first} has done it for {n} years."),
    (MemoryKind.FACT, "family", "{p}'s {relation} is a {job} who lives in {city}."),
    (MemoryKind.FACT, "family", "{p2} is {p}'s {relation}; they speak every Sunday."),
    (MemoryKind.FACT, "pets", "{p} has a {pet} called {pet_name}."),
    (MemoryKind.FACT, "pets", "{pet_name}, {p}'s {pet}, is {n} years old."),
    (MemoryKind.FACT, "health", "{p} is allergic to {allergen}."),
    (MemoryKind.FACT, "dates", "{p}'s birthday is on {month} {day}."),
    (MemoryKind.PREFERENCE, "food", "{p} loves {food} but can't stand {food2}."),
    (MemoryKind.PREFERENCE, "food", "{first}'s favourite dish is {food}, ideally from {city}."),
    (MemoryKind.PREFERENCE, "food", "{p} never orders {food2}; too strong a taste for {first}."),
    (MemoryKind.PREFERENCE, "hobbies", "{p} prefers {hobby} to {hobby2} at weekends."),
    (MemoryKind.PREFERENCE, "work", "{p} would rather work from {city} than commute."),
    (MemoryKind.EVENT, "work", "On {date} {p} started a new job as a {job} at {employer}."),
    (MemoryKind.EVENT, "pets", "{p} adopted a {pet} named {pet_name} on {date}."),
    (MemoryKind.EVENT, "travel", "{p} flew to {city} on {date} for a {relation}'s wedding."),
    (MemoryKind.EVENT, "hobbies", "{p} and {p2} met at a {hobby} class in {city} in {year}."),
    (MemoryKind.EVENT, "health", "{p} broke an ankle {hobby} near {city} in {month} {year}."),
    (MemoryKind.PLAN, "travel", "{p} plans to visit {city} in {month} to see their {relation}."),
    (MemoryKind.PLAN, "hobbies", "{p} wants to take up {hobby} next year."),
    (MemoryKind.PLAN, "work", "{p} is thinking about quitting {employer} to retrain as a {job}."),
    (MemoryKind.SKILL, "languages", "{p} speaks {language} fluently and is learning more."),
    (MemoryKind.SKILL, "music", "{p} has played the {instrument} for {n} years."),
    (MemoryKind.SKILL, "food", "{p} makes an excellent {food} and shares the recipe gladly."),
    (MemoryKind.INSIGHT, "mood", "{p} gets anxious before {event}; a short walk helps."),
    (MemoryKind.INSIGHT, "mood", "{p} is happiest when {hobby} with friends in {city}."),
    (MemoryKind.INSIGHT, "food", "Dinner plans with {p} work best around {food}."),
]

QUERY_TEMPLATES: list[str] = [
    "where does {p} live these days?",
    "what city is {first} {last} based in",
    "what does {p} do for a living?",
    "{p} job and employer",
    "does {p} have any pets?",
    "who owns a {pet_synonym} named {pet_name}?",
    "what should I avoid cooking for {p}?",
    "food allergies of {p}",
    "when is {p}'s birthday",
    "who really enjoys eating {food}?",
    "which of my friends is into {hobby}?",
    "anyone working as a {job}?",
    "who is travelling to {city} soon",
    "what languages can {p} speak",
    "musical instruments {p} plays",
    "what makes {p} nervous",
    "how did {p} meet their friends",
    "{p} family members",
    "somebody with a {pet_synonym}",
    "restaurants {p} would like",
]


class MemoryStream:
    """An endless, repeatable stream of memories."""

    def __init__(self, seed: int):
        self.rng = random.Random(f"memories-{seed}")

    def __iter__(self) -> Iterator[GeneratedMemory]:
        return self

    def __next__(self) -> GeneratedMemory:
        kind, topic, template = self.rng.choice(MEMORY_TEMPLATES)
        facts = _Facts(self.rng)
        return GeneratedMemory(facts.fill(template), kind, (topic,), facts.p)

    def take(self, n: int) -> list[GeneratedMemory]:
        return [next(self) for _ in range(n)]


def make_queries(people: list[str], n: int, seed: int) -> list[str]:
    """``n`` different queries about ``people`` (and about things), none a copy of a stored
    text. ``people`` should be those the store mentions, so most queries have answers."""
    rng = random.Random(f"queries-{seed}")
    queries: dict[str, None] = {}
    while len(queries) < n:
        facts = _Facts(rng, rng.choice(people))
        template = rng.choice(QUERY_TEMPLATES)
        queries[template.format(last=facts.p.split()[-1], **facts.values())] = None
    return list(queries)


USER_LINES = [
    "I just got back from {city}, the {food} there was unbelievable.",
    "My {relation} called, they're moving to {city} in {month}.",
    "Can you remind me that {p} is allergic to {allergen}?",
    "I've been trying {hobby} on Thursdays, my arms are sore.",
    "Work at {employer} was chaos today, two people called in sick.",
    "Do you think I could learn {language} in {n} months?",
    "{pet_name} the {pet} knocked my coffee over again.",
    "Dinner with {p2} tonight, probably {food}. Any wine ideas?",
    "I'm nervous about {event} next week.",
    "Thinking of selling my {instrument}, I haven't played in {n} years.",
]

ASSISTANT_LINES = [
    "That sounds lovely. What did you like most about {city}?",
    "Noted: {p} is allergic to {allergen}. I'll keep it in mind for food plans.",
    "{hobby} is a great way to unwind. How long have you been at it?",
    "A few deep breaths and a walk before {event} usually help. Want a short plan?",
    "With {food}, a light red or a dry white both work well.",
    "{n} months is enough for the basics of {language} if you practise daily.",
    "Poor {pet_name}! Maybe keep the mug on the other side of the desk.",
    "Before selling the {instrument}, would renting it out be an option?",
]


def make_turns(n: int, seed: int, *, start: int = 1_767_225_600) -> list[dict[str, Any]]:
    """``n`` chat turns (OpenAI-style messages with session and time), alternating speakers.

    A session is a day of 20 turns; times are epoch seconds a minute apart from ``start``.
    Every content is unique (a turn recorded without a time gets its id from its content)."""
    rng = random.Random(f"turns-{seed}")
    user = f"{rng.choice(FIRST_NAMES)}"
    seen: set[str] = set()
    turns: list[dict[str, Any]] = []
    while len(turns) < n:
        i = len(turns)
        facts = _Facts(rng)
        lines = USER_LINES if i % 2 == 0 else ASSISTANT_LINES
        content = facts.fill(rng.choice(lines))
        if content in seen:
            continue
        seen.add(content)
        day, minute = divmod(i, 20)
        turn: dict[str, Any] = {
            "session": f"day-{day:05d}",
            "time": start + day * 86_400 + minute * 60,
            "role": "user" if i % 2 == 0 else "assistant",
            "content": content,
        }
        if i % 2 == 0:
            turn["name"] = user
        turns.append(turn)
    return turns
