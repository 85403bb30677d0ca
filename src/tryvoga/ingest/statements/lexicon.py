"""The words of statements: what declares an alert or ends one, threats, incidents and
their status, sources, and the words around place names, in English, Ukrainian and Russian.
Patterns only; nothing here reads a text."""

from __future__ import annotations

import re

from tryvoga.domain.model import AlertType, IncidentKind, ThreatType
from tryvoga.domain.regions import Level

_I = re.IGNORECASE


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), _I)


ALERTS: dict[AlertType, re.Pattern[str]] = {
    AlertType.ARTILLERY_SHELLING: _any(
        r"\bartillery\s+(?:shelling\s+)?(?:alert|threat|warning)s?\b",
        r"\bthreat\s+of\s+(?:artillery\s+)?shelling\b",
        r"\bзагроз\w*\s+(?:артилерійського\s+)?(?:арт)?обстріл\w*",
        r"\bугроз\w*\s+(?:артиллерийского\s+)?(?:арт)?обстрел\w*"),
    AlertType.URBAN_FIGHTS: _any(r"\burban\s+(?:fights?|fighting|combat)\s+(?:alert|threat)",
                                 r"\bзагроз\w*\s+вуличних\s+боїв", r"\bугроз\w*\s+уличных\s+боев"),
    AlertType.CHEMICAL: _any(r"\bchemical\s+(?:alert|threat|hazard|danger)",
                             r"\bхімічн\w+\s+(?:небезпек|загроз|тривог)\w*",
                             r"\bхимическ\w+\s+(?:опасност|угроз|тревог)\w*"),
    AlertType.NUCLEAR: _any(r"\b(?:nuclear|radiation)\s+(?:alert|threat|hazard|danger)",
                            r"\b(?:радіаційн|ядерн)\w+\s+(?:небезпек|загроз|тривог)\w*",
                            r"\b(?:радиационн|ядерн)\w+\s+(?:опасност|угроз|тревог)\w*"),
    AlertType.AIR_RAID: _any(
        r"\bair[- ]?raid\s+(?:alerts?|alarms?|warnings?|sirens?)\b",
        r"\bair\s+(?:alerts?|alarms?)\b",
        r"\bair[- ]raids?\b", r"\bsirens?\b",
        r"\bповітрян\w*\s+тривог\w*", r"\bтривог[аиуою]\b", r"\bтривогу\b",
        r"\bвоздушн\w*\s+тревог\w*", r"\bтревог[аиуой]\b", r"\bсирен[аиуы]\b"),
}
ALL_CLEAR = _any(
    r"\ball[- ]clear\b",
    r"\b(?:alerts?|alarms?)\s+(?:(?:was|were|has\s+been|have\s+been|is|are)\s+)?"
    r"(?:lifted|cancell?ed|called\s+off|over|ended)\b",
    r"\b(?:alerts?|alarms?)\b[^.;:]{0,60}?\b(?:has|have)\s+(?:ended|been\s+lifted)\b",
    r"\bend\s+of\s+(?:the\s+)?(?:air[- ]raid\s+|air\s+)?(?:alert|alarm)\b",
    r"\bвідбо\w*", r"\bвідбій\b",
    r"\bтривог\w*\s+(?:скасовано|скасована|завершено|завершилась|закінчилась)\b",
    r"\bтривог\w*\b[^.;:]{0,80}?\b(?:скасован\w*|скасува\w*)",
    r"\b(?:скасовано|скасували)\s+(?:повітрян\w+\s+)?тривог\w*",
    r"\bотбо[йяюе]\w*", r"\bтревог\w*\s+(?:отменен\w*|завершен\w*|закончил\w*)",
    r"\bтревог\w*\b[^.;:]{0,80}?\bотмен\w*", r"\bотмен\w+\s+(?:воздушн\w+\s+)?тревог\w*",
    r"\b(?:alerts?|alarms?)\b[^.;:]{0,80}?\b(?:was|were|has\s+been|have\s+been)\s+"
    r"(?:lifted|cancell?ed|called\s+off)\b")
