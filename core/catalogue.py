"""Every text the coordinators, the assistants and the team chat read, per language. Pure data.

One plain mapping per language (sv, da, nb, en) of message keys to ``str.format`` strings. Swedish is
the reference: a language or a key that is missing falls back to it. Values are filled in by the caller
already rendered (month labels come from Babel via ``core.months.month_label``).

Keys that end in ``.one`` / ``.other`` are plural forms, chosen with Babel's plural rules by
``render_plural``. A key per state (``status.part.<state>``, ``status.list.<filter>``) keeps each state
one more entry, not one more branch in code.
"""
from __future__ import annotations

from functools import lru_cache

from babel import Locale

LANGUAGES = ("sv", "da", "nb", "en")
BABEL_LOCALE = {"sv": "sv_SE", "da": "da_DK", "nb": "nb_NO", "no": "nb_NO", "en": "en_GB"}

SV: dict[str, str] = {
    # --- the reminder SMS (the contract's words)
    "reminder": "Hej! Det här är en påminnelse om att du har pass kvar att närvaroregistrera/signera i {app} "
                "för {month}",
    # --- months
    "month.not_started": "{month} har inte börjat än. Välj en månad som har varit, t.ex. {example}.",
    "month.implicit": "Ingen månad angiven, så jag tog förra månaden ({month}).",
    "month.without_year": "Du skrev {name} utan år, så jag tog {month}.",
    # --- narrowing
    "scope.recipient": "brukare {name}",
    "scope.supervisor": "arbetsledare {name}",
    "scope.person": "person {name}",
    "scope.join": ", ",
    "find.no_recipient": "Hittar ingen brukare som heter '{name}' bland dina brukare.",
    "find.many_recipients": "Flera brukare matchar: {names}. Skriv hela namnet.",
    "find.no_supervisor": "Hittar ingen arbetsledare som heter '{name}'.",
    "find.many_supervisors": "Flera arbetsledare matchar: {names}. Skriv hela namnet.",
    "find.not_supervised": "{supervisor} är inte arbetsledare för {recipient}.",
    "find.no_person": "Hittar ingen som heter eller har numret '{who}' bland dina assistenter.",
    "find.many_people": "Flera matchar '{who}': {options}. Skriv hela namnet eller mobilnumret.",
    "find.no_mobile": "ingen mobil",
    "find.deactivated": "{name} finns inte längre i personallistan (avslutad i verksamhetssystemet). Ingen påminnelse skickad.",
    # --- why someone is not reminded ("{n} {reason}")
    "reason.due": "redo",
    "reason.nothing_to_report": "har inget kvar att rapportera",
    "reason.reminders_off": "har påminnelser avstängda",
    "reason.recipient_reminders_off": "arbetar hos brukare med påminnelser avstängda",
    "reason.no_mobile": "saknar mobilnummer",
    "reason.reminded_recently": "fick påminnelse de senaste 2 timmarna",
    "reason.waiting": "har en påminnelse som väntar på att skickas",
    "status.part.waiting": "{n} väntar på att skickas",
    "one.waiting": "Ingen ny påminnelse skickad: {name} har redan en påminnelse för {month} som väntar på att skickas.",
    "list.join": ", ",
    # --- PÅMINN ALLA
    "round.sent.one": "{n} påminnelse för {month}{scope} skickade ({segments} SMS-delar).",
    "round.sent.other": "{n} påminnelser för {month}{scope} skickade ({segments} SMS-delar).",
    "round.held": "Inte skickade: {held}.",
    "round.done": "{n} har redan rapporterat allt.",
    "round.quiet": "Tysta timmar: SMS:en går ut kl {time}.",
    "round.none.no_shifts": "0 påminnelser för {month}{scope} skickade: ingen har pass den månaden.",
    "round.none.all_done": "0 påminnelser för {month}{scope} skickade: alla med pass den månaden har redan "
                           "rapporterat allt.",
    "round.none.one_reason.one": "0 påminnelser för {month}{scope} skickade: den enda med pass kvar {reason}.",
    "round.none.one_reason.other": "0 påminnelser för {month}{scope} skickade: alla {n} med pass kvar {reason}.",
    "round.none.mixed": "0 påminnelser för {month}{scope} skickade: ingen med pass kvar kunde påminnas.",
    "team.round": "{coordinator} skickade påminnelser för {month}{scope}: {sent} skickade.",
    "team.round.held": " Inte skickade: {held}.",
    "team.round.quiet": " Går ut kl {time} (tysta timmar).",
    # --- PÅMINN <namn>
    "one.sent": "Påminnelse för {month} skickad till {name}{where}.{later}",
    "one.later": " Den går ut kl {time} (tysta timmar).",
    "one.no_shifts": "{name} har inga pass i {month}.",
    "one.nothing_to_report": "Ingen påminnelse skickad: {name} har inget kvar att rapportera för {month}.",
    "one.reminders_off": "Ingen påminnelse skickad: {name} har påminnelser avstängda för {month}.",
    "one.recipient_reminders_off": "Ingen påminnelse för {month} skickad: {name} har bara pass kvar hos brukare "
                                   "med påminnelser avstängda.",
    "one.no_mobile": "Ingen påminnelse för {month} skickad: {name} har inget mobilnummer.",
    # --- STATUS
    "status.head": "Status {month}{scope}: {parts}.",
    "status.part.ready": "{n} redo",
    "status.part.recent": "{n} nyss påminda",
    "status.part.off": "{n} avstängda",
    "status.part.no_mobile": "{n} saknar mobil",
    "status.part.done": "{n} klara",
    "status.list.ready": "Redo för påminnelse ({n}):",
    "status.list.off": "Med påminnelser avstängda ({n}):",
    "status.list.no_mobile": "Utan mobilnummer ({n}):",
    "status.list.all": "Alla med pass ({n}):",
    "status.empty.ready": "Ingen redo för påminnelse.",
    "status.empty.off": "Ingen med påminnelser avstängda.",
    "status.empty.no_mobile": "Ingen utan mobilnummer.",
    "status.empty.all": "Ingen har pass den månaden.",
    "status.person": "{name}: {left}",
    "status.left.report": "{n} att registrera",
    "status.left.sign": "{n} att signera",
    "status.left.done": "klar",
    "more": " …och {n} till",
    # --- what the parser could not read
    "malformed.remind": "Skriv vem som ska påminnas, t.ex. PÅMINN ALLA maj eller PÅMINN Anna maj.",
    "malformed.narrow": "Jag förstod inte '{tail}'. Skriv t.ex. PÅMINN ALLA maj BRUKARE Rolf "
                        "eller PÅMINN ALLA maj ARBETSLEDARE Lisa.",
    "malformed.status": "Okänt filter '{tail}'. Skriv STATUS maj REDO, AVSTÄNGDA, SAKNAR MOBIL eller ALLA.",
    # --- suggestions after a typo ("Menade du …?")
    "suggest.remind_all": "PÅMINN ALLA {month}",
    "suggest.status": "STATUS {month}",
    "suggest.ok": "OK",
    "suggest.stop": "STOPP",
    "suggest.start": "START",
    "suggest.help": "HJÄLP",
    # --- help and refusals
    "help.coordinator": "Kommandon: PÅMINN ALLA maj | PÅMINN ALLA maj BRUKARE <namn> | PÅMINN ALLA maj "
                        "ARBETSLEDARE <namn> | PÅMINN <namn eller mobil> maj | STATUS maj "
                        "[REDO|AVSTÄNGDA|SAKNAR MOBIL|ALLA] | STOPP | START",
    "help.coordinator.narrow": ". STATUS tar också BRUKARE <namn> och/eller ARBETSLEDARE <namn>.",
    "unknown_sender": "Det här numret finns inte hos Påminn. Kontakta din arbetsgivare om du ska få påminnelser hit.",
    "not_yours": "Det kommandot kan bara samordnare och arbetsledare använda. Du kan svara OK, STOPP, START "
                 "eller HJÄLP.",
    "unknown.coordinator": "Jag förstod inte det.{did_you_mean} Skriv HJÄLP för alla kommandon.",
    # --- the assistant's side
    "assistant.ack": "Tack! Vi har noterat att du sett påminnelsen för {month}.",
    "assistant.nothing_to_ack": "Tack! Du har ingen påminnelse att bekräfta just nu.",
    "assistant.stopped": "Påminnelserna är avstängda. Svara START om du vill få dem igen.",
    "assistant.started": "Påminnelserna är påslagna igen.",
    "assistant.help": "Svara OK när du har sett påminnelsen. STOPP stänger av påminnelserna, START slår på dem "
                      "igen. Frågor om dina pass? Kontakta din samordnare.",
    "assistant.forwarded": "Tack, ditt meddelande har skickats vidare till din samordnare.",
    "assistant.unknown": "Jag förstod inte det.",
    "assistant.did_you_mean": " Menade du {suggestion}?",
    "assistant.write_help": " Skriv HJÄLP för hjälp.",
    # --- the team chat
    "team.ack_header": "Har bekräftat påminnelsen:",
    "team.ack_line": "✓ {name} ({month})",
    "team.stopped": "{name} har stängt av sina påminnelser (STOPP).",
    "team.forwarded": "Meddelande från {name}: {body}",
    "team.all_done": "Alla har rapporterat för {month}. 🎉",
    "team.failed": "Leverans misslyckades: {name} {what}.",
    "team.failed.blocked": "har blockerat boten i Telegram; påminnelserna går som SMS",
    "team.failed.unsubscribed": "har avregistrerat sig från SMS (STOP hos operatören); påminnelserna är avstängda",
    "team.failed.invalid_number": "har ett ogiltigt mobilnummer; rätta det i verksamhetssystemet",
    "team.failed.other": "kunde inte nås ({reason})",
    "team.unconfirmed": "Osäker leverans: {channel} avbröts mitt i sändningen, så vi vet inte om påminnelsen kom "
                        "fram till dessa. Den skickas inte om av sig själv; skriv PÅMINN <namn> om den behövs.",
    "channel.sms": "SMS",
    "channel.telegram": "Telegram",
    "channel.simulator": "simulatorn",
    # --- Telegram's buttons under STATUS
    "tg.filter.ready": "Redo",
    "tg.filter.off": "Avstängda",
    "tg.filter.no_mobile": "Saknar mobil",
    "tg.filter.all": "Alla",
    "tg.remind_all": "Skicka påminnelse till alla",
    "tg.confirm": "Skicka påminnelse till alla som är redo för {month}?",
    "tg.yes": "Ja, skicka",
    "tg.cancel": "Avbryt",
    # --- automatic rounds and escalation (handlers.auto_rounds)
    "auto.actor": "Den automatiska rundan",
    "auto.summary": "Automatisk påminnelserunda enligt schemat:\n{summary}",
    "escalation.head": "Har fortfarande pass kvar för {month} efter {times} påminnelser:",
    "escalation.person": "• {name}",
}

