"""The public pages' words in Ukrainian and English, and Kyiv time as people read it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from tryvoga.domain.events import parse_time

KYIV = ZoneInfo("Europe/Kyiv")
Lang = Literal["uk", "en"]
LANGS: tuple[Lang, ...] = ("uk", "en")

TEXT: dict[str, dict[str, str]] = {
    "uk": {
        "title": "Тривога: мапа повітряних тривог України",
        "site": "Тривога",
        "map_label": "Мапа тривог України за областями, районами та громадами",
        "active_alerts": "Активні тривоги",
        "no_alerts": "Зараз тривог немає.",
        "incidents": "Останні події",
        "no_incidents": "Повідомлень немає.",
        "since": "з",
        "lasting": "триває",
        "threats": "загрози",
        "level_red": "червоний рівень",
        "level_yellow": "жовтий рівень",
        "exercise": "НАВЧАННЯ",
        "test": "ТЕСТ",
        "exercise_note": "навчання, не справжня тривога",
        "test_note": "перевірка системи, не справжня тривога",
        "legend": "Позначення",
        "l_alert": "тривога",
        "l_yellow": "тривога, жовтий рівень",
        "l_partial": "тривога в частині",
        "l_exercise": "навчання",
        "l_test": "тест",
        "l_none": "тривоги немає",
        "updated": "Стан на",
        "offline": "Немає з’єднання з",
        "offline_tail": "кольори можуть бути застарілими",
        "live": "Наживо",
        "my_region": "Мій регіон",
        "choose": "— оберіть —",
        "notify": "Сповіщати в браузері",
        "sound": "Звук",
        "my_alert": "тривога",
        "my_clear": "відбій",
        "my_calm": "тривоги немає",
        "show_hromadas": "Показати громади",
        "zoom_in": "Збільшити", "zoom_out": "Зменшити", "zoom_reset": "Уся країна",
        "kyiv": "Київ",
        "state": "Стан",
        "own_alerts": "Тривоги",
        "inherited": "оголошено на рівні",
        "inside": "Тривоги всередині регіону",
        "shelter": "Час до укриття",
        "seconds": "с",
        "neighbours": "Сусідні регіони",
        "history": "Історія",
        "per_day": "Тривог на день (30 днів)",
        "per_month": "Годин під тривогою за місяць",
        "by_hour": "За годиною доби (початки тривог)",
        "csv": "Завантажити CSV",
        "history_note": "Враховано офіційний архів тривог, якщо його імпортовано.",
        "alerts_n": "тривог",
        "hours": "год",
        "date": "Дата",
        "month": "Місяць",
        "hour": "Година",
        "count": "Кількість",
        "st_A": "під тривогою",
        "st_P": "тривога в частині регіону",
        "st_N": "тривоги немає",
        "back": "До мапи",
        "lang_other": "English",
        "attribution": "© OpenStreetMap contributors; Made with Natural Earth",
        "api": "API",
        "kyiv_time": "час київський",
        "embargoed": "",
        "none": "немає",
        "region": "Регіон",
        "declared": "Оголошено",
        "cleared": "Відбій",
        "d": "д", "h": "год", "min": "хв",
    },
    "en": {
        "title": "Tryvoga: Ukraine air-raid alert map",
        "site": "Tryvoga",
        "map_label": "Map of alerts in Ukraine by oblast, raion and hromada",
        "active_alerts": "Active alerts",
        "no_alerts": "No alerts right now.",
        "incidents": "Latest incidents",
        "no_incidents": "No reports.",
        "since": "since",
        "lasting": "for",
        "threats": "threats",
        "level_red": "red level",
        "level_yellow": "yellow level",
        "exercise": "EXERCISE",
        "test": "TEST",
        "exercise_note": "an exercise, not a real alert",
        "test_note": "a system test, not a real alert",
        "legend": "Legend",
        "l_alert": "alert",
        "l_yellow": "alert, yellow level",
        "l_partial": "alert in part",
        "l_exercise": "exercise",
        "l_test": "test",
        "l_none": "no alert",
        "updated": "As of",
        "offline": "No connection since",
        "offline_tail": "the colours may be out of date",
        "live": "Live",
        "my_region": "My region",
        "choose": "— choose —",
        "notify": "Browser notifications",
        "sound": "Sound",
        "my_alert": "alert",
        "my_clear": "all clear",
        "my_calm": "no alert",
        "show_hromadas": "Show hromadas",
        "zoom_in": "Zoom in", "zoom_out": "Zoom out", "zoom_reset": "Whole country",
        "kyiv": "Kyiv",
        "state": "State",
        "own_alerts": "Alerts",
        "inherited": "declared for",
        "inside": "Alerts inside the region",
        "shelter": "Time to reach shelter",
        "seconds": "s",
        "neighbours": "Neighbouring regions",
        "history": "History",
        "per_day": "Alerts per day (30 days)",
        "per_month": "Hours under alert per month",
        "by_hour": "By hour of day (alert starts)",
        "csv": "Download CSV",
        "history_note": "The official alert record is included where it has been imported.",
        "alerts_n": "alerts",
        "hours": "h",
        "date": "Date",
        "month": "Month",
        "hour": "Hour",
        "count": "Count",
        "st_A": "under alert",
        "st_P": "alert in part of the region",
        "st_N": "no alert",
        "back": "To the map",
        "lang_other": "Українська",
        "attribution": "© OpenStreetMap contributors; Made with Natural Earth",
        "api": "API",
        "kyiv_time": "Kyiv time",
        "embargoed": "",
        "none": "none",
        "region": "Region",
        "declared": "Declared",
        "cleared": "All clear",
        "d": "d", "h": "h", "min": "min",
    },
}

ALERT_TYPES = {
    "uk": {"air_raid": "повітряна тривога", "artillery_shelling": "загроза артобстрілу",
           "urban_fights": "загроза вуличних боїв", "chemical": "хімічна загроза",
           "nuclear": "радіаційна загроза"},
    "en": {"air_raid": "air-raid alert", "artillery_shelling": "artillery shelling threat",
           "urban_fights": "urban fighting threat", "chemical": "chemical threat",
           "nuclear": "nuclear threat"},
}
THREATS = {
    "uk": {"drones": "ударні БпЛА", "missiles": "ракети", "ballistic": "балістика",
           "guided_bombs": "КАБи", "aviation": "авіація"},
    "en": {"drones": "attack drones", "missiles": "missiles", "ballistic": "ballistic missiles",
           "guided_bombs": "guided bombs", "aviation": "aviation"},
}
INCIDENTS = {
    "uk": {"fire": "пожежа", "debris": "падіння уламків", "explosion": "вибух",
           "damage": "руйнування", "casualties": "постраждалі", "other": "подія"},
    "en": {"fire": "fire", "debris": "falling debris", "explosion": "explosion",
           "damage": "damage", "casualties": "casualties", "other": "incident"},
}
INCIDENT_STATUS = {
    "uk": {"preliminary": "попередньо", "confirmed": "підтверджено", "retracted": "спростовано"},
    "en": {"preliminary": "preliminary", "confirmed": "confirmed", "retracted": "retracted"},
}


def lang_of(value: str | None) -> Lang:
    return "en" if value == "en" else "uk"


def kyiv_time(iso: str, now: datetime | None = None) -> str:
    """HH:MM Kyiv time; with the date (DD.MM.YYYY) when it is not today in Kyiv."""
    moment = parse_time(iso).astimezone(KYIV)
    today = (now or datetime.now(UTC)).astimezone(KYIV).date()
    if moment.date() == today:
        return moment.strftime("%H:%M")
    return moment.strftime("%d.%m.%Y %H:%M")


def duration(seconds: float, lang: Lang) -> str:
    """1 h 12 min / 1 год 12 хв; 2 d 3 h past a day. The JavaScript counter mirrors it."""
    t = TEXT[lang]
    minutes = max(0, int(seconds // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} {t['d']} {hours} {t['h']}"
    if hours:
        return f"{hours} {t['h']} {mins} {t['min']}"
    return f"{mins} {t['min']}"


__all__ = ["ALERT_TYPES", "INCIDENTS", "INCIDENT_STATUS", "KYIV", "LANGS", "TEXT", "THREATS",
           "Lang", "duration", "kyiv_time", "lang_of"]