# Words about an alert that is not now: if it comes, until it ends, follow the news about it.
ALERT_NOT_NOW = _any(
    r"\b(?:у|в)\s+раз[іи]\s+(?:оголошення\s+)?(?:повітрян\w+\s+)?тривог\w*",
    r"\bв\s+случае\s+(?:объявления\s+)?(?:воздушн\w+\s+)?тревог\w*",
    r"\bin\s+(?:the\s+)?case\s+of\s+(?:an?\s+)?(?:air[- ]raid\s+|air\s+)?(?:alert|alarm)s?",
    r"\bдо\s+(?:відбою|кінця|завершення|закінчення)(?:\s+повітрян\w+)?(?:\s+тривог\w*)?",
    r"\bдо\s+(?:отбоя|конца|окончания|завершения)(?:\s+воздушн\w+)?(?:\s+тревог\w*)?",
    r"\buntil\s+(?:the\s+)?(?:all[- ]clear|end\s+of\s+the\s+(?:air[- ]raid\s+|air\s+)?"
    r"(?:alert|alarm)|(?:air[- ]raid\s+|air\s+)?(?:alert|alarm)\s+(?:is\s+)?(?:over|lifted))",
    r"\bслідкуйте\b[^.!]*", r"\bследите\b[^.!]*", r"\bfollow\s+(?:the\s+)?official\b[^.!]*",
    r"\bне\s+ігноруй\w*\b[^.!]*", r"\bне\s+игнорир\w*\b[^.!]*",
    r"\b(?:do\s+not|don['’]t)\s+ignore\b[^.!]*")
# An alert spoken of as past or as a time ("during the alert") is not a declaration...
ALERT_PAST = _any(r"\bduring\b", r"\bafter\b", r"\bbefore\b",
                  r"\bпід\s+час\b", r"\bпісля\b", r"\bво\s+время\b", r"\bпосле\b")
# An alert said to have lasted is over, whatever else the sentence says.
ALERT_OVER = _any(r"\blast(?:ed|ing)\b", r"\bтривал\w*", r"\bдлил\w*", r"\bдлив\w*",
                  r"\bпродлил\w*", r"\bпродолжал\w*", r"\bоголошувал\w*",
                  r"\bобъявлял\w*")
# ... unless it says so.
ALERT_DECLARED = _any(r"\bdeclared\b", r"\bannounced\b", r"\bsounded\b", r"\bissued\b",
                       r"\bin\s+effect\b", r"\bwent\s+off\b", r"\bput\s+on\b",
                       r"\bоголош\w*", r"\bоголоси\w*", r"\bлунає\b",
                       r"\bлунають\b", r"\bпролун\w*", r"\bтриває\b", r"\bдіє\b",
                       r"\bпоширил\w*", r"\bобъявл\w*", r"\bобъяви\w*", r"\bзвуч\w*",
                       r"\bпрозвуч\w*", r"\bдейству\w*", r"\bspread\b", r"\bunder\s+(?:an?\s+)?"
                       r"(?:air[- ]raid\s+|air\s+)?alert\b")

THREATS: dict[ThreatType, re.Pattern[str]] = {
    ThreatType.BALLISTIC: _any(r"\bballistic\w*(?:\s+missiles?)?", r"\bбалістик\w*",
                               r"\bбалістичн\w*(?:\s+ракет\w*)?", r"\bбаллистик\w*",
                               r"\bбаллистическ\w*(?:\s+ракет\w*)?"),
    ThreatType.GUIDED_BOMBS: _any(r"\bguided\s+(?:aerial\s+)?bombs?\b", r"\bglide\s+bombs?\b",
                                  r"\bKABs?\b", r"\bКАБ\w*", r"\bкерован\w+\s+авіабомб\w*",
                                  r"\bавіабомб\w*", r"\bуправляем\w+\s+авиабомб\w*",
                                  r"\bавиабомб\w*"),
    ThreatType.DRONES: _any(r"\bdrones?\b", r"\bUAVs?\b", r"\bShaheds?\b", r"\bkamikaze\b",
                            r"\bБпЛА\b", r"\bБПЛА\b", r"\bдрон\w*", r"\bшахед\w*",
                            r"\bбезпілотник\w*", r"\bбеспилотник\w*"),
    ThreatType.MISSILES: _any(r"\bmissiles?\b", r"\brockets?\b", r"\bракет\w*"),
    ThreatType.AVIATION: _any(r"\btactical\s+aviation\b", r"\bmilitary\s+aircraft\b",
                              r"\bfighter\s+jets?\b", r"\bbombers?\b", r"\bавіаці\w*",
                              r"\bавиаци\w*"),
}
# A sentence about a threat now, as opposed to one that only names a weapon.
THREAT_NOW = _any(r"\battack\w*", r"\bthreat\w*", r"\bdanger\b", r"\bair\s+defen[cs]e\w*",
                   r"\bapproach\w*", r"\bheading\b", r"\bflying\b", r"\blaunch\w*",
                   r"\bconfront\w*", r"\bshot\s+down\b", r"\bintercept\w*", r"\bairspace\b",
                   r"\bатак\w*", r"\bзагроз\w*", r"\bнебезпек\w*", r"\bППО\b",
                   r"\bпротиповітрян\w*", r"\bрух\w*", r"\bкурс\w*", r"\bлет(?:и|я)\w*",
                   r"\bзапуск\w*", r"\bзбит\w*", r"\bзбив\w*", r"\bугроз\w*", r"\bопасност\w*",
                   r"\bПВО\b", r"\bпротивовоздушн\w*", r"\bдвиж\w*", r"\bлет(?:я|и)т\w*",
                   r"\bсбит\w*", r"\bпростор\w*", r"\bпространств\w*")

