"""Synthetic documents in the shape of seeds/000_*.txt, generated fast from sentence templates.

Corpora are generated once into bench/out/corpus-N/ and reused (a marker file records the
generator version; bump GEN_VERSION when the shape changes). Corpus documents are dated in 2025;
probe documents written by the freshness and change benchmarks are dated 27.11.2026 so that each
lands on page 1 of /feed.atom.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path

GEN_VERSION = "1"
PROBE_DATE = "27.11.2026"

SOURCES = ["Time", "The Economist", "Politico", "Foreign Affairs", "The Guardian", "Reuters",
           "Le Monde", "Der Spiegel", "The Atlantic", "Financial Times", "Bloomberg", "Associated Press"]
AUTHORS = ["Kim Tong-Hyung", "Dasha Litvinova", "Anne Applebaum", "Timothy Snyder", "Shaun Walker",
           "Isabelle Khurshudyan", "Yaroslav Trofimov", "Marc Santora", "Andrew Kramer", "Serhiy Plokhy",
           "Olga Tokariuk", "Illia Ponomarenko", "Christopher Miller", "Max Seddon", "Anna Myroniuk"]
EN_TITLE = ["{a} and {b} meet to discuss the future of {c}", "Why {c} matters more than ever for {a}",
            "How {a} is preparing for a long winter in {c}", "The quiet battle over {c} in {b}",
            "{a} warns of new pressure on {c}", "Inside the talks between {a} and {b} on {c}",
            "What the latest report on {c} means for {b}", "A new plan for {c} divides {a} and {b}"]
EN_NOUNS = ["grain exports", "air defence", "energy security", "the Black Sea", "sanctions policy",
            "reconstruction funds", "the front line", "drone production", "refugee support", "power grids",
            "military aid", "the European Union", "NATO allies", "frozen assets", "the peace talks"]
EN_ACTORS = ["Kyiv", "Washington", "Brussels", "Berlin", "Warsaw", "Paris", "London", "Ankara", "Tokyo",
             "the White House", "the Kremlin", "European leaders", "Ukrainian officials", "the Pentagon"]
UK_TITLE = ["{a} та {b} обговорили майбутнє {c}", "Чому {c} важить для {a} більше, ніж будь-коли",
            "Як {a} готується до довгої зими", "Тиха боротьба за {c} у {b}",
            "{a} попереджає про новий тиск на {c}", "Що означає нова доповідь про {c} для {b}"]
UK_NOUNS = ["експорту зерна", "протиповітряної оборони", "енергетичної безпеки", "Чорного моря",
            "санкційної політики", "фондів відбудови", "лінії фронту", "виробництва дронів"]
UK_ACTORS = ["Київ", "Вашингтон", "Брюссель", "Берлін", "Варшава", "Париж", "Лондон", "Європейські лідери"]
EN_SENTENCES = [
    "The leaders met at a remote facility for a summit that underscores how their interests are aligning.",
    "Officials said the talks would continue next week, although no date has been announced yet.",
    "Analysts believe the decision could reshape the balance of power in the region for years to come.",
    "The government has repeatedly said it will not accept any agreement that rewards aggression.",
    "Diplomats in several European capitals described the mood as cautious but quietly optimistic.",
    "Critics argue that the new measures do too little and arrive far too late to change the outcome.",
    "The ministry of defence confirmed that additional air defence systems had arrived this month.",
    "Farmers in the south have struggled to export their harvest since the ports came under attack.",
    "Economists expect growth to slow as energy prices remain high throughout the coming winter.",
    "The report, published on Tuesday, draws on interviews with more than two hundred soldiers.",
    "Local authorities say the reconstruction of the damaged bridge will take at least two years.",
    "Several members of parliament have called for an independent inquiry into the spending.",
    "The president told reporters that the country would not negotiate under the threat of force.",
    "Humanitarian groups warned that millions of people could face shortages of heating and water.",
    "Western officials have been careful not to make promises they cannot keep in the short term.",
    "The agreement still needs to be ratified by national parliaments before it can take effect.",
    "Military commanders said the new drones had changed the way both sides fight along the front.",
    "Investors have started to return, encouraged by a series of reforms passed earlier this year.",
    "The minister said that talks with international lenders had been constructive and detailed.",
    "Residents described long nights in shelters as sirens sounded again across the eastern region.",
]
UK_SENTENCES = [
    "Лідери зустрілися на віддаленому об'єкті для проведення саміту, який підкреслює збіг їхніх інтересів.",
    "На думку авторів статті, ця зустріч є можливістю поповнити запаси боєприпасів.",
    "Аналітики вважають, що рішення може змінити баланс сил у регіоні на довгі роки.",
    "Уряд неодноразово заявляв, що не погодиться на угоду, яка винагороджує агресію.",
    "Дипломати в кількох європейських столицях описали настрій як обережний, але оптимістичний.",
    "Критики стверджують, що нові заходи запізнилися і не змінять результату.",
    "Міністерство оборони підтвердило, що цього місяця прибули додаткові системи протиповітряної оборони.",
    "Фермери на півдні країни мають труднощі з експортом урожаю через атаки на порти.",
    "Економісти очікують уповільнення зростання, оскільки ціни на енергоносії залишаються високими.",
    "Місцева влада каже, що відбудова пошкодженого мосту триватиме щонайменше два роки.",
    "Гуманітарні організації попереджають, що мільйони людей можуть залишитися без тепла і води.",
    "Угоду ще мають ратифікувати національні парламенти, перш ніж вона набуде чинності.",
]


def _paragraph(rng: random.Random, pool: list[str], lo: int, hi: int) -> str:
    return " ".join(rng.sample(pool, rng.randint(lo, hi)))


def make_document(rng: random.Random, token: str, date: str, *, langs: str = "both",
                  paragraphs: int | None = None) -> str:
    """One document; `token` is put in the English title (and the URL) so probes can find it."""
    source = rng.choice(SOURCES)
    authors = ", ".join(rng.sample(AUTHORS, rng.randint(1, 3)))
    a, b = rng.sample(EN_ACTORS, 2)
    en_title = rng.choice(EN_TITLE).format(a=a, b=b, c=rng.choice(EN_NOUNS)) + f" ({token})"
    ua, ub = rng.sample(UK_ACTORS, 2)
    uk_title = rng.choice(UK_TITLE).format(a=ua, b=ub, c=rng.choice(UK_NOUNS)) + f" ({token})"
    url = f"https://{source.lower().replace(' ', '')}.example/{date[-4:]}/{token}/"
    parts = [f"{source}.- {date}", authors]
    if langs in ("both", "en"):
        parts.append(f"## {en_title}")
    if langs in ("both", "uk"):
        parts.append(f"## {uk_title}")
        parts.append(_paragraph(rng, UK_SENTENCES, 3, 6) + " " + url)
    if langs in ("both", "en"):
        n = paragraphs if paragraphs is not None else rng.choice((3, 5, 8, 10, 12, 14, 18, 24))
        parts.extend(_paragraph(rng, EN_SENTENCES, 2, 6) for _ in range(n))
    return "\n\n".join(parts) + "\n"


def corpus_date(rng: random.Random) -> str:
    return f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.2025"


def corpus(out: Path, n: int) -> Path:
    """bench/out/corpus-N: N documents dated 2025, 80% bilingual, 10% English-only, 10% Ukrainian-only."""
    folder = out / f"corpus-{n}"
    marker = folder / ".generated"
    if marker.exists() and marker.read_text() == f"{GEN_VERSION} {n}":
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    rng = random.Random(n)
    started = time.perf_counter()
    for i in range(n):
        r = rng.random()
        langs = "both" if r < 0.8 else ("en" if r < 0.9 else "uk")
        token = f"d{n}x{i:06d}"
        text = make_document(rng, token, corpus_date(rng), langs=langs)
        # 100 documents per sub-folder keeps directory listings reasonable; the service watches recursively.
        with open(folder / f"{i:06d}_{token}.txt", "w", encoding="utf-8") as fh:
            fh.write(text)
    marker.write_text(f"{GEN_VERSION} {n}")
    print(f"generated {n} documents in {time.perf_counter() - started:.1f} s -> {folder}", flush=True)
    return folder


def seeds_copy(src: Path, dst: Path) -> Path:
    """A private seeds folder for one server: hard links to the corpus (cheap; files are never modified)."""
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    with os.scandir(src) as it:
        for entry in it:
            if entry.name.endswith(".txt"):
                os.link(entry.path, dst / entry.name)
    return dst


def write_probe(folder: Path, name: str, text: str, *, rename: bool) -> float:
    """Write one document completely; returns perf_counter() when it is complete on disk.

    In place: open, write, close. Rename (rsync style): write `.name.tmp`, close, os.rename to name.
    """
    final = folder / name
    if rename:
        tmp = folder / f".{final.stem}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.rename(tmp, final)
    else:
        with open(final, "w", encoding="utf-8") as fh:
            fh.write(text)
    return time.perf_counter()


if __name__ == "__main__":
    import sys

    for size in map(int, sys.argv[1:] or ["1000"]):
        corpus(Path(__file__).resolve().parent / "out", size)