DA: dict[str, str] = {
    "reminder": "Hej! Dette er en påmindelse om, at du har vagter tilbage at registrere/signere i {app} for {month}",
    "month.not_started": "{month} er ikke begyndt endnu. Vælg en måned, der er gået, f.eks. {example}.",
    "month.implicit": "Ingen måned angivet, så jeg tog sidste måned ({month}).",
    "month.without_year": "Du skrev {name} uden år, så jeg tog {month}.",
    "scope.recipient": "borger {name}",
    "scope.supervisor": "arbejdsleder {name}",
    "scope.person": "person {name}",
    "find.no_recipient": "Jeg kan ikke finde en borger ved navn '{name}' blandt dine borgere.",
    "find.many_recipients": "Flere borgere passer: {names}. Skriv hele navnet.",
    "find.no_supervisor": "Jeg kan ikke finde en arbejdsleder ved navn '{name}'.",
    "find.many_supervisors": "Flere arbejdsledere passer: {names}. Skriv hele navnet.",
    "find.not_supervised": "{supervisor} er ikke arbejdsleder for {recipient}.",
    "find.no_person": "Jeg kan ikke finde nogen med navnet eller nummeret '{who}' blandt dine hjælpere.",
    "find.many_people": "Flere passer på '{who}': {options}. Skriv hele navnet eller mobilnummeret.",
    "find.no_mobile": "intet mobilnummer",
    "find.deactivated": "{name} er ikke længere på personalelisten (afsluttet i fagsystemet). Ingen påmindelse sendt.",
    "reason.due": "klar",
    "reason.nothing_to_report": "har ikke mere at registrere",
    "reason.reminders_off": "har slået påmindelser fra",
    "reason.recipient_reminders_off": "arbejder kun hos borgere med påmindelser slået fra",
    "reason.no_mobile": "mangler mobilnummer",
    "reason.reminded_recently": "fik en påmindelse inden for de sidste 2 timer",
    "reason.waiting": "har en påmindelse, der venter på at blive sendt",
    "status.part.waiting": "{n} venter på at blive sendt",
    "one.waiting": "Ingen ny påmindelse sendt: {name} har allerede en påmindelse for {month}, der venter på at blive sendt.",
    "round.sent.one": "{n} påmindelse for {month}{scope} sendt ({segments} SMS-dele).",
    "round.sent.other": "{n} påmindelser for {month}{scope} sendt ({segments} SMS-dele).",
    "round.held": "Ikke sendt: {held}.",
    "round.done": "{n} har allerede registreret alt.",
    "round.quiet": "Stille timer: SMS'erne sendes kl. {time}.",
    "round.none.no_shifts": "0 påmindelser for {month}{scope} sendt: ingen har vagter i den måned.",
    "round.none.all_done": "0 påmindelser for {month}{scope} sendt: alle med vagter i den måned har allerede "
                           "registreret alt.",
    "round.none.one_reason.one": "0 påmindelser for {month}{scope} sendt: den eneste med vagter tilbage {reason}.",
    "round.none.one_reason.other": "0 påmindelser for {month}{scope} sendt: alle {n} med vagter tilbage {reason}.",
    "round.none.mixed": "0 påmindelser for {month}{scope} sendt: ingen med vagter tilbage kunne få en påmindelse.",
    "team.round": "{coordinator} sendte påmindelser for {month}{scope}: {sent} sendt.",
    "team.round.held": " Ikke sendt: {held}.",
    "team.round.quiet": " Sendes kl. {time} (stille timer).",
    "one.sent": "Påmindelse for {month} sendt til {name}{where}.{later}",
    "one.later": " Den sendes kl. {time} (stille timer).",
    "one.no_shifts": "{name} har ingen vagter i {month}.",
    "one.nothing_to_report": "Ingen påmindelse sendt: {name} har ikke mere at registrere for {month}.",
    "one.reminders_off": "Ingen påmindelse for {month} sendt: {name} har slået påmindelser fra.",
    "one.recipient_reminders_off": "Ingen påmindelse for {month} sendt: {name} har kun vagter tilbage hos borgere "
                                   "med påmindelser slået fra.",
    "one.no_mobile": "Ingen påmindelse for {month} sendt: {name} har intet mobilnummer.",
    "status.part.ready": "{n} klar",
    "status.part.recent": "{n} påmindet for nylig",
    "status.part.off": "{n} slået fra",
    "status.part.no_mobile": "{n} mangler mobil",
    "status.part.done": "{n} færdige",
    "status.list.ready": "Klar til påmindelse ({n}):",
    "status.list.off": "Med påmindelser slået fra ({n}):",
    "status.list.no_mobile": "Uden mobilnummer ({n}):",
    "status.list.all": "Alle med vagter ({n}):",
    "status.empty.ready": "Ingen er klar til en påmindelse.",
    "status.empty.off": "Ingen har slået påmindelser fra.",
    "status.empty.no_mobile": "Alle har et mobilnummer.",
    "status.empty.all": "Ingen har vagter i den måned.",
    "status.left.report": "{n} at registrere",
    "status.left.sign": "{n} at signere",
    "status.left.done": "færdig",
    "more": " …og {n} mere",
    "malformed.remind": "Skriv, hvem der skal have en påmindelse, f.eks. PÅMIND ALLE maj eller PÅMIND Anna maj.",
    "malformed.narrow": "Jeg forstod ikke '{tail}'. Skriv f.eks. PÅMIND ALLE maj BORGER Rolf "
                        "eller PÅMIND ALLE maj ARBEJDSLEDER Lisa.",
    "malformed.status": "Ukendt filter '{tail}'. Skriv STATUS maj KLAR, SLÅET FRA, MANGLER MOBIL eller ALLE.",
    "suggest.remind_all": "PÅMIND ALLE {month}",
    "suggest.stop": "STOP",
    "suggest.help": "HJÆLP",
    "help.coordinator": "Kommandoer: PÅMIND ALLE maj | PÅMIND ALLE maj BORGER <navn> | PÅMIND ALLE maj "
                        "ARBEJDSLEDER <navn> | PÅMIND <navn eller mobil> maj | STATUS maj "
                        "[KLAR|SLÅET FRA|MANGLER MOBIL|ALLE] | STOP | START",
    "help.coordinator.narrow": ". STATUS kan også afgrænses med BORGER <navn> og/eller ARBEJDSLEDER <navn>.",
    "not_yours": "Den kommando kan kun koordinatorer og arbejdsledere bruge. Du kan svare OK, STOP, START "
                 "eller HJÆLP.",
    "unknown.coordinator": "Det forstod jeg ikke.{did_you_mean} Skriv HJÆLP for at se alle kommandoer.",
    "assistant.ack": "Tak! Vi har noteret, at du har set påmindelsen for {month}.",
    "assistant.nothing_to_ack": "Tak! Du har ingen påmindelse at bekræfte lige nu.",
    "assistant.stopped": "Påmindelserne er slået fra. Svar START, hvis du vil have dem igen.",
    "assistant.started": "Påmindelserne er slået til igen.",
    "assistant.help": "Svar OK, når du har set påmindelsen. STOP slår påmindelserne fra, START slår dem til igen. "
                      "Spørgsmål om dine vagter? Kontakt din koordinator.",
    "assistant.forwarded": "Tak, din besked er sendt videre til din koordinator.",
    "assistant.unknown": "Det forstod jeg ikke.",
    "assistant.did_you_mean": " Mente du {suggestion}?",
    "assistant.write_help": " Skriv HJÆLP for hjælp.",
    "team.ack_header": "Har bekræftet påmindelsen:",
    "team.stopped": "{name} har slået sine påmindelser fra (STOP).",
    "team.forwarded": "Besked fra {name}: {body}",
    "team.all_done": "Alle har registreret for {month}. 🎉",
    "team.failed": "Levering mislykkedes: {name} {what}.",
    "team.failed.blocked": "har blokeret botten i Telegram; påmindelserne sendes som SMS",
    "team.failed.unsubscribed": "har afmeldt SMS (STOP hos teleselskabet); påmindelserne er slået fra",
    "team.failed.invalid_number": "har et ugyldigt mobilnummer; ret det i fagsystemet",
    "team.failed.other": "kunne ikke nås ({reason})",
    "team.unconfirmed": "Usikker levering: {channel} blev afbrudt midt i afsendelsen, så vi ved ikke, om "
                        "påmindelsen nåede frem til disse. Den sendes ikke igen af sig selv; skriv PÅMIND <navn>, "
                        "hvis der er brug for den.",
    "channel.simulator": "simulatoren",
    "tg.filter.ready": "Klar",
    "tg.filter.off": "Slået fra",
    "tg.filter.no_mobile": "Mangler mobil",
    "tg.filter.all": "Alle",
    "tg.remind_all": "Send påmindelse til alle",
    "tg.confirm": "Send en påmindelse til alle, der er klar, for {month}?",
    "tg.yes": "Ja, send",
    "tg.cancel": "Annuller",
    # --- automatic rounds and escalation (handlers.auto_rounds)
    "auto.actor": "Den automatiske runde",
    "auto.summary": "Automatisk påmindelsesrunde efter planen:\n{summary}",
    "escalation.head": "Har stadig vagter tilbage for {month} efter {times} påmindelser:",
    "escalation.person": "• {name}",
}