INCIDENTS: dict[IncidentKind, re.Pattern[str]] = {
    IncidentKind.DEBRIS: _any(
        r"\bdebris\b", r"\bwreckage\b", r"\bfragments?\b", r"\bуламк\w*", r"\bуламок\b",
        r"\bобломк\w*", r"\bобломок\b",
        r"\bfall(?:ing)?\s+of\s+(?:an?\s+|the\s+)?(?:downed\s+)?(?:UAVs?|drones?|missiles?)\b",
        r"\bпадінн\w*\s+(?:збит\w+\s+)?(?:БпЛА|дрон\w*|ракет\w*|безпілотник\w*)",
        r"\bпадени\w*\s+(?:сбит\w+\s+)?(?:БпЛА|дрон\w*|ракет\w*|беспилотник\w*)"),
    IncidentKind.EXPLOSION: _any(r"\bexplosions?\b", r"\bblasts?\b", r"\bexploded\b",
                                 r"\bвибух\w*", r"\bвзрыв\w*"),
    IncidentKind.FIRE: _any(r"\bfires?\b", r"\bblaze\b", r"\bcaught\s+fire\b", r"\bburning\b",
                            r"\bburned\b", r"\bburnt\b", r"\bignit\w*", r"\bflames?\b",
                            r"\bпожеж\w*", r"\bзагорян\w*", r"\bзайман\w*", r"\bзайнял\w*",
                            r"\bзагорі\w*", r"\bспалахну\w*", r"\bспалахнул\w*", r"\bгорі\w*",
                            r"\bгорить\b", r"\bпожар\w*", r"\bвозгоран\w*", r"\bзагорел\w*",
                            r"\bгорит\b", r"\bгорел\w*", r"\bгорящ\w*", r"\bгоряч\w*пожар"),
    IncidentKind.DAMAGE: _any(r"\bdamag(?:e|ed|ing)\b", r"\bdestroyed\b", r"\bdestruction\b",
                              r"\bshattered\b",
                              r"\bпошкодж\w*", r"\bзруйнован\w*", r"\bруйнуван\w*",
                              r"\bруйнац\w*", r"\bвлучанн\w*", r"\bвлучил\w*", r"\bвлучив\b",
                              r"\bпоцілил\w*", r"\bповрежд\w*", r"\bразрушен\w*",
                              r"\bпопадани\w*", r"\bпостраждав\s+житлов\w*"),
    IncidentKind.CASUALTIES: _any(r"\bkilled\b", r"\binjur(?:ed|ies|y)\b", r"\bwounded\b",
                                  r"\bdead\b", r"\bcasualt(?:y|ies)\b", r"\bhospitali[sz]ed\b",
                                  r"\bзагинул\w*", r"\bзагинув\b", r"\bзагибл\w*",
                                  r"\bпоранен\w*", r"\bпоранення\b", r"\bпостраждал\w*",
                                  r"\bпостраждав\b(?!\s+житлов)", r"\bтравмован\w*",
                                  r"\bтравм\w*", r"\bпогиб\w*", r"\bранен\w*", r"\bпострадал\w*",
                                  r"\bпострадавш\w*"),
}
# Numbers of people, for casualties: "two people were killed", "поранено п'ятеро людей".
KILLED = _any(r"\bkilled\b", r"\bdead\b", r"\bdied\b", r"\bзагину\w*", r"\bзагибл\w*",
              r"\bпогиб\w*", r"\bпомер\w*", r"\bумер\w*")
