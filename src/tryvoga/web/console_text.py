"""The console's words in Ukrainian and English, and the HTML helpers its pages share."""

from __future__ import annotations

import html
from datetime import datetime
from importlib import resources
from string import Template
from typing import Any
from zoneinfo import ZoneInfo

from tryvoga.domain.events import parse_time

KYIV = ZoneInfo("Europe/Kyiv")
LANGS = ("uk", "en")

TEXT: dict[str, dict[str, str]] = {
    "console": {"uk": "пульт оператора", "en": "operator console"},
    "skip": {"uk": "До змісту", "en": "Skip to content"},
    "nav": {"uk": "Розділи пульта", "en": "Console sections"},
    "lang_name": {"uk": "Українська", "en": "English"},
    "home": {"uk": "Поточний стан", "en": "Current state"},
    "declare": {"uk": "Оголосити", "en": "Declare"},
    "incidents": {"uk": "Інциденти", "en": "Incidents"},
    "proposals": {"uk": "Пропозиції", "en": "Proposals"},
    "audit": {"uk": "Журнал дій", "en": "Audit trail"},
    "logout": {"uk": "Вийти", "en": "Log out"},
    "login": {"uk": "Вхід до пульта", "en": "Console login"},
    "name": {"uk": "Ім'я оператора", "en": "Operator name"},
    "password": {"uk": "Пароль", "en": "Password"},
    "log_in": {"uk": "Увійти", "en": "Log in"},
    "login_failed": {"uk": "Неправильне ім'я або пароль.", "en": "Wrong name or password."},
    "operator_locked": {"uk": "Забагато невдалих спроб: обліковий запис тимчасово заблоковано.",
                        "en": "Too many failed logins: the account is locked for a while."},
    "csrf_invalid": {"uk": "Форма застаріла або підроблена (CSRF). Відкрийте сторінку знову.",
                     "en": "The form is stale or forged (CSRF). Open the page again."},
    "who": {"uk": "{name} · {role} · зона: {scope}", "en": "{name} · {role} · scope: {scope}"},
    "role_operator": {"uk": "оператор", "en": "operator"},
    "role_approver": {"uk": "затверджувач", "en": "approver"},
    "footer": {"uk": "Час — київський. Дії записуються до журналу аудиту.",
               "en": "Times are Kyiv time. Every action is recorded in the audit trail."},
    "active": {"uk": "Активні тривоги у вашій зоні", "en": "Active alerts in your scope"},
    "none_active": {"uk": "Активних тривог немає.", "en": "No active alerts."},
    "since": {"uk": "з {time}", "en": "since {time}"},
    "end": {"uk": "Відбій", "en": "End (all clear)"},
    "withdraw": {"uk": "Відкликати: оголошено помилково",
                 "en": "Withdraw: declared in error"},
    "end_all": {"uk": "Відбій усіх тривог у регіоні {region}",
                "en": "End all alerts in {region}"},
    "threats": {"uk": "Загрози", "en": "Threats"},
    "change_threats": {"uk": "Змінити загрози", "en": "Change threats"},
    "pending": {"uk": "Запити на затвердження", "en": "Requests waiting for approval"},
    "none_pending": {"uk": "Запитів немає.", "en": "No requests."},
    "search": {"uk": "Знайти регіон (будь-яке написання: Київ, Kyiv, Kiev)",
               "en": "Find a region (any spelling: Київ, Kyiv, Kiev)"},
    "find": {"uk": "Знайти", "en": "Find"},
    "map_label": {"uk": "Мапа: оберіть область (ще раз — прибрати)",
                  "en": "Map: pick an oblast (again to remove it)"},
    "toggle": {"uk": "Додати або прибрати", "en": "Add or remove"},
    "found": {"uk": "Знайдено", "en": "Found"},
    "nothing_found": {"uk": "Нічого не знайдено у вашій зоні.",
                      "en": "Nothing found in your scope."},
    "add": {"uk": "Додати", "en": "Add"},
    "remove": {"uk": "Прибрати", "en": "Remove"},
    "selected": {"uk": "Обрані регіони", "en": "Selected regions"},
    "none_selected": {"uk": "Ще не обрано жодного регіону.", "en": "No region selected yet."},
    "type": {"uk": "Тип тривоги", "en": "Alert type"},
    "status": {"uk": "Статус", "en": "Status"},
    "note": {"uk": "Примітка", "en": "Note"},
    "source": {"uk": "Джерело", "en": "Source"},
    "review": {"uk": "Перевірити перед надсиланням", "en": "Review before sending"},
    "confirm_title": {"uk": "Підтвердження: що буде надіслано",
                      "en": "Confirm: exactly what goes out"},
    "regions_cover": {"uk": "{n} регіон(и), що охоплюють {h} громад(и)",
                      "en": "{n} region(s) covering {h} hromada(s)"},
    "reach": {"uk": "Кого це досягне", "en": "What it reaches"},
    "reach_streams": {"uk": "{n} підключених потоків (SSE, WebSocket, NDJSON) на цьому сервері",
                      "en": "{n} connected streams (SSE, WebSocket, NDJSON) on this server"},
    "reach_webhooks": {"uk": "{n} вебхуків, що стежать за цими регіонами",
                       "en": "{n} webhooks watching these regions"},
    "reach_cap": {"uk": "повідомлення CAP 1.2 у стрічках /cap/feed.atom і /cap/feed.rss",
                  "en": "a CAP 1.2 message in the feeds /cap/feed.atom and /cap/feed.rss"},
    "reach_public": {"uk": "публічна мапа, API /api/v1 і сумісні API (alerts.in.ua, "
                     "ukrainealarm)", "en": "the public map, the /api/v1 API and the "
                     "compatible APIs (alerts.in.ua, ukrainealarm)"},
    "needs_approval": {"uk": "Потрібне затвердження другим оператором (правило двох осіб): {why}. "
                       "Нічого не буде надіслано до затвердження.",
                       "en": "A second operator must approve this (two-person rule): {why}. "
                       "Nothing goes out before approval."},
    "request_approval": {"uk": "Надіслати запит на затвердження",
                         "en": "Request approval"},
    "back": {"uk": "Назад, змінити", "en": "Back, change it"},
    "declared": {"uk": "Оголошено: {n} тривог(и).", "en": "Declared: {n} alert(s)."},
    "declared_replayed": {"uk": "Цю форму вже надіслано; повторно нічого не оголошено.",
                          "en": "This form was already sent; nothing was declared twice."},
    "see_public": {"uk": "Переглянути публічний стан", "en": "See the public state"},
    "approval": {"uk": "Запит №{id}", "en": "Request #{id}"},
    "requested_by": {"uk": "Запит від {name}, {time}; чинний до {until}",
                     "en": "Requested by {name} at {time}; valid until {until}"},
    "approve": {"uk": "Затвердити і надіслати", "en": "Approve and send"},
    "reject": {"uk": "Відхилити", "en": "Reject"},
    "cancel": {"uk": "Скасувати запит", "en": "Cancel the request"},
    "reason": {"uk": "Причина", "en": "Reason"},
    "own_request": {"uk": "Це ваш запит: затвердити його має інший оператор із роллю "
                    "затверджувача.", "en": "This is your own request: another operator with "
                    "the approver role must approve it."},
    "not_approver": {"uk": "Затверджувати можуть лише оператори з роллю затверджувача.",
                     "en": "Only operators with the approver role may approve."},
    "state_pending": {"uk": "очікує затвердження", "en": "waiting for approval"},
    "state_approved": {"uk": "затверджено й надіслано", "en": "approved and sent"},
    "state_rejected": {"uk": "відхилено", "en": "rejected"},
    "state_cancelled": {"uk": "скасовано", "en": "cancelled"},
    "state_lapsed": {"uk": "прострочено: не затверджено вчасно",
                     "en": "lapsed: not approved in time"},
    "why_chemical_or_nuclear": {"uk": "хімічна або радіаційна тривога",
                                "en": "a chemical or nuclear alert"},
    "why_several_oblasts": {"uk": "більше ніж одна область", "en": "more than one oblast"},
    "why_whole_country": {"uk": "уся країна", "en": "the whole country"},
    "why_actual": {"uk": "справжня тривога (налаштування сервера)",
                   "en": "an actual alert (a server setting)"},
    "incident_report": {"uk": "Повідомити про інцидент", "en": "Report an incident"},
    "kind": {"uk": "Вид", "en": "Kind"},
    "region": {"uk": "Регіон (код або назва)", "en": "Region (code or name)"},
    "description": {"uk": "Опис", "en": "Description"},
    "embargo": {"uk": "Ембарго до (київський час; порожньо — одразу публічно)",
                "en": "Embargo until (Kyiv time; empty: public at once)"},
    "report": {"uk": "Повідомити", "en": "Report"},
    "update": {"uk": "Оновити", "en": "Update"},
    "none_incidents": {"uk": "Інцидентів немає.", "en": "No incidents."},
    "none_proposals": {"uk": "Пропозицій, що очікують, немає.",
                       "en": "No proposals waiting."},
    "accept": {"uk": "Прийняти", "en": "Accept"},
    "filter": {"uk": "Фільтр", "en": "Filter"},
    "actor": {"uk": "Хто", "en": "Who"},
    "action": {"uk": "Дія", "en": "Action"},
    "when": {"uk": "Коли", "en": "When"},
    "detail": {"uk": "Подробиці", "en": "Detail"},
    "audit_own": {"uk": "Ви бачите лише власні дії (увесь журнал — для зони UA).",
                  "en": "You see your own actions only (the whole trail needs scope UA)."},
    "error": {"uk": "Помилка", "en": "Error"},
    "done": {"uk": "Готово.", "en": "Done."},
    "ended_n": {"uk": "Відбій: {n} тривог(и).", "en": "Ended: {n} alert(s)."},
    "requested": {"uk": "Запит №{id} створено; він чекає на другого оператора.",
                  "en": "Request #{id} created; it waits for a second operator."},
}