NB: dict[str, str] = {
    "reminder": "Hei! Dette er en påminnelse om at du har vakter igjen å registrere/signere i {app} for {month}",
    "month.not_started": "{month} har ikke begynt ennå. Velg en måned som har vært, f.eks. {example}.",
    "month.implicit": "Ingen måned oppgitt, så jeg tok forrige måned ({month}).",
    "month.without_year": "Du skrev {name} uten år, så jeg tok {month}.",
    "scope.recipient": "bruker {name}",
    "scope.supervisor": "arbeidsleder {name}",
    "scope.person": "person {name}",
    "find.no_recipient": "Finner ingen bruker som heter '{name}' blant brukerne dine.",
    "find.many_recipients": "Flere brukere passer: {names}. Skriv hele navnet.",
    "find.no_supervisor": "Finner ingen arbeidsleder som heter '{name}'.",
    "find.many_supervisors": "Flere arbeidsledere passer: {names}. Skriv hele navnet.",
    "find.not_supervised": "{supervisor} er ikke arbeidsleder for {recipient}.",
    "find.no_person": "Finner ingen som heter eller har nummeret '{who}' blant assistentene dine.",
    "find.many_people": "Flere passer til '{who}': {options}. Skriv hele navnet eller mobilnummeret.",
    "find.no_mobile": "ingen mobil",
    "find.deactivated": "{name} står ikke lenger på personallisten (avsluttet i fagsystemet). Ingen påminnelse sendt.",
    "reason.due": "klar",
    "reason.nothing_to_report": "har ikke mer å registrere",
    "reason.reminders_off": "har slått av påminnelser",
    "reason.recipient_reminders_off": "jobber bare hos brukere med påminnelser slått av",
    "reason.no_mobile": "mangler mobilnummer",
    "reason.reminded_recently": "fikk påminnelse de siste 2 timene",
    "reason.waiting": "har en påminnelse som venter på å bli sendt",
    "status.part.waiting": "{n} venter på å bli sendt",
    "one.waiting": "Ingen ny påminnelse sendt: {name} har allerede en påminnelse for {month} som venter på å bli sendt.",
    "round.sent.one": "{n} påminnelse for {month}{scope} sendt ({segments} SMS-deler).",
    "round.sent.other": "{n} påminnelser for {month}{scope} sendt ({segments} SMS-deler).",
    "round.held": "Ikke sendt: {held}.",
    "round.done": "{n} har allerede registrert alt.",
    "round.quiet": "Stille timer: SMS-ene sendes kl. {time}.",
    "round.none.no_shifts": "0 påminnelser for {month}{scope} sendt: ingen har vakter den måneden.",
    "round.none.all_done": "0 påminnelser for {month}{scope} sendt: alle med vakter den måneden har allerede "
                           "registrert alt.",
    "round.none.one_reason.one": "0 påminnelser for {month}{scope} sendt: den eneste med vakter igjen {reason}.",
    "round.none.one_reason.other": "0 påminnelser for {month}{scope} sendt: alle {n} med vakter igjen {reason}.",
    "round.none.mixed": "0 påminnelser for {month}{scope} sendt: ingen med vakter igjen kunne få påminnelse.",
    "team.round": "{coordinator} sendte påminnelser for {month}{scope}: {sent} sendt.",
    "team.round.held": " Ikke sendt: {held}.",
    "team.round.quiet": " Sendes kl. {time} (stille timer).",
    "one.sent": "Påminnelse for {month} sendt til {name}{where}.{later}",
    "one.later": " Den sendes kl. {time} (stille timer).",
    "one.no_shifts": "{name} har ingen vakter i {month}.",
    "one.nothing_to_report": "Ingen påminnelse sendt: {name} har ikke mer å registrere for {month}.",
    "one.reminders_off": "Ingen påminnelse for {month} sendt: {name} har slått av påminnelser.",
    "one.recipient_reminders_off": "Ingen påminnelse for {month} sendt: {name} har bare vakter igjen hos brukere "
                                   "med påminnelser slått av.",
    "one.no_mobile": "Ingen påminnelse for {month} sendt: {name} har ikke mobilnummer.",
    "status.part.ready": "{n} klare",
    "status.part.recent": "{n} nylig påminnet",
    "status.part.off": "{n} slått av",
    "status.part.no_mobile": "{n} mangler mobil",
    "status.part.done": "{n} ferdige",
    "status.list.ready": "Klare for påminnelse ({n}):",
    "status.list.off": "Med påminnelser slått av ({n}):",
    "status.list.no_mobile": "Uten mobilnummer ({n}):",
    "status.list.all": "Alle med vakter ({n}):",
    "status.empty.ready": "Ingen er klare for påminnelse.",
    "status.empty.off": "Ingen har slått av påminnelser.",
    "status.empty.no_mobile": "Alle har mobilnummer.",
    "status.empty.all": "Ingen har vakter den måneden.",
    "status.left.report": "{n} å registrere",
    "status.left.sign": "{n} å signere",
    "status.left.done": "ferdig",
    "more": " …og {n} til",
    "malformed.remind": "Skriv hvem som skal få påminnelse, f.eks. PÅMINN ALLE mai eller PÅMINN Anna mai.",
    "malformed.narrow": "Jeg forsto ikke '{tail}'. Skriv f.eks. PÅMINN ALLE mai BRUKER Rolf "
                        "eller PÅMINN ALLE mai ARBEIDSLEDER Lisa.",
    "malformed.status": "Ukjent filter '{tail}'. Skriv STATUS mai KLAR, AVSLÅTT, MANGLER MOBIL eller ALLE.",
    "suggest.remind_all": "PÅMINN ALLE {month}",
    "suggest.stop": "STOPP",
    "suggest.help": "HJELP",
    "help.coordinator": "Kommandoer: PÅMINN ALLE mai | PÅMINN ALLE mai BRUKER <navn> | PÅMINN ALLE mai "
                        "ARBEIDSLEDER <navn> | PÅMINN <navn eller mobil> mai | STATUS mai "
                        "[KLAR|AVSLÅTT|MANGLER MOBIL|ALLE] | STOPP | START",
    "help.coordinator.narrow": ". STATUS kan også avgrenses med BRUKER <navn> og/eller ARBEIDSLEDER <navn>.",
    "not_yours": "Den kommandoen kan bare koordinatorer og arbeidsledere bruke. Du kan svare OK, STOPP, START "
                 "eller HJELP.",
    "unknown.coordinator": "Det forsto jeg ikke.{did_you_mean} Skriv HJELP for alle kommandoer.",
    "assistant.ack": "Takk! Vi har notert at du har sett påminnelsen for {month}.",
    "assistant.nothing_to_ack": "Takk! Du har ingen påminnelse å bekrefte akkurat nå.",
    "assistant.stopped": "Påminnelsene er slått av. Svar START hvis du vil få dem igjen.",
    "assistant.started": "Påminnelsene er slått på igjen.",
    "assistant.help": "Svar OK når du har sett påminnelsen. STOPP slår av påminnelsene, START slår dem på igjen. "
                      "Spørsmål om vaktene dine? Kontakt koordinatoren din.",
    "assistant.forwarded": "Takk, meldingen din er sendt videre til koordinatoren din.",
    "assistant.unknown": "Det forsto jeg ikke.",
    "assistant.did_you_mean": " Mente du {suggestion}?",
    "assistant.write_help": " Skriv HJELP for hjelp.",
    "team.ack_header": "Har bekreftet påminnelsen:",
    "team.stopped": "{name} har slått av påminnelsene sine (STOPP).",
    "team.forwarded": "Melding fra {name}: {body}",
    "team.all_done": "Alle har registrert for {month}. 🎉",
    "team.failed": "Levering mislyktes: {name} {what}.",
    "team.failed.blocked": "har blokkert boten i Telegram; påminnelsene går som SMS",
    "team.failed.unsubscribed": "har meldt seg av SMS (STOP hos operatøren); påminnelsene er slått av",
    "team.failed.invalid_number": "har et ugyldig mobilnummer; rett det i fagsystemet",
    "team.failed.other": "kunne ikke nås ({reason})",
    "team.unconfirmed": "Usikker levering: {channel} ble avbrutt midt i sendingen, så vi vet ikke om påminnelsen "
                        "kom fram til disse. Den sendes ikke på nytt av seg selv; skriv PÅMINN <navn> om den trengs.",
    "channel.simulator": "simulatoren",
    "tg.filter.ready": "Klare",
    "tg.filter.off": "Slått av",
    "tg.filter.no_mobile": "Mangler mobil",
    "tg.filter.all": "Alle",
    "tg.remind_all": "Send påminnelse til alle",
    "tg.confirm": "Sende påminnelse til alle som er klare for {month}?",
    "tg.yes": "Ja, send",
    "tg.cancel": "Avbryt",
    # --- automatic rounds and escalation (handlers.auto_rounds)
    "auto.actor": "Den automatiske runden",
    "auto.summary": "Automatisk påminnelsesrunde etter planen:\n{summary}",
    "escalation.head": "Har fortsatt vakter igjen for {month} etter {times} påminnelser:",
    "escalation.person": "• {name}",
}