INJURED = _any(r"\binjur\w*", r"\bwounded\b", r"\bhurt\b", r"\bhospitali[sz]ed\b",
               r"\bпоранен\w*", r"\bпостраждал\w*", r"\bпостраждав\b", r"\bтравм\w*",
               r"\bранен\w*", r"\bпострадал\w*", r"\bпострадавш\w*")
# Gunfire is not a fire on the ground.
NOT_A_FIRE = _any(r"\b(?:heavy|artillery|mortar|machine[- ]gun|gun|small[- ]arms|enemy|rocket|"
                   r"sniper|returned|returning|return|opened|opening|open|cease|friendly|intense|"
                   r"direct|suppressing|covering)\s+fire\b",
                   r"\bfire\s+(?:from|at|on|upon|support|fights?|fighting|exchange)\b",
                   r"\bunder\s+fire\b", r"\bcease[- ]?fires?\b")
# Drones and missiles destroyed in the air are interceptions, not damage on the ground.
_WEAPON = r"(?:drones?|missiles?|rockets?|UAVs?|Shaheds?|targets?)"
NOT_DAMAGE = _any(rf"\bdestroy\w*\s+(?:[\w-]+\s+){{0,3}}{_WEAPON}\b",
                  rf"\b{_WEAPON}\s+(?:[\w-]+\s+){{0,3}}destroyed\b",
                  r"\bno\s+(?:damage|destruction)\b", r"\bwithout\s+(?:damage|destruction)\b",
                  r"\bбез\s+(?:руйнувань|пошкоджень|разрушений|повреждений)\b",
                  r"\b(?:руйнувань|пошкоджень|разрушений|повреждений)\s+(?:немає|нема|нет)\b")
# "Постраждалих немає", "no one was injured": casualties denied are not casualties.
NO_CASUALTIES = _any(r"\bno\s+(?:one|body)\s+was\s+(?:killed|injured|hurt|wounded)"
                     r"(?:\s+or\s+(?:killed|injured|hurt|wounded))?\b",
                      r"\bno\s+(?:casualties|injuries|victims|dead|injured|deaths)"
                      r"(?:\s+or\s+(?:injuries|deaths|casualties))?\b",
                      r"\bno\s+one\s+(?:was|has\s+been)\s+(?:injured|killed|hurt)"
                      r"(?:\s+or\s+(?:killed|injured))?\b",
                      r"\b(?:data|information)\s+(?:on|about)\s+(?:the\s+)?(?:victims|casualties|"
                      r"injured)\s+(?:is|are)\s+being\s+clarified\b",
                      r"\b(?:дані|інформаці\w+)\s+(?:про|щодо)\s+(?:постраждал|загибл|поранен)\w*"
                      r"(?:\s+\w+){0,2}?\s+(?:уточню\w*|не\s+надходил\w*)",
                      r"\b(?:данные|информаци\w+)\s+(?:о|про)\s+(?:пострадавш|погибш|ранен)\w*"
                      r"(?:\s+\w+){0,2}?\s+(?:уточня\w*|не\s+поступал\w*)",
                      r"\b(?:обійшлося|обошлось)\s+без\s+(?:постраждал|пострадавш|жертв)\w*",
                      r"\bчи\s+є\s+постраждал\w*", r"\bесть\s+ли\s+пострадавш\w*",
                      r"\bwithout\s+(?:casualties|injuries)\b",
                      r"\b(?:немає|нема|без)\s+(?:загиблих|постраждалих|поранених|жертв)\b",
                      r"\b(?:загиблих|постраждалих|поранених|жертв)\s+(?:немає|нема|не\s+має)\b",
                      r"\b(?:нет|без)\s+(?:погибших|пострадавших|раненых|жертв)\b",
                      r"\b(?:погибших|пострадавших|раненых|жертв)\s+нет\b")