STATUS_WORDS = {
    "actual": {"uk": "СПРАВЖНЯ ТРИВОГА — НЕ НАВЧАННЯ", "en": "ACTUAL ALERT — NOT A DRILL"},
    "exercise": {"uk": "НАВЧАННЯ — не справжня тривога", "en": "EXERCISE — not a real alert"},
    "test": {"uk": "ТЕСТ — не справжня тривога", "en": "TEST — not a real alert"},
}
STATUS_SHORT = {
    "actual": {"uk": "Справжня", "en": "Actual"},
    "exercise": {"uk": "НАВЧАННЯ", "en": "EXERCISE"},
    "test": {"uk": "ТЕСТ", "en": "TEST"},
}
SEND_WORDS = {
    "actual": {"uk": "Оголосити СПРАВЖНЮ тривогу", "en": "Declare the ACTUAL alert"},
    "exercise": {"uk": "Почати НАВЧАННЯ", "en": "Start the EXERCISE"},
    "test": {"uk": "Надіслати ТЕСТ", "en": "Send the TEST"},
}
TYPES = {
    "air_raid": {"uk": "Повітряна тривога", "en": "Air raid"},
    "artillery_shelling": {"uk": "Загроза артобстрілу", "en": "Artillery shelling"},
    "urban_fights": {"uk": "Вуличні бої", "en": "Urban fights"},
    "chemical": {"uk": "Хімічна загроза", "en": "Chemical threat"},
    "nuclear": {"uk": "Радіаційна загроза", "en": "Nuclear threat"},
}
THREATS = {
    "drones": {"uk": "ударні БпЛА", "en": "attack drones"},
    "missiles": {"uk": "ракети", "en": "missiles"},
    "ballistic": {"uk": "балістика", "en": "ballistic missiles"},
    "guided_bombs": {"uk": "КАБи", "en": "guided bombs"},
    "aviation": {"uk": "авіація", "en": "aviation"},
}
LEVELS = {"red": {"uk": "червоний", "en": "red"}, "yellow": {"uk": "жовтий", "en": "yellow"}}
INCIDENT_KINDS = {
    "fire": {"uk": "пожежа", "en": "fire"}, "debris": {"uk": "уламки", "en": "debris"},
    "explosion": {"uk": "вибух", "en": "explosion"}, "damage": {"uk": "руйнування",
                                                              "en": "damage"},
    "casualties": {"uk": "постраждалі", "en": "casualties"}, "other": {"uk": "інше",
                                                                     "en": "other"},
}
INCIDENT_STATUSES = {
    "preliminary": {"uk": "попередньо", "en": "preliminary"},
    "confirmed": {"uk": "підтверджено", "en": "confirmed"},
    "retracted": {"uk": "спростовано", "en": "retracted"},
}


def t(lang: str, key: str, **values: Any) -> str:
    text = TEXT[key].get(lang) or TEXT[key]["en"]
    return text.format(**values) if values else text


def word(table: dict[str, dict[str, str]], key: str, lang: str) -> str:
    return table.get(key, {}).get(lang, key)


def h(value: Any) -> str:
    return html.escape(str(value), quote=True)


def kyiv(time: str | None, lang: str) -> str:
    """A log time as people read it: Kyiv time, with the date."""
    if not time:
        return ""
    moment = parse_time(time).astimezone(KYIV)
    return moment.strftime("%d.%m.%Y %H:%M")


def kyiv_epoch(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, KYIV).strftime("%d.%m.%Y %H:%M")


_TEMPLATE: Template | None = None


def template() -> Template:
    global _TEMPLATE
    if _TEMPLATE is None:
        text = (resources.files("tryvoga") / "web" / "templates" / "console.html").read_text(
            "utf-8")
        _TEMPLATE = Template(text)
    return _TEMPLATE


def static(name: str) -> bytes | None:
    if name not in ("console.css", "console.js"):
        return None
    return (resources.files("tryvoga") / "web" / "static" / name).read_bytes()