EN: dict[str, str] = {
    "reminder": "Hi! This is a reminder that you have shifts left to register/sign in {app} for {month}",
    "month.not_started": "{month} has not started yet. Choose a month that has begun, e.g. {example}.",
    "month.implicit": "No month given, so I took last month ({month}).",
    "month.without_year": "You wrote {name} without a year, so I took {month}.",
    "scope.recipient": "client {name}",
    "scope.supervisor": "supervisor {name}",
    "scope.person": "person {name}",
    "find.no_recipient": "None of your clients is called '{name}'.",
    "find.many_recipients": "Several clients match: {names}. Write the full name.",
    "find.no_supervisor": "No supervisor is called '{name}'.",
    "find.many_supervisors": "Several supervisors match: {names}. Write the full name.",
    "find.not_supervised": "{supervisor} is not the supervisor of {recipient}.",
    "find.no_person": "None of your assistants is called '{who}' or has that number.",
    "find.many_people": "Several people match '{who}': {options}. Write the full name or the mobile number.",
    "find.no_mobile": "no mobile",
    "find.deactivated": "{name} is no longer on the staff list (ended in the host system). No reminder sent.",
    # English reasons read after a count ("1 without a mobile number"), so they avoid verbs that agree.
    "reason.due": "ready",
    "reason.nothing_to_report": "with nothing left to report",
    "reason.reminders_off": "with reminders turned off",
    "reason.recipient_reminders_off": "working only for clients with reminders turned off",
    "reason.no_mobile": "without a mobile number",
    "reason.reminded_recently": "reminded in the last 2 hours",
    "reason.waiting": "has a reminder waiting to be sent",
    "status.part.waiting": "{n} waiting to be sent",
    "one.waiting": "No new reminder sent: {name} already has a reminder for {month} waiting to be sent.",
    "round.sent.one": "{n} reminder for {month}{scope} sent (SMS parts: {segments}).",
    "round.sent.other": "{n} reminders for {month}{scope} sent (SMS parts: {segments}).",
    "round.held": "Not sent: {held}.",
    "round.done": "Already reported everything: {n}.",
    "round.quiet": "Quiet hours: the texts go out at {time}.",
    "round.none.no_shifts": "0 reminders for {month}{scope} sent: nobody has shifts that month.",
    "round.none.all_done": "0 reminders for {month}{scope} sent: everyone with shifts that month has already "
                           "reported everything.",
    "round.none.one_reason.one": "0 reminders for {month}{scope} sent: nobody could be reminded ({n} {reason}).",
    "round.none.one_reason.other": "0 reminders for {month}{scope} sent: nobody could be reminded ({n} {reason}).",
    "round.none.mixed": "0 reminders for {month}{scope} sent: nobody with shifts left could be reminded.",
    "team.round": "{coordinator} sent reminders for {month}{scope}: {sent} sent.",
    "team.round.held": " Not sent: {held}.",
    "team.round.quiet": " Going out at {time} (quiet hours).",
    "one.sent": "Reminder for {month} sent to {name}{where}.{later}",
    "one.later": " It goes out at {time} (quiet hours).",
    "one.no_shifts": "{name} has no shifts in {month}.",
    "one.nothing_to_report": "No reminder sent: {name} has nothing left to report for {month}.",
    "one.reminders_off": "No reminder for {month} sent: {name} has reminders turned off.",
    "one.recipient_reminders_off": "No reminder for {month} sent: {name} only has shifts left at clients with "
                                   "reminders turned off.",
    "one.no_mobile": "No reminder for {month} sent: {name} has no mobile number.",
    "status.part.ready": "{n} ready",
    "status.part.recent": "{n} recently reminded",
    "status.part.off": "{n} off",
    "status.part.no_mobile": "{n} without mobile",
    "status.part.done": "{n} done",
    "status.list.ready": "Ready for a reminder ({n}):",
    "status.list.off": "With reminders off ({n}):",
    "status.list.no_mobile": "Without a mobile number ({n}):",
    "status.list.all": "Everyone with shifts ({n}):",
    "status.empty.ready": "Nobody is ready for a reminder.",
    "status.empty.off": "Nobody has reminders off.",
    "status.empty.no_mobile": "Everyone has a mobile number.",
    "status.empty.all": "Nobody has shifts that month.",
    "status.left.report": "{n} to register",
    "status.left.sign": "{n} to sign",
    "status.left.done": "done",
    "more": " …and {n} more",
    "malformed.remind": "Write who to remind, e.g. REMIND ALL may or REMIND Anna may.",
    "malformed.narrow": "I did not understand '{tail}'. Write e.g. REMIND ALL may CLIENT Rolf "
                        "or REMIND ALL may SUPERVISOR Lisa.",
    "malformed.status": "Unknown filter '{tail}'. Write STATUS may READY, OFF, NO MOBILE or ALL.",
    "suggest.remind_all": "REMIND ALL {month}",
    "suggest.stop": "STOP",
    "suggest.help": "HELP",
    "help.coordinator": "Commands: REMIND ALL may | REMIND ALL may CLIENT <name> | REMIND ALL may "
                        "SUPERVISOR <name> | REMIND <name or mobile> may | STATUS may "
                        "[READY|OFF|NO MOBILE|ALL] | STOP | START",
    "help.coordinator.narrow": ". STATUS also takes CLIENT <name> and/or SUPERVISOR <name>.",
    "not_yours": "Only coordinators and supervisors can use that command. You can reply OK, STOP, START or HELP.",
    "unknown.coordinator": "I did not understand that.{did_you_mean} Write HELP for all commands.",
    "assistant.ack": "Thanks! We have noted that you have seen the reminder for {month}.",
    "assistant.nothing_to_ack": "Thanks! You have no reminder to confirm right now.",
    "assistant.stopped": "Reminders are off. Reply START to get them again.",
    "assistant.started": "Reminders are on again.",
    "assistant.help": "Reply OK when you have seen the reminder. STOP turns reminders off, START turns them on "
                      "again. Questions about your shifts? Contact your coordinator.",
    "assistant.forwarded": "Thanks, your message has been passed on to your coordinator.",
    "assistant.unknown": "I did not understand that.",
    "assistant.did_you_mean": " Did you mean {suggestion}?",
    "assistant.write_help": " Write HELP for help.",
    "team.ack_header": "Confirmed the reminder:",
    "team.stopped": "{name} has turned their reminders off (STOP).",
    "team.forwarded": "Message from {name}: {body}",
    "team.all_done": "Everyone has reported for {month}. 🎉",
    "team.failed": "Delivery failed: {name} {what}.",
    "team.failed.blocked": "has blocked the bot in Telegram; reminders now go by SMS",
    "team.failed.unsubscribed": "has unsubscribed from SMS (STOP at the operator); reminders are off",
    "team.failed.invalid_number": "has an invalid mobile number; correct it in the host system",
    "team.failed.other": "could not be reached ({reason})",
    "team.unconfirmed": "Uncertain delivery: {channel} was cut off mid-send, so we do not know whether the "
                        "reminder reached these people. It is not resent by itself; write REMIND <name> if needed.",
    "channel.simulator": "the simulator",
    "tg.filter.ready": "Ready",
    "tg.filter.off": "Off",
    "tg.filter.no_mobile": "No mobile",
    "tg.filter.all": "All",
    "tg.remind_all": "Send reminder to all",
    "tg.confirm": "Send a reminder to everyone ready for {month}?",
    "tg.yes": "Yes, send",
    "tg.cancel": "Cancel",
    # --- automatic rounds and escalation (handlers.auto_rounds)
    "auto.actor": "The automatic round",
    "auto.summary": "Scheduled automatic reminder round:\n{summary}",
    "escalation.head": "Still have shifts left for {month} after {times} reminders:",
    "escalation.person": "• {name}",
}