PRELIMINARY = _any(r"\bpreliminar\w*", r"\bunconfirmed\b", r"\bnot\s+(?:yet\s+)?confirmed\b",
                   r"\bbeing\s+(?:clarified|established|verified)\b", r"\bпопередн\w*",
                   r"\bне\s+підтвердж\w*", r"\bуточню\w*", r"\bвстановлю\w*",
                   r"\bпредварительн\w*", r"\bне\s+подтвержд\w*", r"\bуточня\w*")
CONFIRMED = _any(r"\bconfirm\w*", r"\bпідтвердж\w*", r"\bподтвержд\w*")
# What was hit: kept as written, for the incident's description.
OBJECT = _any(
    r"\b(?:an?\s+)?(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve|sixteen|"
    r"high)[- ]stor(?:e)?y\s+(?:residential\s+|apartment\s+|office\s+)?"
    r"(?:building|house|block)s?\b",
    r"\b(?:an?\s+)?(?:residential|apartment|high-rise|private|office|administrative|industrial|"
    r"non-residential)\s+(?:building|house|block|facility|complex)s?\b",
    r"\b(?:an?\s+)?(?:warehouse|garage|school|kindergarten|hospital|supermarket|"
    r"shopping\s+(?:centre|center|mall))\b",
    r"\b\d+-?\w{0,3}[- ]?поверхов\w*(?:\s+житлов\w+)?\s+будин\w*",
    r"\bбагатоповерхів\w*", r"\b(?:житлов|приватн|адміністративн|нежитлов)\w+\s+будин\w*",
    r"\b(?:склад|гараж|школ|лікарн|дитяч\w+\s+садк)\w*",
    r"\b\d+-?\w{0,3}[- ]?этажн\w*(?:\s+жил\w+)?\s+дом\w*", r"\bмногоэтажк\w*",
    r"\b(?:жил|частн|административн|нежил)\w+\s+дом\w*",
    r"\b(?:склад|гараж|школ|больниц|детск\w+\s+сад)\w*")

# Sources: a role, and where to look for the place it belongs to.
ROLES: dict[str, re.Pattern[str]] = {
    "military_administration": _any(
        r"\b(?:(?:city|municipal|regional|oblast)\s+)?military\s+"
        r"(?:administration|department|authorit(?:y|ies))\b",
        r"\b(?:(?:міськ|обласн|районн)\w*\s+)?військов\w*\s+адміністрац\w*",
        r"\b(?:(?:городск|областн|районн)\w*\s+)?военн\w*\s+администрац\w*",
        r"\b(?:КМВА|КГВА|KCMA|KMVA|ОВА|МВА|ОДА|ОГА)\b"),
    "mayor": _any(r"\bmayor\b", r"\bмер(?:а|ом|у|ові)?\b", r"\bміськ\w+\s+голов\w*",
                  r"\bмэр\w*", r"\bгородск\w+\s+голов\w*", r"\bKlitschko\b", r"\bКличк\w*"),
    "governor": _any(r"\bgovernor\b", r"\bhead\s+of\s+the\s+(?:regional|oblast)\b",
                     r"\bгубернатор\w*", r"\b(?:голов|начальник)\w*\s+(?:ОВА|ОДА|обласн\w+)"),
    "air_force": _any(r"\bair\s+force\b", r"\bповітрян\w+\s+сил\w*", r"\bвоздушн\w+\s+сил\w*"),
    "emergency_service": _any(r"\b(?:state\s+)?emergency\s+service\b", r"\brescuers\b",
                              r"\bДСНС\b", r"\bрятувальник\w*", r"\bГСЧС\b", r"\bМЧС\b",
                              r"\bспасател\w*"),
    "police": _any(r"\bpolice\b", r"\bполіці\w*", r"\bполици\w*"),
}
KYIV_ROLES = re.compile(r"\b(?:КМВА|КГВА|KCMA|KMVA|Klitschko|Кличк\w*)\b", _I)
CITY_LEVEL_WORD = re.compile(r"\b(?:city|municipal|міськ\w*|городск\w*)\b", _I)
OBLAST_LEVEL_WORD = re.compile(r"\b(?:regional|oblast|обласн\w*|областн\w*|ОВА|ОДА|ОГА)\b", _I)
# "Про це повідомила ...": the source of the sentence before.
ABOUT_THIS = re.compile(r"^\W*(?:про\s+це|об\s+этом|this\s+was\s+(?:reported|announced))\b", _I)

# A speaker going on: "She added", "Він додав".
GOES_ON = _any(r"^\W*(?:she|he|they|він|вона|вони|он|она|они)\b",
                r"\b(?:added|went\s+on|додав|додала|додали|добавил|добавила|добавили)\b")
CAPITAL = _any(r"\b(?:the\s+)?(?:Ukrainian\s+|Ukraine['’]s\s+)?capital\b", r"\bстолиц\w*",
                r"\bстоличн\w*")
WHOLE_COUNTRY = _any(r"\b(?:all\s+(?:of\s+)?|across\s+(?:all\s+of\s+)?|throughout\s+)Ukraine\b",
                      r"\bнаціональн\w+\s+тривог\w*", r"\bпо\s+всій\s+(?:території\s+)?Україні\b",
                      r"\bпо\s+всей\s+(?:территории\s+)?Украин[еы]\b", r"\bnationwide\b")
COUNTRY_NAME = re.compile(r"\bUkraine\b|\bУкраїн(?:а|и|і|у|ою)\b|\bУкраин(?:а|е|у|ы|ой)\b")
_QUANTITY = (r"(?:several|some|many|a\s+number\s+of|a\s+few|other|multiple|various|most|"
             r"\d+|two|three|four|five|six|seven|eight|nine|ten)")
_COMPASS = r"(?:eastern|western|southern|northern|central|north-?eastern|south-?eastern|" \
           r"north-?western|south-?western|frontline|front-line|border)"
VAGUE = _any(
    rf"\b{_QUANTITY}\s+(?:[\w-]+\s+){{0,2}}(?:regions|oblasts|provinces|areas|cities|districts)"
    rf"(?:\s+(?:in|of)\s+(?:the\s+)?(?:{_COMPASS}\s+Ukraine|east|west|south|north|"
    rf"country|Ukraine))?",
    rf"\b(?:the\s+)?{_COMPASS}\s+(?:regions|oblasts|areas)(?:\s+of\s+Ukraine)?",
    rf"\b{_COMPASS}\s+Ukraine\b",
    r"\bthe\s+(?:east|west|south|north)\s+of\s+(?:the\s+country|Ukraine)\b",
    r"\bin\s+(?:the|those|these)\s+regions\b(?!\s+of\b)",
    r"\b(?:у|в)\s+(?:регіонах|областях|регионах)\b(?!\s+\w)",
    r"\b(?:кількох|декількох|кілька|низці|ряді|інших|багатьох|деяких|усіх|всіх|\d+)\s+"
    r"(?:[\w'-]+\s+){0,2}(?:областях|областей|області|регіонах|регіонів|містах|районах)"
    r"(?:\s+на\s+(?:сході|заході|півдні|півночі)(?:\s+України)?)?",
    r"\b(?:східн|західн|південн|північн|центральн|прифронтов)\w+\s+(?:областях|областей|"
    r"регіонах|регіонів|області)",
    r"\bна\s+(?:сході|заході|півдні|півночі)\s+України\b",
    r"\b(?:нескольких|несколько|ряде|других|многих|некоторых|всех|\d+)\s+"
    r"(?:[\w-]+\s+){0,2}(?:областях|областей|регионах|регионов|городах|районах)"
    r"(?:\s+на\s+(?:востоке|западе|юге|севере)(?:\s+Украины)?)?",
    r"\b(?:восточн|западн|южн|северн|центральн|прифронтов)\w+\s+(?:областях|областей|"
    r"регионах|регионов)",
    r"\bна\s+(?:востоке|западе|юге|севере)\s+Украины\b")

WORD = re.compile(r"[^\W_]+(?:['’ʼ`-][^\W_]+)*")
# Words before a name that say what it is (lowercase, without a full stop).
PRE_TYPES = frozenset({"м", "місто", "місті", "міста", "г", "город", "городе", "смт", "с",
                        "село", "селі", "селище", "селищі", "city", "town", "village"})