CATALOGUE: dict[str, dict[str, str]] = {"sv": SV, "da": DA, "nb": NB, "en": EN}


def language(locale: str | None) -> str:
    """The catalogue language for an organisation's locale (``no`` and ``nb_NO`` are ``nb``; unknown is sv)."""
    if not locale:
        return "sv"
    base = locale.replace("-", "_").split("_")[0].lower()
    base = "nb" if base in ("no", "nn") else base
    return base if base in CATALOGUE else "sv"


def text(locale: str | None, key: str) -> str:
    """The raw format string for ``key`` in ``locale``, Swedish when that language lacks it."""
    return CATALOGUE[language(locale)].get(key) or SV[key]


def render(locale: str | None, key: str, **values) -> str:
    """``key`` in ``locale`` with ``values`` filled in (falls back to Swedish)."""
    return text(locale, key).format(**values)


@lru_cache(maxsize=8)
def _babel(locale: str) -> Locale:
    return Locale.parse(BABEL_LOCALE[locale])


def render_plural(locale: str | None, key: str, n: int, **values) -> str:
    """``key.one`` or ``key.other`` by Babel's plural rule for ``n``; ``n`` is passed on as ``{n}``."""
    lang = language(locale)
    form = _babel(lang).plural_form(n)
    chosen = f"{key}.{form}" if f"{key}.{form}" in CATALOGUE[lang] or f"{key}.{form}" in SV else f"{key}.other"
    return render(lang, chosen, n=n, **values)