# Words after a name that say what it is; plural ones may be shared ("Дарницькому та
# Дніпровському районах"). Russian forms are rewritten to the Ukrainian the index knows.
POST_TYPES: dict[str, str] = {
    "district": "district", "districts": "district", "raion": "raion", "rayon": "raion",
    "region": "region", "regions": "region", "oblast": "oblast", "oblasts": "oblast",
    "province": "oblast", "community": "community", "hromada": "hromada",
    "район": "район", "району": "району", "районі": "районі", "районом": "район",
    "районах": "район", "районів": "район", "районе": "районі", "района": "району",
    "районы": "район", "р-н": "р-н", "р-ні": "р-ні", "область": "область", "області": "області",
    "областю": "областю", "областях": "область", "областей": "область", "обл": "обл",
    "области": "області", "областью": "областю", "громада": "громада", "громаді": "громаді",
    "громади": "громади", "громадах": "громада",
}
PLURAL_TYPES = frozenset({"districts", "regions", "oblasts", "районах", "районів", "районы",
                           "областях", "областей", "громадах"})
DISTRICT_TYPES = frozenset({"district", "raion", "район", "району", "районі", "р-н", "р-ні"})
LOCATIVE = frozenset({"in", "at", "near", "over", "across", "around", "outside", "of", "to",
                       "from", "on", "into", "within", "у", "в", "во", "на", "біля", "поблизу",
                       "під", "над", "до", "з", "із", "по", "под", "около", "возле", "из",
                       "близ"})
FILLERS = frozenset({"the", "a"})
CONJUNCTIONS = frozenset({"and", "та", "і", "й", "и", "а", "also"})
# Capitalised words that are never places here (they open sentences, or name people, days,
# media); kept short on purpose: a bare name must also sit after a preposition of place.
NOT_PLACES = frozenset({
    "the", "a", "an", "she", "he", "it", "they", "we", "this", "that", "these", "those", "there",
    "according", "also", "and", "but", "however", "meanwhile", "earlier", "later", "today",
    "tonight", "yesterday", "in", "at", "on", "for", "from", "after", "before", "during",
    "ukraine", "ukrainian", "ukrainians", "russia", "russian", "russians", "moscow", "belarus",
    "telegram", "facebook", "twitter", "viber", "youtube", "instagram", "monday", "tuesday",
    "wednesday", "thursday", "friday", "saturday", "sunday", "у", "в", "на", "за", "це", "він",
    "вона", "вони", "ми", "також", "крім", "окрім", "внаслідок", "згідно", "після", "під", "до",
    "про", "по", "україна", "україни", "україні", "україну", "росія", "росії", "рф", "он", "она",
    "они", "мы", "это", "также", "кроме", "после", "во", "украина", "украины", "украине",
    "россия", "россии",
    # Months: "in February" is a time.
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "січень", "лютий", "березень", "квітень", "травень",
    "червень", "липень", "серпень", "вересень", "жовтень", "листопад", "грудень", "січні",
    "лютому", "березні", "квітні", "травні", "червні", "липні", "серпні", "вересні", "жовтні",
    "листопаді", "грудні", "январе", "феврале", "марте", "апреле", "мае", "июне", "июле",
    "августе", "сентябре", "октябре", "ноябре", "декабре",
})
BIG = frozenset({Level.SPECIAL_CITY, Level.CITY, Level.OBLAST})
CITIES = frozenset({Level.SPECIAL_CITY, Level.CITY})
# "У місті та області", "in the city", "в области": the city or the oblast the statement is
# about, not a name.
THE_CITY = _any(r"(?<!\w)(?:у|в)\s+(?:місті|городе)\b(?!\s+(?-i:[A-ZА-ЯІЇЄҐ]))",
                r"\bin\s+the\s+city\b(?!\s+of\b)", r"\bacross\s+the\s+city\b")
THE_OBLAST = _any(r"(?<!\w)(?:у|в|на|та|і|й|и)\s+(?:області|регіоні|области|регионе)\b"
                  r"(?!\s+(?-i:[A-ZА-ЯІЇЄҐ]))",
                  r"\b(?:and|in)\s+the\s+(?:surrounding\s+)?region\b(?!\s+of\b)")
